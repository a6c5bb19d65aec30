"""JSON `null` in nullable JSONB columns becomes SQL NULL (the columns now store None as NULL,
and the handlers test `IS NULL`: a chunk recorded first by its completion was never filled in)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:00:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_COLUMNS = (("batches", "config"), ("batch_chunks", "payload"), ("batch_chunks", "failures"))


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.execute(f"UPDATE batch.{table} SET {column} = NULL "
                   f"WHERE jsonb_typeof({column}) = 'null'")


def downgrade() -> None:
    pass  # SQL NULL is what the older code meant too
