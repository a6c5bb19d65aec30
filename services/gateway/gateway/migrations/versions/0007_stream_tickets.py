"""Stream tickets: short-lived, single-use tickets a browser passes as `?ticket=` to the live
progress streams (EventSource and WebSocket cannot send an Authorization header)

Revision ID: 0007_stream_tickets
Revises: 0006
Create Date: 2026-12-02 06:30:00
"""
from alembic import op

revision = '0007_stream_tickets'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE gateway.stream_tickets (
            ticket_hash text PRIMARY KEY,
            user_id uuid NOT NULL REFERENCES gateway.users (id) ON DELETE CASCADE,
            batch_id uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX ix_stream_tickets_expires ON gateway.stream_tickets (expires_at)")


def downgrade() -> None:
    op.execute("DROP TABLE gateway.stream_tickets")
