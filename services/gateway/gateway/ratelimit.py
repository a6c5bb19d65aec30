"""Request rate limits shared by every gateway instance: one counter row per subject and window.

Fixed windows aligned on the database clock (so instances agree on them): one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` counts the request and answers the count. A burst
across a window boundary can reach twice the limit; that is the price of one statement a request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import delete, func, literal_column, text
from sqlalchemy.ext.asyncio import AsyncSession

from .api.problems import ProblemError
from .db.tables import rate_limit_counters

_HIT = text("""
    INSERT INTO rate_limit_counters AS c (subject, window_start, hits)
    VALUES (:subject, to_timestamp(floor(extract(epoch FROM clock_timestamp())
                                         / CAST(:window AS float8)) * CAST(:window AS float8)), 1)
    ON CONFLICT (subject, window_start) DO UPDATE SET hits = c.hits + 1
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
        return {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                "RateLimit-Reset": str(self.reset_seconds)}


async def count_request(session: AsyncSession, subject: str, limit: int,
                        window_seconds: int) -> RateLimitState:
    """Count one request of `subject` (commits); `exceeded` when it is over the limit."""
    row = (await session.execute(_HIT, {"subject": subject, "window": window_seconds})).one()
    await session.commit()
    hits, seconds_left = int(row.hits), float(row.seconds_left)
    return RateLimitState(limit=limit, remaining=max(0, limit - hits),
                          reset_seconds=max(1, math.ceil(seconds_left)), exceeded=hits > limit)


def too_many_requests(state: RateLimitState, what: str) -> ProblemError:
    return ProblemError(
        429, "rate-limited", "Too many requests",
        f"{what}: at most {state.limit} requests per window; retry in {state.reset_seconds} s",
        headers={"Retry-After": str(state.reset_seconds), **state.headers()},
        limit="requests_per_window", limit_value=state.limit)


async def forget_old_windows(session: AsyncSession, keep_seconds: int) -> int:
    """Delete counters of windows that ended long ago (any instance may run this)."""
    cutoff = func.now() - literal_column(f"interval '{int(keep_seconds)} seconds'")
    result = await session.execute(
        delete(rate_limit_counters).where(rate_limit_counters.c.window_start < cutoff))
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
