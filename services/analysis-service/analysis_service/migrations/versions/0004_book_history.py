"""book_histories: one bounded copy per ASIN of the price/rank history Keepa returned (the book
endpoints' series, chart and trends); an index of each seller's analysed books

Revision ID: 0004_book_history
Revises: 0003
Create Date: 2026-12-02 06:10:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004_book_history'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('book_histories',
    sa.Column('asin', sa.Text(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('keepa_as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('market_snapshot_id', sa.BigInteger(), nullable=False),
    sa.Column('summary', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('history', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('asin'),
    schema='analysis'
    )
    op.create_index('ix_book_histories_fetched', 'book_histories', ['fetched_at'], unique=False, schema='analysis')
    op.create_index('ix_analyses_owner_asin', 'analyses', ['owner_id', 'asin'], unique=False, schema='analysis')


def downgrade() -> None:
    op.drop_index('ix_analyses_owner_asin', table_name='analyses', schema='analysis')
    op.drop_index('ix_book_histories_fetched', table_name='book_histories', schema='analysis')
    op.drop_table('book_histories', schema='analysis')
