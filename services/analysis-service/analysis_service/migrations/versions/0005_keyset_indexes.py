"""analyses: the owner's sort indexes end with the id (keyset pages of `GET /analyses`)

A page after a cursor `(key, id)` reads `(owner_id, key, id) > (owner, value, last id)` as one
index range, ascending or (backwards) descending; without the id in the index, the rows of a
key value were sorted on every page. Replaces ix_analyses_owner_{roi,profit,velocity}.

Revision ID: 0005_keyset_indexes
Revises: 0004_quantity_bands
Create Date: 2026-12-02 14:50:00
"""

from alembic import op

revision = "0005_keyset_indexes"
down_revision = "0004_quantity_bands"
branch_labels = None
depends_on = None

COLUMNS = {"roi": "roi_percent", "profit": "profit", "velocity": "velocity_score"}


def upgrade() -> None:
    for name, column in COLUMNS.items():
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_analyses_owner_{name}_id "
            f"ON analysis.analyses (owner_id, {column}, id)"
        )
        op.execute(f"DROP INDEX IF EXISTS analysis.ix_analyses_owner_{name}")


def downgrade() -> None:
    for name, column in COLUMNS.items():
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_analyses_owner_{name} "
            f"ON analysis.analyses (owner_id, {column})"
        )
        op.execute(f"DROP INDEX IF EXISTS analysis.ix_analyses_owner_{name}_id")
