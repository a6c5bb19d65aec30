"""The Keepa token bucket, shared by every analysis-service instance through the `analysis` schema.

Before a request, a worker reserves its token cost atomically (row lock); if the bucket cannot
cover it, the worker sleeps until the refill can, instead of spending tokens Keepa would refuse.
After every answer the bucket is re-synchronised with Keepa's `tokensLeft` (see `sync`).
Instant analyses are served first: while one waits, batch reservations are refused, and batch
work may not dip into the reserve held back for them.

Nothing about the bucket is assumed from the refill rate: a simulator reports its rate per *real*
minute, so "a full bucket is 60 minutes of refill" would be off by its time scale. The capacity
is learned instead, as the fullest bucket Keepa has shown (tokens left + tokens just consumed),
and until Keepa has answered once, requests go one at a time to find out.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.tables import keepa_tokens, owner_token_usage
from .keepa_client import TokenStatus

ROW_ID = 1
# Reservations not settled within this time belonged to a crashed worker: forget them.
IN_FLIGHT_EXPIRY_SECONDS = 120.0
UNKNOWN_POLL_SECONDS = 0.2  # while the one probe of an unknown bucket is out
INSTANT_FIRST_POLL_SECONDS = 0.5
BATCH_TURN_LOCK = 0x4B656570610001  # advisory lock key of the line batch reservations wait in
# The seller whose batch work the current task spends tokens on (set by the chunk processor):
# settled reservations are booked to them, for their share of a rolling day (work_queue).
spending_owner: ContextVar[uuid.UUID | None] = ContextVar("spending_owner", default=None)
# The database's clock, read when the row is locked: every instance measures the refill with the
# same clock, so one running ahead of another cannot conjure refill that never happened.
DB_NOW = func.clock_timestamp().label("db_now")


@dataclass(frozen=True)
class BucketState:
    tokens: float
    refill_rate_per_minute: float
    max_tokens: float
    instant_waiting: bool


@dataclass
class Grant:
    """Tokens reserved for one Keepa request."""

    cost: int
    alone: bool  # no other request was in flight when this one was reserved
    sequence: int  # requests_total once this one was counted


def refilled(tokens: float, rate_per_minute: float, cap: float, elapsed_seconds: float) -> float:
    return min(max(cap, tokens), tokens + max(0.0, elapsed_seconds) * rate_per_minute / 60.0)


def charged(
    tokens: float, cost: int, rate_per_minute: float, cap: float, latency_seconds: float
) -> float:
    """The estimate once `cost` is reserved, `tokens` being the estimate now.

    Keepa charges the request only when it arrives, `latency_seconds` later. A bucket that is
    full now (or fills up meanwhile) cannot hold the refill of that time, yet the estimate would
    count it from now on: so the charge is booked at its arrival, with the refill a full bucket
    loses until then, and taken back to now. Far below the cap, this is simply `tokens - cost`.
    """
    refill = max(0.0, latency_seconds) * rate_per_minute / 60.0
    return min(tokens + refill, max(cap, tokens)) - cost - refill


def seconds_until(needed: float, tokens: float, rate_per_minute: float) -> float:
    if tokens >= needed:
        return 0.0
    return (needed - tokens) * 60.0 / max(rate_per_minute, 0.001)


class TokenBudget:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        instant_reserve: int,
        initial_rate_per_minute: float = 20.0,
        charge_latency_seconds: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._instant_reserve = instant_reserve
        self._charge_latency = charge_latency_seconds
        self._initial_rate = initial_rate_per_minute

    async def ensure_row(self) -> None:
        # max_tokens 0 means "not heard from Keepa yet" (see try_reserve).
        async with self._sessions() as session, session.begin():
            await session.execute(
                insert(keepa_tokens)
                .values(
                    id=ROW_ID,
                    tokens=0.0,
                    refill_rate_per_minute=self._initial_rate,
                    max_tokens=0.0,
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )

    async def try_reserve(self, cost: int, *, instant: bool) -> float | Grant:
        """Take `cost` tokens now and return the grant, or nothing and the seconds to wait."""
        async with self._sessions() as session, session.begin():
            row = await self._locked(session)
            now = row.db_now
            elapsed = (now - row.updated_at).total_seconds()
            in_flight = 0.0 if elapsed > IN_FLIGHT_EXPIRY_SECONDS else row.in_flight
            tokens = refilled(row.tokens, row.refill_rate_per_minute, row.max_tokens, elapsed)
            if row.max_tokens <= 0:
                # Unknown bucket: a single probe at a time, so N workers starting together do
                # not send N requests against a bucket that may hold one request's worth.
                if in_flight > 0:
                    return UNKNOWN_POLL_SECONDS
            else:
                if not instant and row.instant_waiting_until and row.instant_waiting_until > now:
                    return INSTANT_FIRST_POLL_SECONDS  # an instant analysis waits: it goes first
                floor = 0 if instant else self._instant_reserve
                # A request dearer than the whole bucket goes at a full bucket: Keepa serves it
                # if its bucket is bigger than we learned, else the client waits out the 429.
                need = min(float(cost + floor), row.max_tokens)
                if tokens < need:
                    return max(seconds_until(need, tokens, row.refill_rate_per_minute), 0.05)
            values: dict[str, Any] = {
                "tokens": charged(
                    tokens, cost, row.refill_rate_per_minute, row.max_tokens, self._charge_latency
                ),
                "in_flight": in_flight + cost,
                "updated_at": now,
                "tokens_spent_total": keepa_tokens.c.tokens_spent_total + cost,
                "requests_total": keepa_tokens.c.requests_total + 1,
            }
            if instant:
                values["instant_waiting_until"] = None  # served: batch work may go on at once
            await session.execute(
                update(keepa_tokens).where(keepa_tokens.c.id == ROW_ID).values(**values)
            )
            return Grant(cost=cost, alone=in_flight < 0.5, sequence=row.requests_total + 1)

    @contextlib.asynccontextmanager
    async def reservation(self, cost: int, *, instant: bool) -> AsyncIterator[Grant]:
        """Wait until `cost` tokens are reserved; settle the in-flight count afterwards."""
        if instant:
            granted = await self._wait(cost, instant=True)
        else:
            async with self._batch_turn():
                granted = await self._wait(cost, instant=False)
        try:
            yield granted
        finally:
            with contextlib.suppress(Exception):
                await self._settle(granted)

    async def _wait(self, cost: int, *, instant: bool) -> Grant:
        while not isinstance(granted := await self.try_reserve(cost, instant=instant), Grant):
            wait = min(granted, 5.0)
            if instant:
                await self._mark_instant_waiting(seconds=wait + 2.0)
            await asyncio.sleep(wait)
        return granted

    @contextlib.asynccontextmanager
    async def _batch_turn(self) -> AsyncIterator[None]:
        """Batch reservations wait in line, first come first served across every instance
        (PostgreSQL queues the waiters of a lock in order). Racing for each refill instead, a
        small batch's chunk could lose to the chunks of a big one again and again; in line, it
        waits for the chunks already waiting at most, however big their batches are."""
        async with self._sessions() as session:
            conn = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            try:
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": BATCH_TURN_LOCK})
                yield
            finally:
                try:  # a pooled connection must never keep the lock (also when cancelled)
                    await conn.execute(text("SELECT pg_advisory_unlock_all()"))
                except Exception:
                    await conn.invalidate()

    async def refund(self, grant: Grant, tokens: int) -> None:
        """Part of a reservation will not be spent (the ASINs turned out cached): give it back
        at once, so that other workers can use it."""
        tokens = min(tokens, grant.cost)
        if tokens <= 0:
            return
        grant.cost -= tokens
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(keepa_tokens)
                .where(keepa_tokens.c.id == ROW_ID)
                .values(
                    tokens=keepa_tokens.c.tokens + tokens,
                    in_flight=func.greatest(keepa_tokens.c.in_flight - tokens, 0),
                    tokens_spent_total=keepa_tokens.c.tokens_spent_total - tokens,
                )
            )

    async def sync(self, status: TokenStatus, grant: Grant | None = None) -> None:
        """Correct the bucket with Keepa's envelope (call it before the grant is settled).

        Keepa's `tokensLeft` is exact only if no other request overlapped this one: then it wins
        both ways. Otherwise it may predate another request's charge (answers of concurrent
        requests arrive in any order) and does not show the charges still to come, which the
        estimate already counts: then it may only lower the estimate (someone else spent tokens
        on this key), never raise it.
        """
        async with self._sessions() as session, session.begin():
            row = await self._locked(session)
            now = row.db_now
            rate = (
                float(status.refill_rate) if status.refill_rate > 0 else row.refill_rate_per_minute
            )
            keepa = float(status.tokens_left)
            exact = grant is not None and grant.alone and row.requests_total == grant.sequence
            if not exact:
                elapsed = (now - row.updated_at).total_seconds()
                keepa = min(
                    keepa, refilled(row.tokens, row.refill_rate_per_minute, row.max_tokens, elapsed)
                )
            await session.execute(
                update(keepa_tokens)
                .where(keepa_tokens.c.id == ROW_ID)
                .values(
                    tokens=keepa,
                    refill_rate_per_minute=rate,
                    updated_at=now,
                    max_tokens=max(
                        row.max_tokens, float(status.tokens_left + status.tokens_consumed)
                    ),
                )
            )

    async def state(self) -> BucketState:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(keepa_tokens, DB_NOW).where(keepa_tokens.c.id == ROW_ID)
                )
            ).one()
        now = row.db_now
        tokens = refilled(
            row.tokens,
            row.refill_rate_per_minute,
            row.max_tokens,
            (now - row.updated_at).total_seconds(),
        )
        waiting = row.instant_waiting_until is not None and row.instant_waiting_until > now
        return BucketState(tokens, row.refill_rate_per_minute, row.max_tokens, waiting)

    async def _settle(self, grant: Grant) -> None:
        owner = spending_owner.get()
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(keepa_tokens)
                .where(keepa_tokens.c.id == ROW_ID)
                .values(in_flight=func.greatest(keepa_tokens.c.in_flight - grant.cost, 0))
            )
            if owner is not None and grant.cost > 0:
                await _book(session, owner, grant.cost)

    async def _mark_instant_waiting(self, seconds: float) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(keepa_tokens)
                .where(keepa_tokens.c.id == ROW_ID)
                .values(instant_waiting_until=func.clock_timestamp() + timedelta(seconds=seconds))
            )

    async def _locked(self, session: AsyncSession) -> Any:
        return (
            await session.execute(
                select(keepa_tokens, DB_NOW).where(keepa_tokens.c.id == ROW_ID).with_for_update()
            )
        ).one()


async def _book(session: AsyncSession, owner: uuid.UUID, tokens: int) -> None:
    """Add `tokens` to what `owner` spent this hour (database clock)."""
    hour = func.date_trunc("hour", func.now())
    await session.execute(
        insert(owner_token_usage)
        .values(owner_id=owner, hour_start=hour, tokens=tokens)
        .on_conflict_do_update(
            index_elements=["owner_id", "hour_start"],
            set_={"tokens": owner_token_usage.c.tokens + tokens},
        )
    )
