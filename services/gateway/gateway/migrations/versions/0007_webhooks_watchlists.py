"""Webhooks (endpoints, the deliveries outbox, attempts), watchlists and their items, schedules,
their runs, and alerts

Revision ID: 0007_webhooks_watchlists
Revises: 0006
Create Date: 2026-12-02 06:15:00
"""
from alembic import op

revision = '0007_webhooks_watchlists'
down_revision = '0006'
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE gateway.webhooks (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES gateway.users (id),
    url text NOT NULL,
    events text[] NOT NULL,
    secret text NOT NULL,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX ix_webhooks_owner_id ON gateway.webhooks (owner_id);

CREATE TABLE gateway.webhook_deliveries (
    id uuid PRIMARY KEY,
    webhook_id uuid NOT NULL REFERENCES gateway.webhooks (id),
    event_key text NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,
    leased_by text,
    delivered_at timestamptz,
    last_error text,
    redelivery_of uuid
);
CREATE UNIQUE INDEX ux_webhook_deliveries_event ON gateway.webhook_deliveries
    (webhook_id, event_key) WHERE redelivery_of IS NULL;
CREATE INDEX ix_webhook_deliveries_due ON gateway.webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX ix_webhook_deliveries_webhook ON gateway.webhook_deliveries
    (webhook_id, created_at DESC);

CREATE TABLE gateway.webhook_attempts (
    id bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES gateway.webhook_deliveries (id) ON DELETE CASCADE,
    attempt_no integer NOT NULL,
    started_at timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    status_code integer,
    error text,
    response_body text,
    instance text NOT NULL
);
CREATE INDEX ix_webhook_attempts_delivery_id ON gateway.webhook_attempts (delivery_id);

CREATE TABLE gateway.watchlists (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES gateway.users (id),
    name text NOT NULL,
    interval_minutes integer NOT NULL,
    paused boolean NOT NULL DEFAULT false,
    next_run_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_watchlists_owner_id ON gateway.watchlists (owner_id);

CREATE TABLE gateway.watchlist_items (
    id uuid PRIMARY KEY,
    watchlist_id uuid NOT NULL REFERENCES gateway.watchlists (id) ON DELETE CASCADE,
    identifier text NOT NULL,
    condition text NOT NULL,
    buy_cost numeric(12, 2) NOT NULL,
    quantity integer NOT NULL DEFAULT 1,
    alert_on jsonb NOT NULL,
    last_analysis jsonb,
    last_analysed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_watchlist_items_watchlist_id ON gateway.watchlist_items (watchlist_id);

CREATE TABLE gateway.schedules (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES gateway.users (id),
    name text NOT NULL,
    lines jsonb NOT NULL,
    cron text,
    interval_minutes integer,
    config_version integer,
    paused boolean NOT NULL DEFAULT false,
    next_run_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_schedules_owner_id ON gateway.schedules (owner_id);

CREATE TABLE gateway.scheduled_runs (
    id uuid PRIMARY KEY,
    watchlist_id uuid REFERENCES gateway.watchlists (id) ON DELETE CASCADE,
    schedule_id uuid REFERENCES gateway.schedules (id) ON DELETE CASCADE,
    due_at timestamptz NOT NULL,
    batch_id uuid UNIQUE,
    item_ids jsonb,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    evaluated_at timestamptz
);
CREATE UNIQUE INDEX ux_scheduled_runs_watchlist ON gateway.scheduled_runs (watchlist_id, due_at);
CREATE UNIQUE INDEX ux_scheduled_runs_schedule ON gateway.scheduled_runs (schedule_id, due_at);

CREATE TABLE gateway.alerts (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES gateway.users (id),
    watchlist_id uuid NOT NULL REFERENCES gateway.watchlists (id) ON DELETE CASCADE,
    item_id uuid NOT NULL REFERENCES gateway.watchlist_items (id) ON DELETE CASCADE,
    run_id uuid NOT NULL REFERENCES gateway.scheduled_runs (id) ON DELETE CASCADE,
    kind text NOT NULL,
    value numeric(14, 2),
    before jsonb,
    after jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ux_alerts_run_item_kind ON gateway.alerts (run_id, item_id, kind);
CREATE INDEX ix_alerts_owner_created ON gateway.alerts (owner_id, created_at DESC);
"""
DROPPED = ["alerts", "scheduled_runs", "schedules", "watchlist_items", "watchlists",
           "webhook_attempts", "webhook_deliveries", "webhooks"]


def upgrade() -> None:
    # One statement at a time: asyncpg prepares each.
    for statement in TABLES.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    for table in DROPPED:
        op.execute(f"DROP TABLE IF EXISTS gateway.{table}")
