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

Local first (`RATE_LIMIT_FLUSH_SECONDS` > 0, the default): a request far from its limit does not
wait for a statement at all; see `SharedCounter` for what stays exact and the bound of the error.
"""

from __future__ import annotations

import asyncio
import contextlib
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


@dataclass
class _Tally:
    """What this instance knows of one subject's count in the current window."""

    shared: int  # the shared count at the last statement (this instance's requests included)
    window_end: float  # loop time the window ends
    read_at: float  # loop time of that statement
    unflushed: int = 0  # requests decided here since, not yet added to the shared count


class SharedCounter:
    """Counts requests in PostgreSQL, the concurrent ones of a subject together (module doc).

    With `flush_seconds` > 0 a request far from its limit is decided here, from the shared count
    of the last statement plus this instance's requests since, and added to the shared count by
    the next statement (at most `flush_seconds` later); the last `exact_zone(limit)` requests of
    a window, the first request of a window and every request after a failed statement are
    counted by a statement of their own, as if `flush_seconds` were 0. So one seller's steady
    requests cost no statement each, the limit is still exact on one instance, and across
    instances a request is admitted over the limit only when the other instances together took
    more than the exact zone of that seller's requests within one flush interval (then by at most
    what they took in it). A subject past its limit is refused here without a statement."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        flush_seconds: float = 0.0,
        exact_last: int = 50,
    ) -> None:
        self._sessions = sessions
        self._flush_seconds = flush_seconds
        self._exact_last = exact_last
        self._waiting: dict[tuple[str, int], list[asyncio.Future[tuple[int, float]]]] = {}
        self._flushers: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._wake: dict[tuple[str, int], asyncio.Event] = {}
        self._tallies: dict[tuple[str, int], _Tally] = {}
        self.statements = 0  # for the tests and the metrics: statements run

    def exact_zone(self, limit: int) -> int:
        """How many of a window's last requests are counted by a statement each."""
        return max(self._exact_last, math.ceil(limit / 10))

    async def count(self, subject: str, limit: int, window_seconds: int) -> RateLimitState:
        """Count one request of `subject`; `exceeded` when it is over the limit."""
        key = (subject, window_seconds)
        loop = asyncio.get_running_loop()
        tally = self._tallies.get(key) if self._flush_seconds > 0 else None
        now = loop.time()
        if tally is not None and now < tally.window_end and self._fresh(tally, now):
            left = tally.window_end - now
            hits = tally.shared + tally.unflushed + 1
            if hits > limit or hits <= limit - self.exact_zone(limit):
                tally.unflushed += 1
                self._start_flusher(key)
                return _state(hits, left, limit)
        waiter: asyncio.Future[tuple[int, float]] = loop.create_future()
        self._waiting.setdefault(key, []).append(waiter)
        self._start_flusher(key)
        self._wake[key].set()
        hits, seconds_left = await waiter
        return _state(hits, seconds_left, limit)

    def _fresh(self, tally: _Tally, now: float) -> bool:
        # A count read long ago (this instance idle since) says nothing of the other instances'
        # requests meanwhile: the first request after a pause waits for a statement.
        return now - tally.read_at <= 2 * self._flush_seconds

    async def settle(self) -> None:
        """Add every request decided here to the shared count now (at shutdown; tests)."""
        loop = asyncio.get_running_loop()
        for key, tally in list(self._tallies.items()):
            if tally.unflushed and tally.window_end > loop.time():
                n, tally.unflushed = tally.unflushed, 0
                hits, seconds_left = await self._add(key[0], key[1], n)
                now = loop.time()
                self._tallies[key] = _Tally(hits, now + seconds_left, now)

    def _start_flusher(self, key: tuple[str, int]) -> None:
        if key not in self._flushers:
            self._wake[key] = asyncio.Event()
            self._flushers[key] = asyncio.create_task(self._flush(key))

    async def _gather(self, key: tuple[str, int]) -> None:
        """Let requests decided here gather for one interval, unless one waits for a statement."""
        if self._waiting.get(key):
            return
        wake = self._wake[key]
        wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._flush_seconds):
                await wake.wait()

    async def _flush(self, key: tuple[str, int]) -> None:
        subject, window = key
        try:
            while True:
                await self._gather(key)
                waiters = self._waiting.pop(key, [])
                tally = self._tallies.get(key)
                loop = asyncio.get_running_loop()
                # Requests of a window that has ended no longer count for anything.
                live = tally is not None and tally.window_end > loop.time()
                local = tally.unflushed if tally is not None and live else 0
                if not waiters and not local:
                    return
                if tally is not None:
                    tally.unflushed = 0
                try:
                    hits, seconds_left = await self._add(subject, window, len(waiters) + local)
                except BaseException as exc:
                    # The shared count is unknown now: the next requests wait for a statement.
                    self._tallies.pop(key, None)
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                now = loop.time()
                self._tallies[key] = _Tally(hits, now + seconds_left, now)
                first = hits - len(waiters)  # requests decided here came before the waiters
                for place, waiter in enumerate(waiters, start=1):
                    if not waiter.done():  # its client may have gone: it was counted all the same
                        waiter.set_result((first + place, seconds_left))
        finally:
            # Idle for an interval: what it knew is stale by now (and a seller gone costs nothing).
            self._tallies.pop(key, None)
            del self._flushers[key]
            del self._wake[key]

    async def _add(self, subject: str, window: int, n: int) -> tuple[int, float]:
        self.statements += 1
        async with self._sessions() as session:
            row = (
                await session.execute(_HIT, {"subject": subject, "window": window, "n": n})
            ).one()
            await session.commit()
        return int(row.hits), float(row.seconds_left)


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
