"""The `gateway` schema: accounts and credentials, accepted submissions, messaging tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
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

from av_shared.messaging_tables import define_broker_epoch_table, define_messaging_tables

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
    # Quotas an admin set for this seller; NULL: the gateway's default setting.
    Column("max_items_per_day", Integer, nullable=True),
    Column("max_open_batches", Integer, nullable=True),
    Index("ix_users_created_id", "created_at", "id"),  # the admin's list (0008_keyset_indexes)
)

# A login: its refresh tokens rotate, its access tokens carry its id (`sid`). Revoking it (logout,
# revoke, or a rotated refresh token used again) ends every token of the login at once.
auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoke_reason", Text, nullable=True),
)

# Refresh tokens, stored as SHA-256 of the token; each is used once (then `used_at` is set).
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column(
        "session_id",
        Uuid,
        ForeignKey("auth_sessions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
)

# API keys for scripts: shown once, stored as SHA-256; `prefix` lets the seller recognise one.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),  # NULL: until deleted
)

# Every version of a seller's business config (strategy, seller costs, batch defaults).
business_configs = Table(
    "business_configs",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Requests per subject (a user, or a client IP on the auth endpoints) per fixed window.
rate_limit_counters = Table(
    "rate_limit_counters",
    metadata,
    Column("subject", Text, primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("hits", BigInteger, nullable=False),
    Index("ix_rate_limit_counters_window", "window_start"),
)

# Wrong passwords in a row per email (known or not: the answer must not tell), and the lock they
# earned (gateway.domain.sign_in.BackoffPolicy). A correct password deletes the row.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("email", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True), nullable=False),
    Index("ix_sign_in_failures_last_failed_at", "last_failed_at"),
)

# Invite codes (registration mode `invite`): a digest of the code, single use, short-lived.
invites = Table(
    "invites",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("code_hash", Text, nullable=False, unique=True),
    Column("email", Text, nullable=True),  # only this address may spend it
    Column("created_by", Uuid, ForeignKey("users.id"), nullable=True),
    Column("max_items_per_day", Integer, nullable=True),  # the new account's quota
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("used_by", Uuid, ForeignKey("users.id"), nullable=True),
)

# Items a seller submitted per UTC day (batch lines and instant analyses), for the daily quota.
daily_usage = Table(
    "daily_usage",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("item_count", BigInteger, nullable=False),
)

# Idempotency-Keys of instant analyses that were charged to the daily quota: a replay of the
# same key is answered with the stored analysis and is not charged again. A row exists exactly
# while its item is counted (a failed analysis deletes it with the refund).
instant_requests = Table(
    "instant_requests",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id"), primary_key=True),
    Column("idempotency_key", Text, primary_key=True),
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
    # Set from the batch service's terminal BatchStatusChanged: the batch is no longer open.
    Column("final_status", Text, nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_submissions_owner_created", "owner_id", text("created_at DESC")),
    Index(
        "ix_submissions_unacked",
        "next_republish_at",
        postgresql_where=text("acknowledged_at IS NULL"),
    ),
    Index("ix_submissions_owner_open", "owner_id", postgresql_where=text("finished_at IS NULL")),
)

outbox, inbox, dead_letters = define_messaging_tables(metadata)
broker_epoch = define_broker_epoch_table(metadata)
