"""Tables every service keeps in its own schema: outbox, inbox (processed events), dead letters,
and the broker epoch it last reconciled with."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB


def define_messaging_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("event_type", Text, nullable=False),
        Column("topic", Text, nullable=False),
        Column("partition_key", Text, nullable=False),
        Column("payload", Text, nullable=False),
        # The batch (or other aggregate) the event is about: lets an owner re-publish its events.
        Column("aggregate_id", Uuid, nullable=True),
        # W3C trace context of the writer (tracing on): the relay's publish continues its trace.
        Column("traceparent", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Column("publish_count", Integer, nullable=False, server_default=text("0")),
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
        Index("ix_outbox_aggregate", "aggregate_id"),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("consumer_group", Text, nullable=False),
        Column("topic", Text, nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("partition_key", Text, nullable=True),
        Column("payload", Text, nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("replayed_at", DateTime(timezone=True), nullable=True),
        # One row per failed record: a retried write after a failed publish adds nothing.
        UniqueConstraint("consumer_group", "topic", "partition", "offset"),
    )
    return outbox, inbox, dead_letters


def define_broker_epoch_table(metadata: MetaData) -> Table:
    """One row: the broker epoch (see av_shared.broker_epoch) this service last reconciled with.
    A service that finds another epoch on the broker, running or just started, reconciles."""
    return Table(
        "broker_epoch",
        metadata,
        Column("id", SmallInteger, primary_key=True),
        Column("epoch", Text, nullable=False),
        Column("seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
