"""The `gateway` schema: accounts and credentials, accepted submissions, messaging tables."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from av_shared.messaging_tables import define_messaging_tables

SCHEMA = "gateway"
metadata = MetaData(schema=SCHEMA)

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False, server_default="user"),  # user | admin
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Every accepted batch: the gateway re-publishes it until the batch service acknowledges it.
submissions = Table(
    "submissions",
    metadata,
    Column("batch_id", Uuid, primary_key=True),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("items_total", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("config", JSONB, nullable=False),
    Column("correlation_id", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("republish_count", Integer, nullable=False, server_default=text("0")),
    Column("next_republish_at", DateTime(timezone=True), nullable=True),
    Index("ix_submissions_owner_created", "owner_id", text("created_at DESC")),
    Index("ix_submissions_unacked", "next_republish_at",
          postgresql_where=text("acknowledged_at IS NULL")),
)

outbox, inbox, dead_letters = define_messaging_tables(metadata)
