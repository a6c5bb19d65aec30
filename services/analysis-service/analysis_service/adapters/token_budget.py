"""The Keepa token bucket, shared by every analysis-service instance through the `analysis` schema.

Before a request, a worker reserves its token cost atomically (row lock); if the bucket cannot
cover it, the worker sleeps until the refill can, instead of spending tokens Keepa would refuse.
After every response the bucket is re-synchronised with Keepa's own `tokensLeft`.
Instant analyses are served first: while one waits, batch reservations are refused, and batch
work may not dip into the reserve held back for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.tables import keepa_tokens

ROW_ID = 1
# Reservations not settled within this time belonged to a crashed worker: forget them.
IN_FLIGHT_EXPIRY_SECONDS = 120.0


@dataclass(frozen=True)
class BucketState:
    tokens: float
    refill_rate_per_minute: float
    max_tokens: float
    instant_waiting: bool


def refilled(tokens: float, rate_per_minute: float, cap: float, elapsed_seconds: float) -> float:
    return min(cap, tokens + max(0.0, elapsed_seconds) * rate_per_minute / 60.0)


def seconds_until(needed: float, tokens: float, rate_per_minute: float) -> float:
    if tokens >= needed:
        return 0.0
    return (needed - tokens) * 60.0 / max(rate_per_minute, 0.001)


class TokenBudget:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, instant_reserve: int,
        initial_rate_per_minute: float = 20.0,
    ) -> None:
        self._sessions = sessions
        self._instant_reserve = instant_reserve
        self._initial_rate = initial_rate_per_minute

    async def ensure_row(self) -> None:
        # Until Keepa's first answer tells us, assume a full bucket (Keepa caps it at one hour of
        # refill): the first request then probes, and a 429 is waited out like any other.
        async with self._sessions() as session, session.begin():
            full = self._initial_rate * 60
            await session.execute(
                insert(keepa_tokens).values(
                    id=ROW_ID, tokens=full, refill_rate_per_minute=self._initial_rate,
                    max_tokens=full,
                ).on_conflict_do_nothing(index_elements=["id"])
            )

    async def try_reserve(self, cost: int, *, instant: bool) -> float:
        """Take `cost` tokens now and return 0, or take nothing and return seconds to wait."""
        async with self._sessions() as session, session.begin():
            row = await self._locked(session)
            now = datetime.now(UTC)
            elapsed = (now - row.updated_at).total_seconds()
            tokens = refilled(row.tokens, row.refill_rate_per_minute, row.max_tokens, elapsed)
            in_flight = 0.0 if elapsed > IN_FLIGHT_EXPIRY_SECONDS else row.in_flight
            floor = 0 if instant else self._instant_reserve
            # A request dearer than the whole bucket could never be covered: let it go at a
            # full bucket (Keepa serves a request while the balance is positive).
            cost_to_cover = min(float(cost), max(row.max_tokens - floor, 1.0))
            if not instant and row.instant_waiting_until and row.instant_waiting_until > now:
                return 0.5  # an instant analysis is waiting: it goes first
            if tokens - cost_to_cover < floor:
                wait = seconds_until(cost_to_cover + floor, tokens, row.refill_rate_per_minute)
                return max(wait, 0.05)
            await session.execute(update(keepa_tokens).where(keepa_tokens.c.id == ROW_ID).values(
                tokens=tokens - cost, in_flight=in_flight + cost, updated_at=now,
                tokens_spent_total=keepa_tokens.c.tokens_spent_total + cost,
                requests_total=keepa_tokens.c.requests_total + 1,
            ))
            return 0.0

    @contextlib.asynccontextmanager
    async def reservation(self, cost: int, *, instant: bool) -> AsyncIterator[None]:
        """Wait until `cost` tokens are reserved; settle the in-flight count afterwards."""
        while (wait := await self.try_reserve(cost, instant=instant)) > 0:
            if instant:
                await self._mark_instant_waiting(seconds=min(wait, 5.0) + 2.0)
            await asyncio.sleep(min(wait, 5.0))
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await self._settle(cost)

    async def sync(self, tokens_left: int, refill_rate: int) -> None:
        """Keepa's word wins: tokens left minus what other requests still have in flight."""
        async with self._sessions() as session, session.begin():
            row = await self._locked(session)
            rate = float(refill_rate) if refill_rate > 0 else row.refill_rate_per_minute
            await session.execute(update(keepa_tokens).where(keepa_tokens.c.id == ROW_ID).values(
                tokens=float(tokens_left) - row.in_flight, refill_rate_per_minute=rate,
                # The cap: a full bucket is an hour of refill at Keepa's nominal rate; a simulator
                # under a time scale reports its rate per real minute, so trust what was seen.
                max_tokens=max(float(tokens_left), min(row.max_tokens, rate * 60)),
                updated_at=datetime.now(UTC),
            ))

    async def state(self) -> BucketState:
        async with self._sessions() as session:
            row = (await session.execute(select(keepa_tokens).where(keepa_tokens.c.id == ROW_ID))
                   ).one()
        elapsed = (datetime.now(UTC) - row.updated_at).total_seconds()
        tokens = refilled(row.tokens, row.refill_rate_per_minute, row.max_tokens, elapsed)
        waiting = row.instant_waiting_until is not None and row.instant_waiting_until > datetime.now(UTC)
        return BucketState(tokens, row.refill_rate_per_minute, row.max_tokens, waiting)

    async def _settle(self, cost: int) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(keepa_tokens).where(keepa_tokens.c.id == ROW_ID).values(
                in_flight=func_greatest(keepa_tokens.c.in_flight - cost)))

    async def _mark_instant_waiting(self, seconds: float) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(keepa_tokens).where(keepa_tokens.c.id == ROW_ID).values(
                instant_waiting_until=datetime.now(UTC) + timedelta(seconds=seconds)))

    async def _locked(self, session: AsyncSession) -> Any:
        return (await session.execute(
            select(keepa_tokens).where(keepa_tokens.c.id == ROW_ID).with_for_update()
        )).one()


def func_greatest(value: Any) -> Any:
    return func.greatest(value, 0)
