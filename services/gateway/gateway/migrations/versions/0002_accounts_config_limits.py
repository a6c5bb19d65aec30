"""logins and refresh tokens, API keys, business config versions, rate limits and quotas

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('max_items_per_day', sa.Integer(), nullable=True),
                  schema='gateway')
    op.add_column('users', sa.Column('max_open_batches', sa.Integer(), nullable=True),
                  schema='gateway')
    op.add_column('submissions', sa.Column('final_status', sa.Text(), nullable=True),
                  schema='gateway')
    op.add_column('submissions', sa.Column('finished_at', sa.DateTime(timezone=True),
                                           nullable=True), schema='gateway')
    op.create_index('ix_submissions_owner_open', 'submissions', ['owner_id'], unique=False,
                    schema='gateway', postgresql_where=sa.text('finished_at IS NULL'))

    op.create_table('auth_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['gateway.users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='gateway'
    )
    op.create_index(op.f('ix_gateway_auth_sessions_user_id'), 'auth_sessions', ['user_id'], unique=False,
                    schema='gateway')
    op.create_table('refresh_tokens',
    sa.Column('token_hash', sa.Text(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['gateway.auth_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash'),
    schema='gateway'
    )
    op.create_index(op.f('ix_gateway_refresh_tokens_session_id'), 'refresh_tokens', ['session_id'],
                    unique=False, schema='gateway')
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('prefix', sa.Text(), nullable=False),
    sa.Column('key_hash', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['gateway.users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    schema='gateway'
    )
    op.create_index(op.f('ix_gateway_api_keys_user_id'), 'api_keys', ['user_id'], unique=False,
                    schema='gateway')
    op.create_table('business_configs',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['gateway.users.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'version'),
    schema='gateway'
    )
    op.create_table('rate_limit_counters',
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hits', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('subject', 'window_start'),
    schema='gateway'
    )
    op.create_index('ix_rate_limit_counters_window', 'rate_limit_counters', ['window_start'],
                    unique=False, schema='gateway')
    op.create_table('daily_usage',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('item_count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['gateway.users.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'day'),
    schema='gateway'
    )


def downgrade() -> None:
    op.drop_table('daily_usage', schema='gateway')
    op.drop_index('ix_rate_limit_counters_window', table_name='rate_limit_counters',
                  schema='gateway')
    op.drop_table('rate_limit_counters', schema='gateway')
    op.drop_table('business_configs', schema='gateway')
    op.drop_index(op.f('ix_gateway_api_keys_user_id'), table_name='api_keys', schema='gateway')
    op.drop_table('api_keys', schema='gateway')
    op.drop_index(op.f('ix_gateway_refresh_tokens_session_id'), table_name='refresh_tokens',
                  schema='gateway')
    op.drop_table('refresh_tokens', schema='gateway')
    op.drop_index(op.f('ix_gateway_auth_sessions_user_id'), table_name='auth_sessions', schema='gateway')
    op.drop_table('auth_sessions', schema='gateway')
    op.drop_index('ix_submissions_owner_open', table_name='submissions', schema='gateway',
                  postgresql_where=sa.text('finished_at IS NULL'))
    op.drop_column('submissions', 'finished_at', schema='gateway')
    op.drop_column('submissions', 'final_status', schema='gateway')
    op.drop_column('users', 'max_open_batches', schema='gateway')
    op.drop_column('users', 'max_items_per_day', schema='gateway')
