"""Exponential backoff with full jitter, and the errors worth retrying forever."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)
T = TypeVar("T")


class Backoff:
    """Full-jitter exponential backoff (AWS architecture blog): spreads retries of many clients."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


async def retry_forever(
    what: str, action: Callable[[], Awaitable[T]], *, base: float = 0.5, cap: float = 10.0
) -> T:
    """Run `action` until it succeeds, with backoff and a log line per failure (a dependency
    that is not up yet: the database, the broker)."""
    backoff = Backoff(base, cap)
    while True:
        try:
            return await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = backoff.next_delay()
            log.warning("%s failed (%r); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)


class TransientError(Exception):
    """Raised by our own code for conditions that pass (a dependency is briefly unavailable)."""


def is_transient(exc: BaseException) -> bool:
    """Infrastructure trouble, not a bad event: retry without limit, never dead-letter."""
    if isinstance(exc, TransientError | ConnectionError | TimeoutError | asyncio.TimeoutError):
        return True
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError | NodeNotReadyError):
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OSError):
        return True
    name = type(exc).__name__
    # asyncpg's connection, serialization and deadlock errors, possibly wrapped by SQLAlchemy.
    transient_names = (
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "PostgresConnectionError",
        "ConnectionFailureError",
        "SerializationError",
        "DeadlockDetectedError",
        "AdminShutdownError",
        "InterfaceError",
    )
    if name in transient_names:
        return True
    cause = exc.__cause__ or getattr(exc, "orig", None)
    return cause is not None and cause is not exc and is_transient(cause)
