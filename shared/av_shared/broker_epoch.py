"""Noticing, within seconds, that the broker lost its log.

Tansu (the local broker) keeps its log in memory: a restart loses every record and every committed
offset, and so do the events that were published but not yet consumed (a completion, an
acknowledgement). Deadlines would find those losses minutes later; this finds them at once.

The epoch is the first record of a one-partition topic. Whoever finds the topic empty writes a new
random epoch (when several do at once, the first record written is the epoch for everyone). Two
memories of it, for two jobs:
- the process remembers the epoch it consumed under: when it changes, its consumers' positions
  belong to a log that is gone (`on_process_lost`: read the new log from its start);
- the service's schema keeps the epoch it last reconciled with (`broker_epoch` table): when the
  broker shows another one, events this service published may be lost, whether it ran through
  the loss or was down meanwhile (`on_service_lost`: re-send or re-request what is open). That
  runs at least once per loss (reconcile first, then record); reconciling is idempotent.
A real Kafka cluster keeps the topic, so neither runs there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .topics import BROKER_EPOCH

log = logging.getLogger(__name__)

OnLogLost = Callable[[], Awaitable[None]]
_PARTITION = TopicPartition(BROKER_EPOCH.name, 0)


class EpochStore:
    """The service's own record of the epoch it reconciled with (one row in its schema)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], table: Table) -> None:
        self._sessions = sessions
        self._table = table

    async def load(self) -> str | None:
        async with self._sessions() as session:
            found: str | None = await session.scalar(select(self._table.c.epoch))
            return found

    async def save(self, epoch: str) -> None:
        async with self._sessions() as session, session.begin():
            row = insert(self._table).values(id=1, epoch=epoch)
            await session.execute(
                row.on_conflict_do_update(
                    index_elements=["id"], set_={"epoch": epoch, "seen_at": row.excluded.seen_at}
                )
            )


class BrokerEpochWatch:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        producer: AIOKafkaProducer,
        store: EpochStore,
        interval_seconds: float = 1.0,
        client_options: dict[str, Any] | None = None,
        ensure_topics: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._client_options = client_options or {}
        self._producer = producer
        self._store = store
        self._interval = interval_seconds
        self._ensure_topics = ensure_topics
        self._process_callbacks: list[OnLogLost] = []
        self._service_callbacks: list[OnLogLost] = []
        self.epoch: str | None = None
        self.losses_seen = 0
        self.reconciliations = 0

    def on_process_lost(self, callback: OnLogLost) -> None:
        """Called when the epoch changes under this running process (rewind its consumers)."""
        self._process_callbacks.append(callback)

    def on_service_lost(self, callback: OnLogLost) -> None:
        """Called when the broker's epoch is not the one the service last reconciled with."""
        self._service_callbacks.append(callback)

    async def run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                **self._client_options,
            )
            try:
                await consumer.start()
                consumer.assign([_PARTITION])
                while True:
                    await self.check(consumer)
                    await asyncio.sleep(self._interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away: the next check sees what it left
                log.debug("broker epoch check: %r", exc)
                await asyncio.sleep(self._interval)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def check(self, consumer: AIOKafkaConsumer) -> None:
        current = await self._read_epoch(consumer)
        if current is None:
            if self._ensure_topics is not None:
                await self._ensure_topics()  # a broker that lost its log lost its topics too
            await self._producer.send_and_wait(
                BROKER_EPOCH.name, uuid.uuid4().hex.encode(), partition=0
            )
            current = await self._read_epoch(consumer)
            if current is None:
                return
        if self.epoch is not None and current != self.epoch:
            self.losses_seen += 1
            log.warning(
                "the broker lost its log (epoch %s -> %s): reading it from its start",
                self.epoch,
                current,
            )
            await _run_all(self._process_callbacks)
        self.epoch = current
        stored = await self._store.load()
        if stored == current:
            return
        if stored is not None and self._service_callbacks:
            log.warning(
                "broker epoch %s is not the one last reconciled with (%s): events "
                "published before may be lost; reconciling now",
                current,
                stored,
            )
            await _run_all(self._service_callbacks)  # raises: the next check tries again
            self.reconciliations += 1
        await self._store.save(current)

    async def _read_epoch(self, consumer: AIOKafkaConsumer) -> str | None:
        """The first record of the epoch topic, or None when the topic is empty or missing."""
        start = (await consumer.beginning_offsets([_PARTITION])).get(_PARTITION, 0)
        end = (await consumer.end_offsets([_PARTITION])).get(_PARTITION, 0)
        if end <= start:
            return None
        consumer.seek(_PARTITION, start)
        records = await consumer.getmany(_PARTITION, timeout_ms=3000, max_records=1)
        for record in records.get(_PARTITION, []):
            if record.value is not None:
                return bytes(record.value).decode(errors="replace")
        raise TimeoutError("epoch record not fetched")


async def _run_all(callbacks: list[OnLogLost]) -> None:
    for callback in callbacks:
        await callback()
