"""api_keys.expires_at: an API key may end by itself (NULL: it works until it is deleted)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
                  schema='gateway')


def downgrade() -> None:
    op.drop_column('api_keys', 'expires_at', schema='gateway')
