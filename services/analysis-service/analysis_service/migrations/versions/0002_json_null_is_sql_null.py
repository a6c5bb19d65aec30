"""JSON `null` in nullable JSONB columns becomes SQL NULL (the columns now store None as NULL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:00:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE analysis.work_chunks SET completion = NULL "
               "WHERE jsonb_typeof(completion) = 'null'")


def downgrade() -> None:
    pass  # SQL NULL is what the older code meant too
