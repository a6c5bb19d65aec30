"""analyses: quantity and note of the line, and its totals (engine 2026.12.5)

Rows stored before have one copy, no note, and no totals (their `result` has none either).

Revision ID: 0004_quantity_bands
Revises: 0003
Create Date: 2026-12-02 06:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004_quantity_bands'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column('analyses', sa.Column('quantity', sa.Integer(), server_default=sa.text('1'), nullable=False), schema='analysis')
    op.add_column('analyses', sa.Column('note', sa.Text(), nullable=True), schema='analysis')
    op.add_column('analyses', sa.Column('total_profit', sa.Numeric(14, 2), nullable=True), schema='analysis')
    op.add_column('analyses', sa.Column('total_cash_needed', sa.Numeric(14, 2), nullable=True), schema='analysis')
    op.add_column('analyses', sa.Column('days_to_sell_all', sa.Integer(), nullable=True), schema='analysis')


def downgrade() -> None:
    for column in ('days_to_sell_all', 'total_cash_needed', 'total_profit', 'note', 'quantity'):
        op.drop_column('analyses', column, schema='analysis')
