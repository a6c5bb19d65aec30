"""Who a credential is, remembered per gateway instance for a few seconds, and forgotten on every
instance as soon as PostgreSQL announces a change.

An authenticated request would otherwise read the account and the login (or API key) from
PostgreSQL every time. A successful lookup is kept for at most CACHE_SECONDS; the gateway's
tables have triggers (migration 0006) that `pg_notify` the channel `gateway_auth` with the user's
id when an account, a login or an API key of theirs changes (logout, password change, revoked
login, disabled account, changed role or limits, deleted or re-dated API key). The notification is
sent when the change commits; every instance listening drops what it remembers of that user.

Bounds: a revocation takes effect on every instance within the notification's delivery (usually
milliseconds; at most REVOCATION_BOUND_SECONDS = 2 s while the listener is healthy). The cache is
used only while the listener's connection is up and answers a ping every second (PING_SECONDS,
each within PING_TIMEOUT_SECONDS); when it is lost the cache is cleared and every request reads
PostgreSQL again, and in every case an entry is never used longer than CACHE_SECONDS = 5 s (the
fallback bound when a notification is missed). A lookup that raced with a change (an
invalidation arrived while it ran) is not remembered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import asyncpg

from av_shared.db import raw_dsn

log = logging.getLogger(__name__)
CHANNEL = "gateway_auth"
CACHE_SECONDS = 5.0
REVOCATION_BOUND_SECONDS = 2.0
PING_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 1.0
MAX_ENTRIES = 100_000
Loaded = tuple[uuid.UUID, Any, float | None]  # (user, value, seconds it may be kept; None: ttl)


class CredentialCache:
    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self.listening = False  # the cache is used only while notifications can arrive
        self.generation = 0  # counts invalidations: a lookup that saw one is not remembered
        self._entries: dict[Hashable, tuple[float, uuid.UUID, Any]] = {}
        self._loading: dict[Hashable, tuple[int, asyncio.Future[Loaded]]] = {}
        self._stopped = asyncio.Event()

    def get(self, key: Hashable) -> Any | None:
        if not self.listening:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[2]

    def put(
        self,
        key: Hashable,
        user_id: uuid.UUID,
        value: Any,
        generation: int,
        ttl: float | None = None,
    ) -> None:
        """Remember `value` unless an invalidation arrived since `generation` was read."""
        if not self.listening or generation != self.generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        lifetime = self.ttl if ttl is None else min(ttl, self.ttl)
        if lifetime > 0:
            self._entries[key] = (time.monotonic() + lifetime, user_id, value)

    async def load_once(self, key: Hashable, load: Callable[[], Awaitable[Loaded]]) -> Any:
        """What `load()` finds for `key`, remembered. Concurrent misses of one key share one
        load (a hundred requests of one seller after its entry expired are one query), unless
        an invalidation came after that load began: then it is not theirs to trust."""
        loading = self._loading.get(key)
        if loading is None or loading[0] != self.generation:
            generation = self.generation
            future: asyncio.Future[Loaded] = asyncio.ensure_future(load())
            self._loading[key] = (generation, future)
            future.add_done_callback(lambda done: self._loaded(key, generation, done))
        else:
            future = loading[1]
        # Shielded: one caller going away does not cancel the others' load.
        return (await asyncio.shield(future))[1]

    def _loaded(self, key: Hashable, generation: int, done: asyncio.Future[Loaded]) -> None:
        if self._loading.get(key, (None, None))[1] is done:
            del self._loading[key]
        if not done.cancelled() and done.exception() is None:
            user_id, value, ttl = done.result()
            self.put(key, user_id, value, generation, ttl)

    def forget_user(self, user_id: uuid.UUID) -> None:
        self.generation += 1
        for key in [k for k, entry in self._entries.items() if entry[1] == user_id]:
            del self._entries[key]

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self.forget_user(uuid.UUID(payload))
        except ValueError:
            self.clear()

    def stop(self) -> None:
        self._stopped.set()

    async def listen(self, database_url: str) -> None:
        """LISTEN for changes until stopped; reconnect when the database goes away."""
        dsn = raw_dsn(database_url)
        while not self._stopped.is_set():
            conn = None
            try:
                conn = await asyncpg.connect(dsn, timeout=10)
                await conn.add_listener(CHANNEL, self._notified)
                self.clear()  # what changed while nobody listened is unknown
                self.listening = True
                while not self._stopped.is_set():
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), PING_TIMEOUT_SECONDS)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopped.wait(), PING_SECONDS)
            except Exception as exc:  # the database went away: no cache until it is back
                log.debug("auth cache listener lost: %r", exc)
            finally:
                self.listening = False
                self.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            if not self._stopped.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), 1.0)
