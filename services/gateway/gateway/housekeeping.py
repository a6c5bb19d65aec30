"""Deletes what no request needs any more: ended rate-limit windows, expired logins,
Idempotency-Keys of instant analyses once their replay window has passed, and wrong-password
counts no longer remembered."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db.tables import auth_sessions, instant_requests, sign_in_failures
from .logins import SIGN_IN_FAILURES_REMEMBERED
from .ratelimit import forget_old_windows

log = logging.getLogger(__name__)
EXPIRED_LOGINS_KEPT = timedelta(days=7)  # a reused old token is still recognised for a while
# A replay of an instant analysis within this window is not charged again (later, it is: the
# analysis service still answers with the stored result).
IDEMPOTENCY_KEYS_KEPT = timedelta(days=1)


async def run_housekeeping(
    sessions: async_sessionmaker[AsyncSession], window_seconds: int, interval_seconds: float = 300.0
) -> None:
    while True:
        try:
            async with sessions() as session:
                await forget_old_windows(session, 2 * window_seconds)
                await session.execute(
                    delete(auth_sessions).where(
                        auth_sessions.c.expires_at < datetime.now(UTC) - EXPIRED_LOGINS_KEPT
                    )
                )
                await session.execute(
                    delete(instant_requests).where(
                        instant_requests.c.created_at < datetime.now(UTC) - IDEMPOTENCY_KEYS_KEPT
                    )
                )
                await session.execute(
                    delete(sign_in_failures).where(
                        sign_in_failures.c.last_failed_at
                        < datetime.now(UTC) - SIGN_IN_FAILURES_REMEMBERED,
                        sign_in_failures.c.locked_until < datetime.now(UTC),
                    )
                )
                await session.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("housekeeping: %r", exc)
        await asyncio.sleep(interval_seconds)
