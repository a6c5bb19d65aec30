"""owner_token_usage: Keepa tokens spent per seller per hour (a seller's share of a rolling day)

Revision ID: 0004_owner_token_usage
Revises: 0003
Create Date: 2026-12-02 06:55:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004_owner_token_usage'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'owner_token_usage',
        sa.Column('owner_id', sa.Uuid(), primary_key=True),
        sa.Column('hour_start', sa.DateTime(timezone=True), primary_key=True),
        sa.Column('tokens', sa.BigInteger(), nullable=False),
        schema='analysis',
    )


def downgrade() -> None:
    op.drop_table('owner_token_usage', schema='analysis')
