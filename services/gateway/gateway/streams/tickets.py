"""Stream tickets: what a browser passes as `?ticket=` (EventSource and WebSocket cannot send an
Authorization header; an access token in a URL would land in logs and histories).

A ticket is 256 random bits, stored as SHA-256 in the gateway's schema (so every instance can
redeem it), bound to its seller and optionally to one batch, valid for STREAM_TICKET_SECONDS,
and spent by its first use: the redeeming DELETE ... RETURNING is atomic, so of two concurrent
uses exactly one wins.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    Table,
    Text,
    Uuid,
    delete,
    func,
    insert,
    or_,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.tables import SCHEMA
from ..security import token_digest

TICKET_PREFIX = "avt_"

# Migration 0007_stream_tickets creates it; defined here, beside the only code that uses it.
stream_tickets = Table(
    "stream_tickets",
    MetaData(schema=SCHEMA),
    Column("ticket_hash", Text, primary_key=True),
    Column("user_id", Uuid, nullable=False),
    Column("batch_id", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class IssuedTicket:
    ticket: str
    expires_at: datetime


@dataclass(frozen=True)
class RedeemedTicket:
    user_id: uuid.UUID
    batch_id: uuid.UUID | None


async def issue_ticket(
    session: AsyncSession, user_id: uuid.UUID, batch_id: uuid.UUID | None, lifetime_seconds: float
) -> IssuedTicket:
    """A new ticket (committed by the caller). Expired tickets are swept here: issuing is rare
    next to streaming, and the index on expires_at makes the sweep cheap."""
    await session.execute(delete(stream_tickets).where(stream_tickets.c.expires_at < func.now()))
    ticket = TICKET_PREFIX + secrets.token_urlsafe(32)
    expires_at = await session.scalar(
        insert(stream_tickets)
        .values(
            ticket_hash=token_digest(ticket),
            user_id=user_id,
            batch_id=batch_id,
            expires_at=func.now()
            + text(":lifetime * interval '1 second'").bindparams(lifetime=lifetime_seconds),
        )
        .returning(stream_tickets.c.expires_at)
    )
    assert expires_at is not None
    return IssuedTicket(ticket, expires_at)


async def redeem_ticket(
    session: AsyncSession, ticket: str, batch_id: uuid.UUID
) -> RedeemedTicket | None:
    """The ticket's seller, spending it on a stream of `batch_id`; None when unknown, spent,
    expired or bound to another batch (which leaves it unspent)."""
    row = (
        await session.execute(
            delete(stream_tickets)
            .where(
                stream_tickets.c.ticket_hash == token_digest(ticket),
                stream_tickets.c.expires_at > func.clock_timestamp(),
                or_(stream_tickets.c.batch_id.is_(None), stream_tickets.c.batch_id == batch_id),
            )
            .returning(stream_tickets.c.user_id, stream_tickets.c.batch_id)
        )
    ).first()
    await session.commit()
    return None if row is None else RedeemedTicket(row.user_id, row.batch_id)


def carries_ticket(path: str, query_string: bytes) -> bool:
    """A request to a stream that authenticates with `?ticket=` (the request guard leaves it to
    the route, which redeems the ticket)."""
    return (
        path.startswith("/api/v1/batches/")
        and path.endswith(("/events", "/ws"))
        and any(p.split(b"=", 1)[0] == b"ticket" for p in query_string.split(b"&"))
    )
