"""The `batch` schema: batches, their items and chunk manifest, plus messaging tables."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    Uuid,
    func,
    text,
)

from av_shared.db import NULLABLE_JSONB
from av_shared.messaging_tables import define_broker_epoch_table, define_messaging_tables

SCHEMA = "batch"
metadata = MetaData(schema=SCHEMA)

batches = Table(
    "batches",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False),
    # False while only chunks or completions have arrived (events come in any order).
    Column("header_received", Boolean, nullable=False, server_default=text("false")),
    Column("items_total", Integer, nullable=False, server_default=text("0")),
    Column("chunk_count", Integer, nullable=False, server_default=text("0")),
    Column("chunks_received", Integer, nullable=False, server_default=text("0")),
    Column("chunks_done", Integer, nullable=False, server_default=text("0")),
    Column("items_processed", Integer, nullable=False, server_default=text("0")),
    Column("items_failed", Integer, nullable=False, server_default=text("0")),
    Column("config", NULLABLE_JSONB, nullable=True),
    Column("correlation_id", Text, nullable=True),
    Column("acknowledged", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_batches_owner_created", "owner_id", text("created_at DESC"), text("id DESC")),
    Index("ix_batches_created", text("created_at DESC"), text("id DESC")),
    Index("ix_batches_status", "status"),
)

batch_chunks = Table(
    "batch_chunks",
    metadata,
    Column("batch_id", Uuid, ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True),
    Column("chunk_no", Integer, primary_key=True),
    Column("status", Text, nullable=False),  # WAITING | DONE
    Column("item_count", Integer, nullable=False, server_default=text("0")),
    Column("items_succeeded", Integer, nullable=False, server_default=text("0")),
    Column("items_failed", Integer, nullable=False, server_default=text("0")),
    Column("payload", NULLABLE_JSONB, nullable=True),  # the chunk's items, for re-dispatch
    Column("failures", NULLABLE_JSONB, nullable=True),  # [{item_no, reason}] from the completion
    Column("dispatches", Integer, nullable=False, server_default=text("1")),
    Column("deadline_at", DateTime(timezone=True), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Index("ix_chunks_waiting_deadline", "deadline_at", postgresql_where=text("status = 'WAITING'")),
)

batch_items = Table(
    "batch_items",
    metadata,
    Column("batch_id", Uuid, ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True),
    Column("item_no", Integer, primary_key=True),
    Column("chunk_no", Integer, nullable=False),
    Column("identifier", Text, nullable=False),
    Column("asin", Text, nullable=True),
    Column("buy_cost", Numeric(10, 2), nullable=False),
    Column("condition", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="PENDING"),  # PENDING|DONE|FAILED
    Column("failure_reason", Text, nullable=True),
)

outbox, inbox, dead_letters = define_messaging_tables(metadata)
broker_epoch = define_broker_epoch_table(metadata)
