"""outbox.traceparent and work_chunks.traceparent: the W3C trace context of the writer (tracing
on), so the relay's publish and a queued chunk's processing continue its trace

Revision ID: 0005_traceparent
Revises: 0004_analyses_by_batch
Create Date: 2026-12-02 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_traceparent"
down_revision = "0004_analyses_by_batch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True), schema="analysis")
    op.add_column(
        "work_chunks", sa.Column("traceparent", sa.Text(), nullable=True), schema="analysis"
    )


def downgrade() -> None:
    op.drop_column("work_chunks", "traceparent", schema="analysis")
    op.drop_column("outbox", "traceparent", schema="analysis")
