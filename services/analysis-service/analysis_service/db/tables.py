"""The `analysis` schema: work queue, analyses, market-data cache, Keepa token budget."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from av_shared.db import NULLABLE_JSONB
from av_shared.messaging_tables import define_broker_epoch_table, define_messaging_tables

SCHEMA = "analysis"
metadata = MetaData(schema=SCHEMA)

# A durable queue: a chunk waits here (for Keepa tokens, for a worker) without holding a
# Kafka partition, survives restarts, and is shared by every instance (SKIP LOCKED + lease).
work_chunks = Table(
    "work_chunks",
    metadata,
    Column("batch_id", Uuid, primary_key=True),
    Column("chunk_no", Integer, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("items", JSONB, nullable=False),
    Column("config", JSONB, nullable=False),
    Column("correlation_id", Text, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("status", Text, nullable=False, server_default="QUEUED"),  # QUEUED | DONE
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("completion", NULLABLE_JSONB, nullable=True),  # the ChunkAnalysed payload, to re-send
    Column("enqueued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("done_at", DateTime(timezone=True), nullable=True),
    # W3C trace context of the handler that queued it (tracing on): its processing continues it.
    Column("traceparent", Text, nullable=True),
    Index("ix_work_queued", "owner_id", "enqueued_at", postgresql_where=text("status = 'QUEUED'")),
)

# Round-robin between owners: the next chunk comes from the owner served longest ago.
owner_turns = Table(
    "owner_turns",
    metadata,
    Column("owner_id", Uuid, primary_key=True),
    Column("last_served_at", DateTime(timezone=True), nullable=False),
)

# Keepa tokens spent per seller per hour (the budget's settled reservations): a rolling day of
# it decides whether a seller has had their share (work_queue.WorkQueue.claim).
owner_token_usage = Table(
    "owner_token_usage",
    metadata,
    Column("owner_id", Uuid, primary_key=True),
    Column("hour_start", DateTime(timezone=True), primary_key=True),
    Column("tokens", BigInteger, nullable=False),
)

cancelled_batches = Table(
    "cancelled_batches",
    metadata,
    Column("batch_id", Uuid, primary_key=True),
    Column("cancelled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

analyses = Table(
    "analyses",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("batch_id", Uuid, nullable=True),  # None: an instant single-book analysis
    Column("item_no", Integer, nullable=True),
    Column("request_id", Text, nullable=True),  # Idempotency-Key of an instant analysis
    Column("identifier", Text, nullable=False),
    Column("asin", Text, nullable=True),
    Column("buy_cost", Numeric(10, 2), nullable=False),
    Column("condition", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("recommendation", Text, nullable=False),
    Column("sell_price", Numeric(10, 2), nullable=True),
    Column("profit", Numeric(10, 2), nullable=True),
    Column("roi_percent", Numeric(12, 2), nullable=True),
    Column("velocity_score", Integer, nullable=True),
    Column("sales_rank", Integer, nullable=True),
    Column("title", Text, nullable=True),
    # The line's copies and the seller's note; the totals over the copies (engine 2026.12.5).
    Column("quantity", Integer, nullable=False, server_default=text("1")),
    Column("note", Text, nullable=True),
    Column("total_profit", Numeric(14, 2), nullable=True),
    Column("total_cash_needed", Numeric(14, 2), nullable=True),
    Column("days_to_sell_all", Integer, nullable=True),
    Column("result", JSONB, nullable=False),  # the engine's whole answer (fees, reasons, ...)
    Column("config", JSONB, nullable=False),  # the strategy/config snapshot it used
    Column("market_snapshot_id", BigInteger, nullable=True),
    Column("engine_version", Text, nullable=False),
    Column("fee_schedule_id", Text, nullable=True),
    Column("processed_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("batch_id", "item_no", name="uq_analyses_batch_item"),
    UniqueConstraint("owner_id", "request_id", name="uq_analyses_owner_request"),
    Index("ix_analyses_owner_created", "owner_id", text("created_at DESC"), text("id DESC")),
    # Keyset pages (0005_keyset_indexes): (owner, key, id) ranges, read forwards or backwards.
    Index("ix_analyses_owner_roi_id", "owner_id", "roi_percent", "id"),
    Index("ix_analyses_owner_profit_id", "owner_id", "profit", "id"),
    Index("ix_analyses_owner_velocity_id", "owner_id", "velocity_score", "id"),
    Index("ix_analyses_owner_recommendation", "owner_id", "recommendation"),
    Index("ix_analyses_batch", "batch_id", "item_no"),
    # A batch's analyses newest first (0004_analyses_by_batch): the list's default order.
    Index("ix_analyses_batch_created", "batch_id", text("created_at DESC"), text("id DESC")),
    Index("ix_analyses_owner_asin", "owner_id", "asin"),  # a seller's books (0004_book_history)
)

item_failures = Table(
    "item_failures",
    metadata,
    Column("batch_id", Uuid, primary_key=True),
    Column("item_no", Integer, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("identifier", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Every product fetched from Keepa, kept over time: the cache (within the TTL) and the history.
market_snapshots = Table(
    "market_snapshots",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("asin", Text, nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("keepa_last_update", DateTime(timezone=True), nullable=True),
    Column("synthetic", Boolean, nullable=False, server_default=text("false")),
    Column("snapshot", JSONB, nullable=False),
    Index("ix_market_asin_fetched", "asin", text("fetched_at DESC")),
    Index("ix_market_fetched", "fetched_at"),
)

# One bounded copy per ASIN of the history Keepa returned (domain/book_history), replaced at each
# fetch: the book's chart and trends. `summary`: the latest snapshot's headline figures.
book_histories = Table(
    "book_histories",
    metadata,
    Column("asin", Text, primary_key=True),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    Column("keepa_as_of", DateTime(timezone=True), nullable=False),
    Column("title", Text, nullable=True),
    Column("market_snapshot_id", BigInteger, nullable=False),
    Column("summary", JSONB, nullable=False),
    Column("history", JSONB, nullable=False),
    Index("ix_book_histories_fetched", "fetched_at"),
)

identifier_lookups = Table(
    "identifier_lookups",
    metadata,
    Column("code", Text, primary_key=True),  # an ISBN-13/EAN resolved through Keepa's code lookup
    Column("asin", Text, nullable=True),  # None: Keepa knows no product for it
    Column("looked_up_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row: the Keepa account's token bucket, shared by every instance.
keepa_tokens = Table(
    "keepa_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("refill_rate_per_minute", Float, nullable=False),
    Column("max_tokens", Float, nullable=False),
    Column("in_flight", Float, nullable=False, server_default=text("0")),
    # Batch work yields while an instant analysis waits; a timestamp heals itself after a crash.
    Column("instant_waiting_until", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("tokens_spent_total", BigInteger, nullable=False, server_default=text("0")),
    Column("requests_total", BigInteger, nullable=False, server_default=text("0")),
)

outbox, inbox, dead_letters = define_messaging_tables(metadata)
broker_epoch = define_broker_epoch_table(metadata)
