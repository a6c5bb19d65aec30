"""instant_requests: Idempotency-Keys of charged instant analyses (a replay is not charged again)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('instant_requests',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['gateway.users.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'idempotency_key'),
    schema='gateway'
    )


def downgrade() -> None:
    op.drop_table('instant_requests', schema='gateway')
