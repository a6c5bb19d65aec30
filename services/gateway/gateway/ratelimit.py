"""Request rate limits shared by every gateway instance: one counter row per subject and window.

Fixed windows aligned on the database clock (so instances agree on them): one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` counts requests and answers the count. A burst
across a window boundary can reach twice the limit; that is the price of fixed windows.

Group commit (`SharedCounter`): the concurrent requests of one subject on one instance are counted
together, one statement adding their number while the next ones gather; the request i of a group
of n that brought the counter to `hits` is told `hits - n + i`. So each instance has at most one
transaction a subject in flight (a seller's requests no longer queue on the row lock, one commit
counts a hundred of them), and the count is still exact across instances: every request is
decided on its own place in the shared counter, as if they had been counted one at a time. The
price is latency, not accuracy: a request waits for at most the statement in flight and its own.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, literal_column, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .api.problems import ProblemError
from .db.tables import rate_limit_counters

_HIT = text("""
    INSERT INTO rate_limit_counters AS c (subject, window_start, hits)
    VALUES (:subject, to_timestamp(floor(extract(epoch FROM clock_timestamp())
                                         / CAST(:window AS float8)) * CAST(:window AS float8)),
            CAST(:n AS integer))
    ON CONFLICT (subject, window_start) DO UPDATE SET hits = c.hits + EXCLUDED.hits
    RETURNING c.hits,
              extract(epoch FROM c.window_start) + CAST(:window AS float8)
                - extract(epoch FROM clock_timestamp()) AS seconds_left
""")


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_seconds: int
    exceeded: bool

    def headers(self) -> dict[str, str]:
        """The IETF `RateLimit-*` fields (draft-ietf-httpapi-ratelimit-headers)."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


async def count_request(
    session: AsyncSession, subject: str, limit: int, window_seconds: int
) -> RateLimitState:
    """Count one request of `subject` (commits); `exceeded` when it is over the limit."""
    row = (
        await session.execute(_HIT, {"subject": subject, "window": window_seconds, "n": 1})
    ).one()
    await session.commit()
    return _state(int(row.hits), float(row.seconds_left), limit)


def _state(hits: int, seconds_left: float, limit: int) -> RateLimitState:
    return RateLimitState(
        limit=limit,
        remaining=max(0, limit - hits),
        reset_seconds=max(1, math.ceil(seconds_left)),
        exceeded=hits > limit,
    )


class SharedCounter:
    """Counts requests in PostgreSQL, the concurrent ones of a subject together (module doc)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._waiting: dict[tuple[str, int], list[asyncio.Future[tuple[int, float]]]] = {}
        self._flushers: dict[tuple[str, int], asyncio.Task[None]] = {}

    async def count(self, subject: str, limit: int, window_seconds: int) -> RateLimitState:
        """Count one request of `subject`; `exceeded` when it is over the limit."""
        key = (subject, window_seconds)
        waiter: asyncio.Future[tuple[int, float]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(waiter)
        if key not in self._flushers:
            self._flushers[key] = asyncio.create_task(self._flush(key))
        hits, seconds_left = await waiter
        return _state(hits, seconds_left, limit)

    async def _flush(self, key: tuple[str, int]) -> None:
        subject, window = key
        try:
            while waiters := self._waiting.pop(key, None):
                try:
                    async with self._sessions() as session:
                        row = (
                            await session.execute(
                                _HIT, {"subject": subject, "window": window, "n": len(waiters)}
                            )
                        ).one()
                        await session.commit()
                except BaseException as exc:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                first, seconds_left = int(row.hits) - len(waiters), float(row.seconds_left)
                for place, waiter in enumerate(waiters, start=1):
                    if not waiter.done():  # its client may have gone: it was counted all the same
                        waiter.set_result((first + place, seconds_left))
        finally:
            del self._flushers[key]


def too_many_requests(state: RateLimitState, what: str) -> ProblemError:
    return ProblemError(
        429,
        "rate-limited",
        "Too many requests",
        f"{what}: at most {state.limit} requests per window; retry in {state.reset_seconds} s",
        headers={"Retry-After": str(state.reset_seconds), **state.headers()},
        limit="requests_per_window",
        limit_value=state.limit,
    )


async def forget_old_windows(session: AsyncSession, keep_seconds: int) -> int:
    """Delete counters of windows that ended long ago (any instance may run this)."""
    cutoff = func.now() - literal_column(f"interval '{int(keep_seconds)} seconds'")
    result = await session.execute(
        delete(rate_limit_counters).where(rate_limit_counters.c.window_start < cutoff)
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
