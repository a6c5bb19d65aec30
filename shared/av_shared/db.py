"""Async SQLAlchemy engine and sessions for one service, bound to that service's schema."""

from __future__ import annotations

import asyncio
import logging

from pydantic_core import from_json, to_json
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .retry import Backoff

# A nullable JSON column: Python None is SQL NULL, so `IS NULL` finds it. (Plain JSONB stores
# None as the JSON value `null`, which `IS NULL` does not match.)
NULLABLE_JSONB = JSONB(none_as_null=True)

log = logging.getLogger(__name__)


def _json_text(value: object) -> str:
    """JSON columns written by pydantic's core too (the stored analyses: 8% of the analysis
    worker's time in the standard library's encoder). PostgreSQL parses what it stores, so only
    the values matter, not the spelling."""
    return to_json(value).decode()


def create_engine(database_url: str, *, schema: str, pool_size: int, app_name: str) -> AsyncEngine:
    return create_async_engine(
        database_url,
        # A restarted database leaves dead connections in the pool: test them before use.
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        # JSON columns decoded by pydantic's core (Rust): a page of 500 analyses spent a third
        # of its time in the standard library's decoder.
        json_deserializer=from_json,
        json_serializer=_json_text,
        connect_args={
            "server_settings": {"search_path": schema, "application_name": app_name},
            "timeout": 10,
            "command_timeout": 60,
        },
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def wait_for_database(engine: AsyncEngine, *, what: str = "PostgreSQL") -> None:
    """Services start in any order: wait, with backoff and a clear log line, for the database."""
    backoff = Backoff(base=0.5, cap=10.0)
    while True:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except Exception as exc:  # any failure to connect means "not yet"
            delay = backoff.next_delay()
            log.warning(
                "waiting for %s (%s); retrying in %.1fs", what, exc.__class__.__name__, delay
            )
            await asyncio.sleep(delay)


def raw_dsn(database_url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for asyncpg connections used outside the pool."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
