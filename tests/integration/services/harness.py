"""Harness of the integration tests per service: real PostgreSQL, a real Kafka-protocol broker
(Tansu) and the Keepa simulator, and ONE service as its own OS process, driven only through its
topics.

Unlike tests/e2e (every service, driven through the gateway), a module here plays the other
services itself: it publishes the events they would publish and reads what the service under test
publishes, so a broken contract or handler shows up at the service that owns it. Assertions read
the service's own topics, its internal HTTP API and its schema (admin URL).

Each module starts its own infrastructure and service once (module-scoped `harness`), with the
deadlines it needs shortened through the service's environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeGuard, TypeVar, overload

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from av_shared.events import (
    AnyEvent,
    BatchChunkSubmitted,
    BatchSubmitted,
    BusinessConfigSnapshot,
    ChunkItem,
    Event,
    parse_event,
    serialize_event,
)
from av_shared.internal_auth import ADMIN_PREFIX, ServiceTokens
from av_shared.ops import consumer_lag
from av_shared.topics import TopicSpec
from devstack.stack import Stack, StackConfig
from devstack.supervisor import ProcessSpec
from tests.helpers import admin_fetch, admin_value, isbn10s

T = TypeVar("T")
E = TypeVar("E", bound=Event)
E_co = TypeVar("E_co", bound=Event, covariant=True)

# Quick relays and retries: every module waits for outbox rows and handlers, never for defaults
# meant for production. A short grace keeps the module's teardown short.
COMMON_ENV = {
    "OUTBOX_POLL_SECONDS": "0.5",
    "WORK_POLL_SECONDS": "0.5",
    "CONSUMER_MAX_ATTEMPTS": "3",
    "CONSUMER_RETRY_BASE_SECONDS": "0.05",
    "CONSUMER_RETRY_MAX_SECONDS": "1",
    "SHUTDOWN_GRACE_SECONDS": "3",
    "LOG_LEVEL": "INFO",
}


@dataclass(frozen=True)
class Role:
    """How one service is started and found: its process, consumer group, schema and URL."""

    name: str  # the service's key in StackConfig.service_env
    process: str
    group: str
    schema: str
    spec: Callable[[Stack], ProcessSpec]
    url: Callable[[Stack], str]


BATCH_SERVICE = Role(
    "batch-service",
    "batch-service",
    "batch-service",
    "batch",
    lambda s: s.batch_spec(),
    lambda s: s.batch_url,
)
ANALYSIS_SERVICE = Role(
    "analysis-service",
    "analysis-0",
    "analysis-service",
    "analysis",
    lambda s: s.analysis_spec(0),
    lambda s: s.analysis_url(0),
)
GATEWAY = Role(
    "gateway", "gateway", "gateway", "gateway", lambda s: s.gateway_spec(0), lambda s: s.gateway_url
)


@dataclass(frozen=True)
class Seen(Generic[E_co]):
    """One record the service published, as it travelled: topic, key, parsed event, and when
    the producer sent it (seconds since the epoch). `Seen[E]`: a record whose event is an E."""

    topic: str
    key: str
    event: E_co
    at: float


def _is_of(seen: Seen[Event], kind: type[E]) -> TypeGuard[Seen[E]]:
    return isinstance(seen.event, kind)


def of_kind(seen: Iterable[Seen[Event]], kind: type[E]) -> list[Seen[E]]:
    """The records among `seen` whose event is a `kind`, in their order."""
    return [s for s in seen if _is_of(s, kind)]


class TopicLog:
    """Every record of some topics since the module started, read by a consumer without a group
    (it never competes with the service's group) and parsed with the shared contracts: a record
    that does not parse is a broken contract and fails the reading test."""

    def __init__(self) -> None:
        self.records: list[Seen[AnyEvent]] = []
        self._task: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def watching(cls, bootstrap: str, topics: Sequence[TopicSpec]) -> AsyncIterator[TopicLog]:
        consumer = AIOKafkaConsumer(
            *(t.name for t in topics),
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        log = cls()
        log._task = asyncio.create_task(log._collect(consumer), name="topic-log")
        try:
            yield log
        finally:
            log._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await log._task
            await consumer.stop()

    async def _collect(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            key = record.key.decode() if record.key else ""
            self.records.append(
                Seen(record.topic, key, parse_event(record.value), record.timestamp / 1000)
            )

    def seen(self, kind: type[E], batch_id: uuid.UUID) -> list[Seen[E]]:
        """Records of one event type and batch, in arrival order (per partition)."""
        if self._task is not None and self._task.done():
            self._task.result()  # the reader died: say why (e.g. an event that did not parse)
        return [
            s for s in of_kind(self.records, kind) if getattr(s.event, "batch_id", None) == batch_id
        ]

    def events(self, kind: type[E], batch_id: uuid.UUID) -> list[E]:
        return [s.event for s in self.seen(kind, batch_id)]


@dataclass
class ServiceHarness:
    """One running service and the test's side of its topics."""

    stack: Stack
    role: Role
    producer: AIOKafkaProducer
    log: TopicLog
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = self.role.url(self.stack)

    async def publish(self, topic: TopicSpec, *events: Event) -> None:
        """As the owning service would: keyed by the event's partition key, acks=all."""
        for event in events:
            await self.producer.send_and_wait(
                topic.name, serialize_event(event), key=event.partition_key().encode()
            )

    @overload
    async def eventually(
        self,
        probe: Callable[[], Awaitable[T]],
        ok: Callable[[T], bool],
        what: str,
        timeout: float = 30,
    ) -> T: ...

    @overload
    async def eventually(
        self,
        probe: Callable[[], T],
        ok: Callable[[T], bool],
        what: str,
        timeout: float = 30,
    ) -> T: ...

    async def eventually(
        self,
        probe: Callable[[], Awaitable[T] | T],
        ok: Callable[[T], bool],
        what: str,
        timeout: float = 30,
    ) -> T:
        """Poll `probe` (a function or a coroutine function) until `ok` holds on what it
        returns; on timeout fail with the last value and the service's log tail (the service
        runs in another process: its log is the only witness)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            probed = probe()
            value: T = await probed if inspect.isawaitable(probed) else probed
            if ok(value):
                return value
            if asyncio.get_running_loop().time() > deadline:
                tail = self.stack.log_tail(self.role.process, 30)
                pytest.fail(f"not within {timeout:.0f}s: {what}; last: {value!r}\n{tail}")
            await asyncio.sleep(0.1)

    async def drained(self, timeout: float = 30) -> None:
        """The service's group has committed every record published so far: it handled them
        (offsets are committed only after the handler's transaction)."""

        async def lag() -> int:
            return sum(
                r["lag"] for r in await consumer_lag(self.stack.bootstrap, (self.role.group,))
            )

        await self.eventually(
            lag, lambda n: n == 0, f"{self.role.group} consumed everything", timeout
        )

    async def internal_get(self, path: str, **params: Any) -> httpx.Response:
        """GET from the service's internal API as the gateway does: with a service token for
        this service (admin-scoped on /internal/admin/...)."""
        tokens = ServiceTokens(self.stack.internal_auth_secret)
        headers = tokens.header(self.role.name, admin=path.startswith(ADMIN_PREFIX))
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            return await http.get(path, params=params, headers=headers)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await admin_fetch(self.stack.admin_url, sql, *args)

    async def value(self, sql: str, *args: Any) -> Any:
        return await admin_value(self.stack.admin_url, sql, *args)

    async def assert_healthy(self) -> None:
        """Nothing a test did crashed the process or was dead-lettered by it."""
        process = self.stack.processes[self.role.process]
        assert process.restarts == 0, self.stack.log_tail(self.role.process)
        letters = await self.fetch(f"SELECT topic, error FROM {self.role.schema}.dead_letters")
        assert letters == [], letters


async def _wait_ready(url: str, timeout: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url + "/ready")).status_code == 200:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{url} not ready after {timeout:.0f}s")
            await asyncio.sleep(0.2)


@asynccontextmanager
async def service_alone(
    state_dir: Path, role: Role, env: dict[str, str], watch: Sequence[TopicSpec]
) -> AsyncIterator[ServiceHarness]:
    """PostgreSQL, Tansu and the Keepa simulator, every schema migrated, and only `role`'s
    process; `watch` are the topics the service publishes to."""
    stack = Stack(
        StackConfig(
            state_dir=state_dir / f"{role.name}-{uuid.uuid4().hex[:6]}",
            fast=True,
            conventional_ports=False,
            partitions=12,
            keepa_refill_rate=1000,
            keepa_time_scale=60,
            extra_env=dict(COMMON_ENV),
            service_env={role.name: env},
        )
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=False
    )
    try:
        await stack.start_infra()
        await stack.migrate()
        await stack._start(role.spec(stack))
        await _wait_ready(role.url(stack))
        await producer.start()
        async with TopicLog.watching(stack.bootstrap, watch) as log:
            yield ServiceHarness(stack, role, producer, log)
    finally:
        await producer.stop()
        await stack.stop()


# -- events the other services would publish --------------------------------------------------


@dataclass(frozen=True)
class SubmittedBatch:
    """A batch as the gateway publishes it: one header and chunks of at most 100 items."""

    header: BatchSubmitted
    chunks: tuple[BatchChunkSubmitted, ...]

    @property
    def id(self) -> uuid.UUID:
        return self.header.batch_id

    @property
    def owner_id(self) -> uuid.UUID:
        return self.header.owner_id


def chunk_items(identifiers: Sequence[str], first_item_no: int = 0) -> tuple[ChunkItem, ...]:
    """Lines with ISBN-10s: the ASIN of a book is its ISBN-10, as the gateway normalises it."""
    return tuple(
        ChunkItem(item_no=first_item_no + n, identifier=i, asin=i, buy_cost=Decimal("2.00"))
        for n, i in enumerate(identifiers)
    )


def submitted_batch(items: int, seed: int, chunk_size: int = 100) -> SubmittedBatch:
    batch_id, owner_id = uuid.uuid4(), uuid.uuid4()
    lines = chunk_items(isbn10s(items, seed=seed))
    count = -(-items // chunk_size)
    config = BusinessConfigSnapshot()
    correlation_id = f"batch-{batch_id}"
    header = BatchSubmitted(
        batch_id=batch_id,
        owner_id=owner_id,
        name=f"service test {seed}",
        items_total=items,
        chunk_count=count,
        submitted_at=datetime.now(UTC),
        config=config,
        correlation_id=correlation_id,
    )
    chunks = tuple(
        BatchChunkSubmitted(
            batch_id=batch_id,
            owner_id=owner_id,
            chunk_no=n,
            chunk_count=count,
            items=lines[n * chunk_size : (n + 1) * chunk_size],
            config=config,
            correlation_id=correlation_id,
        )
        for n in range(count)
    )
    return SubmittedBatch(header, chunks)
