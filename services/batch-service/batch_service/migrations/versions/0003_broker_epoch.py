"""broker_epoch: the broker epoch this service last reconciled with (a broker that lost its log
is noticed at once, also by a service that was down meanwhile)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 03:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broker_epoch',
    sa.Column('id', sa.SmallInteger(), nullable=False),
    sa.Column('epoch', sa.Text(), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='batch'
    )


def downgrade() -> None:
    op.drop_table('broker_epoch', schema='batch')
