"""Webhook tables (migration 0007_webhooks_watchlists): endpoints, the deliveries outbox and
every attempt of a delivery."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from ..db.tables import metadata

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    # Needed in the clear to sign; never answered after its creation.
    Column("secret", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
)

# The outbox of webhooks: a row is written in the transaction of the fact it tells of, so it is
# never lost; (webhook_id, event_key) makes the enqueue idempotent (a redelivered event adds
# nothing). A manual redelivery is a new row (`redelivery_of`) with its own id.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("webhook_id", Uuid, ForeignKey("webhooks.id"), nullable=False),
    Column("event_key", Text, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("leased_until", DateTime(timezone=True), nullable=True),
    Column("leased_by", Text, nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("redelivery_of", Uuid, nullable=True),
    Index(
        "ux_webhook_deliveries_event",
        "webhook_id",
        "event_key",
        unique=True,
        postgresql_where=text("redelivery_of IS NULL"),
    ),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
    Index(  # the deliveries list's order (0008_keyset_indexes)
        "ix_webhook_deliveries_webhook_created_id",
        "webhook_id",
        text("created_at DESC"),
        text("id DESC"),
    ),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        Uuid,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attempt_no", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("instance", Text, nullable=False),
)
