"""outbox.traceparent: the W3C trace context of the handler that wrote the row (tracing on), so
the relay's publish continues its trace

Revision ID: 0004_outbox_traceparent
Revises: 0003
Create Date: 2026-12-02 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_outbox_traceparent"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True), schema="batch")


def downgrade() -> None:
    op.drop_column("outbox", "traceparent", schema="batch")
