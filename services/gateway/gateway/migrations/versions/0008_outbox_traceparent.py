"""outbox.traceparent: the W3C trace context of the request that wrote the row (tracing on), so
the relay's publish continues the request's trace

Revision ID: 0008_outbox_traceparent
Revises: 0007_accounts_hardening
Create Date: 2026-12-02 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_outbox_traceparent"
down_revision = "0007_accounts_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True), schema="gateway")


def downgrade() -> None:
    op.drop_column("outbox", "traceparent", schema="gateway")
