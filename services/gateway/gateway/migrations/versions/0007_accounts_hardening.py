"""sign_in_failures (wrong passwords in a row per email and the lock they earned) and invites
(registration mode `invite`: single-use codes an admin issues)

Revision ID: 0007_accounts_hardening
Revises: 0006
Create Date: 2026-12-02 06:20:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0007_accounts_hardening'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sign_in_failures',
        sa.Column('email', sa.Text(), primary_key=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=False),
        schema='gateway',
    )
    op.create_index('ix_sign_in_failures_last_failed_at', 'sign_in_failures',
                    ['last_failed_at'], schema='gateway')
    op.create_table(
        'invites',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('code_hash', sa.Text(), nullable=False, unique=True),
        sa.Column('email', sa.Text(), nullable=True),
        sa.Column('created_by', sa.Uuid(), sa.ForeignKey('gateway.users.id'), nullable=True),
        sa.Column('max_items_per_day', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_by', sa.Uuid(), sa.ForeignKey('gateway.users.id'), nullable=True),
        schema='gateway',
    )


def downgrade() -> None:
    op.drop_table('invites', schema='gateway')
    op.drop_table('sign_in_failures', schema='gateway')
