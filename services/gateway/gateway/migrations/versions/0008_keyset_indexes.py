"""keyset pages: the list indexes end with the id, in the list's order

`GET /api/v1/alerts`, `/webhooks/{id}/deliveries` (newest first, ties by id descending) and
`/admin/users` (oldest first, ties by id) read a page after a cursor `(created_at, id)` as one
index range; an offset page reads its rows in index order (no sort of every row).

Revision ID: 0008_keyset_indexes
Revises: 0007_webhooks_watchlists
Create Date: 2026-12-02 15:00:00
"""

from alembic import op

revision = "0008_keyset_indexes"
down_revision = "0007_webhooks_watchlists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_alerts_owner_created_id "
        "ON gateway.alerts (owner_id, created_at DESC, id DESC)"
    )
    op.execute("DROP INDEX IF EXISTS gateway.ix_alerts_owner_created")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_webhook_created_id "
        "ON gateway.webhook_deliveries (webhook_id, created_at DESC, id DESC)"
    )
    op.execute("DROP INDEX IF EXISTS gateway.ix_webhook_deliveries_webhook")
    op.execute("CREATE INDEX IF NOT EXISTS ix_users_created_id ON gateway.users (created_at, id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS gateway.ix_users_created_id")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_webhook "
        "ON gateway.webhook_deliveries (webhook_id, created_at DESC)"
    )
    op.execute("DROP INDEX IF EXISTS gateway.ix_webhook_deliveries_webhook_created_id")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_alerts_owner_created "
        "ON gateway.alerts (owner_id, created_at DESC)"
    )
    op.execute("DROP INDEX IF EXISTS gateway.ix_alerts_owner_created_id")
