"""Watchlist, schedule, run and alert tables (migration 0007_webhooks_watchlists)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from ..db.tables import metadata

watchlists = Table(
    "watchlists",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("interval_minutes", Integer, nullable=False),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

watchlist_items = Table(
    "watchlist_items",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "watchlist_id",
        Uuid,
        ForeignKey("watchlists.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("identifier", Text, nullable=False),
    Column("condition", Text, nullable=False),
    Column("buy_cost", Numeric(12, 2), nullable=False),
    Column("quantity", Integer, nullable=False, server_default=text("1")),
    Column("alert_on", JSONB, nullable=False),  # [{"kind": ..., "value": ...}]
    Column("last_analysis", JSONB, nullable=True),  # what the next run is compared with
    Column("last_analysed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("cron", Text, nullable=True),
    Column("interval_minutes", Integer, nullable=True),
    Column("config_version", Integer, nullable=True),  # NULL: the owner's latest config
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One run of a watchlist or a schedule: written with its batch's submission, in one transaction
# with the advance of `next_run_at`, and unique per (list, due time): a restart or a second
# instance cannot run one due time twice.
scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("watchlist_id", Uuid, ForeignKey("watchlists.id", ondelete="CASCADE"), nullable=True),
    Column("schedule_id", Uuid, ForeignKey("schedules.id", ondelete="CASCADE"), nullable=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("batch_id", Uuid, nullable=True, unique=True),
    Column("item_ids", JSONB, nullable=True),  # watchlist runs: the item of each batch line
    Column("error", Text, nullable=True),  # not submitted (e.g. a quota), and why
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("evaluated_at", DateTime(timezone=True), nullable=True),
    Index("ux_scheduled_runs_watchlist", "watchlist_id", "due_at", unique=True),
    Index("ux_scheduled_runs_schedule", "schedule_id", "due_at", unique=True),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("watchlist_id", Uuid, ForeignKey("watchlists.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", Uuid, ForeignKey("watchlist_items.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", Uuid, ForeignKey("scheduled_runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("value", Numeric(14, 2), nullable=True),
    Column("before", JSONB, nullable=True),
    Column("after", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ux_alerts_run_item_kind", "run_id", "item_id", "kind", unique=True),
    # The alerts list's order (0008_keyset_indexes): keyset pages are one range of it.
    Index("ix_alerts_owner_created_id", "owner_id", text("created_at DESC"), text("id DESC")),
)
