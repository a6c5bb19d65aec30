"""Transactional outbox: events are rows written with the state change, then published by a relay.

Several relays may run at once (one per process): each takes unsent rows with
FOR UPDATE SKIP LOCKED, publishes them with acks=all and marks them sent in the same transaction.
The relay wakes on NOTIFY (sent by the writer's transaction at commit) and polls as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db import raw_dsn
from .events import Event, serialize_event
from .retry import Backoff
from .topics import TopicSpec
from .tracing import PublishSpans, current_traceparent

log = logging.getLogger(__name__)


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


async def add_to_outbox(
    session: AsyncSession,
    outbox: Table,
    *,
    topic: TopicSpec,
    events: Sequence[Event],
    aggregate_id: uuid.UUID | None = None,
) -> None:
    """Write events in the caller's transaction; the relay is notified when it commits. Each row
    keeps the current trace context (tracing on): the relay's publish continues the trace."""
    if not events:
        return
    traceparent = current_traceparent()
    rows = [
        {
            "event_id": event.event_id,
            "event_type": getattr(event, "event_type", type(event).__name__),
            "topic": topic.name,
            "partition_key": event.partition_key(),
            "payload": serialize_event(event).decode(),
            "aggregate_id": aggregate_id,
            "traceparent": traceparent,
        }
        for event in events
    ]
    await session.execute(outbox.insert(), rows)
    channel = notify_channel(outbox.schema or "public")
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


class OutboxRelay:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        producer: AIOKafkaProducer,
        database_url: str,
        batch_size: int,
        poll_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._producer = producer
        self._dsn = raw_dsn(database_url)
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self.published_total = 0

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="outbox-listen")
        backoff = Backoff(base=0.2, cap=5.0)
        try:
            while not self._stopping:
                try:
                    while await self.publish_pending() == self._batch_size:
                        pass
                    backoff.reset()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    delay = backoff.next_delay()
                    log.warning("outbox relay: %r; retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
                self._wake.clear()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; returns how many were sent."""
        o = self._outbox
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(
                        o.c.id,
                        o.c.topic,
                        o.c.partition_key,
                        o.c.payload,
                        o.c.event_type,
                        o.c.traceparent,
                    )
                    .where(o.c.sent_at.is_(None))
                    .order_by(o.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            spans = PublishSpans()  # a producer span per record (tracing on), its traceparent
            try:
                sends = [
                    await self._producer.send(
                        row.topic,
                        value=row.payload.encode(),
                        key=row.partition_key.encode(),
                        headers=spans.headers(row.topic, row.event_type, row.traceparent),
                    )
                    for row in rows
                ]
                await asyncio.gather(*sends)  # every record acknowledged (acks=all) before marking
            except BaseException as exc:
                spans.end(exc)
                raise
            spans.end()
            await session.execute(
                update(o)
                .where(o.c.id.in_([row.id for row in rows]))
                .values(sent_at=func.now(), publish_count=o.c.publish_count + 1)
            )
        self.published_total += len(rows)
        return len(rows)

    async def flush(self) -> int:
        """Publish everything unsent (shutdown); returns how many were sent."""
        total = 0
        while (sent := await self.publish_pending()) > 0:
            total += sent
        return total

    async def backlog(self) -> int:
        o = self._outbox
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(o).where(o.c.sent_at.is_(None))
            )
        return int(count or 0)

    async def _listen(self) -> None:
        """LISTEN for commits that wrote outbox rows; reconnect when the database goes away."""
        channel = notify_channel(self._outbox.schema or "public")
        backoff = Backoff(base=0.5, cap=10.0)
        while not self._stopping:
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
            except Exception as exc:
                await asyncio.sleep(backoff.next_delay())
                log.debug("outbox listener cannot connect: %r", exc)
                continue
            backoff.reset()
            try:
                await conn.add_listener(channel, lambda *_: self._wake.set())
                self._wake.set()  # a NOTIFY sent while we were away is lost: look once now
                while not self._stopping and not conn.is_closed():  # a restart closes it
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopped.wait(), 1.0)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
