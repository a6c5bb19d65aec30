"""The in-process hub: one Kafka reader per gateway instance, fanning BatchProgressed events out
to the streams open here, by batch, and keeping this instance's cache of batch reads
(`batch_cache`) up to date.

Every instance must see every batch's progress (a seller's stream may be on any of them), so the
reader is in no consumer group: it assigns itself every partition of the status topic and starts
at its end (a stream's first message is the state read when it opens, so older events are of no
use). Streams never poll the database: they wait on their subscription. After the reader
(re)starts, events may have been missed meanwhile: every open stream is told to read the state
once again (`RESYNC`), which is the only database read a stream makes after it opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from aiokafka import AIOKafkaConsumer, TopicPartition

from av_shared.events import BatchProgressed, parse_event
from av_shared.kafka_security import client_options
from av_shared.retry import Backoff
from av_shared.settings import CommonSettings
from av_shared.topics import BATCH_STATUS

from .batch_cache import BatchCache
from .messages import StreamMessage, from_event

log = logging.getLogger(__name__)

RESYNC: Final = "resync"
PENDING_PER_STREAM = 32  # a stream slower than the batch keeps only the newest states
_PROGRESSED = b'"batch.progressed"'


class Subscription:
    """One open stream's mailbox of messages of one batch."""

    def __init__(self, batch_id: str, hub: ProgressHub) -> None:
        self.batch_id = batch_id
        self._hub = hub
        self._pending: deque[StreamMessage | str] = deque(maxlen=PENDING_PER_STREAM)
        self._ready = asyncio.Event()

    def put(self, item: StreamMessage | str) -> None:
        self._pending.append(item)
        self._ready.set()

    async def next(self, timeout: float) -> StreamMessage | str | None:
        """The next message (or RESYNC); None when nothing came within `timeout` seconds."""
        if not self._pending:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
            if not self._pending:
                return None
        return self._pending.popleft()

    def close(self) -> None:
        self._hub.unsubscribe(self)


class ProgressHub:
    def __init__(self, cache: BatchCache | None = None) -> None:
        self._streams: dict[str, set[Subscription]] = {}
        self.cache = cache or BatchCache()  # the batch reads this instance answers itself
        self.delivered_total = 0
        self.reader_starts = 0

    @property
    def open_streams(self) -> int:
        return sum(len(s) for s in self._streams.values())

    def subscribe(self, batch_id: uuid.UUID) -> Subscription:
        """Subscribe before reading the state: nothing published in between is missed. The
        stream closes its subscription when it ends."""
        subscription = Subscription(str(batch_id), self)
        self._streams.setdefault(subscription.batch_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self._streams.get(subscription.batch_id)
        if streams is not None:
            streams.discard(subscription)
            if not streams:
                del self._streams[subscription.batch_id]

    def watches(self, batch_id: str) -> bool:
        return batch_id in self._streams

    def publish(self, message: StreamMessage) -> None:
        for subscription in self._streams.get(message.data["batch_id"], ()):
            subscription.put(message)
            self.delivered_total += 1

    def resync_all(self) -> None:
        self.cache.drop_running()
        for streams in self._streams.values():
            for subscription in streams:
                subscription.put(RESYNC)

    async def on_log_lost(self) -> None:
        """The broker lost its log (av_shared.broker_epoch): events may be gone, so every
        stream reads its batch's state again."""
        self.resync_all()

    def offer(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the status topic: parsed only when it is progress of a watched batch."""
        if key is None or value is None or _PROGRESSED not in value:
            return
        batch_id = key.decode(errors="replace")
        if not self.watches(batch_id) and batch_id not in self.cache:
            return
        try:
            event = parse_event(value)
        except ValueError as exc:
            log.warning("unreadable progress event skipped: %r", exc)
            return
        if isinstance(event, BatchProgressed):
            self.cache.apply(event)
            if self.watches(batch_id):
                self.publish(from_event(event))

    async def run(self, settings: CommonSettings) -> None:
        """Read the status topic for ever, reconnecting with backoff."""
        backoff = Backoff(base=0.5, cap=10.0)
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=settings.kafka_bootstrap_servers,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="latest",  # a broker that lost its log: go on at its end
                **client_options(settings),
            )
            try:
                await consumer.start()
                await self._assign_at_end(consumer)
                backoff.reset()
                self.reader_starts += 1
                self.resync_all()  # whatever came while no reader was positioned
                while True:
                    batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
                    for records in batches.values():
                        for record in records:
                            self.offer(record.key, record.value)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning("progress reader: %r; again in %.1fs", exc, delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    @staticmethod
    async def _assign_at_end(consumer: AIOKafkaConsumer) -> None:
        partitions: set[int] | None = None
        for _ in range(30):
            await consumer.topics()  # refreshes the metadata
            partitions = consumer.partitions_for_topic(BATCH_STATUS.name)
            if partitions:
                break
            await asyncio.sleep(1.0)
        if not partitions:
            raise RuntimeError(f"topic {BATCH_STATUS.name} has no partitions yet")
        assigned = [TopicPartition(BATCH_STATUS.name, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for partition in assigned:  # resolve the positions now, not at the first fetch
            await consumer.position(partition)


async def follow(
    subscription: Subscription,
    first: StreamMessage,
    last_seen: int,
    reread: Callable[[], Awaitable[StreamMessage]],
    heartbeat_seconds: float,
) -> AsyncIterator[StreamMessage | None]:
    """What one stream sends: `first` (the state when it opened), then each newer state as the
    hub delivers it, None when a heartbeat is due; it ends after the terminal state. Only ids
    above `last_seen` (the client's Last-Event-ID) go out: a resumed stream skips what the
    client has, and a stale or repeated event is dropped."""
    item: StreamMessage | str | None = first
    while True:
        if item == RESYNC:
            try:
                item = await reread()
            except Exception as exc:  # the batch service away: the next event says as much
                log.warning(
                    "stream of batch %s could not re-read it: %r", subscription.batch_id, exc
                )
                item = None
        if isinstance(item, StreamMessage):
            if item.id > last_seen:
                last_seen = item.id
                yield item
                if item.terminal:
                    return
            elif item.terminal:
                return  # the client has the final state already
        item = await subscription.next(heartbeat_seconds)
        if item is None:
            yield None
