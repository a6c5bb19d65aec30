"""analyses: a batch's analyses newest first from an index (the analyses list of one batch)

`GET /analyses?batch_id=...` sorts by `created_at DESC, id DESC` by default: without this index
a page of a 100,000-line batch sorted every analysis of the batch.

Revision ID: 0004_analyses_by_batch
Revises: 0003
Create Date: 2026-12-02 06:40:00
"""

from alembic import op

revision = "0004_analyses_by_batch"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_analyses_batch_created "
        "ON analysis.analyses (batch_id, created_at DESC, id DESC)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS analysis.ix_analyses_batch_created")
