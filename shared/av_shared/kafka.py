"""Kafka plumbing shared by the services: producer, topic creation, the reliable event consumer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaMessage
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .events import AnyEvent, Event, parse_event
from .kafka_security import client_options
from .logging import correlation_id_var
from .retry import Backoff, is_transient
from .settings import CommonSettings
from .topics import ALL_TOPICS, DEAD_LETTERS
from .tracing import annotate_event, consume_span

log = logging.getLogger(__name__)

EventHandler = Callable[[Any], Awaitable[None]]


def make_producer(settings: CommonSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **client_options(settings),
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=5,
        request_timeout_ms=30_000,
        client_id=f"{settings.instance_id}-producer",
    )


async def start_producer(producer: AIOKafkaProducer) -> None:
    """Services start in any order: wait for the broker with backoff and a clear log line."""
    backoff = Backoff(base=0.5, cap=10.0)
    while True:
        try:
            await producer.start()
            return
        except Exception as exc:
            delay = backoff.next_delay()
            log.warning("waiting for the Kafka broker (%r); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)


async def ensure_topics(
    bootstrap_servers: str, default_partitions: int, replication_factor: int = 1, **options: Any
) -> list[str]:
    """Create every topic that does not exist yet; returns the names created. `options`: the
    client's security (av_shared.kafka_security.client_options)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                spec.name,
                spec.partitions or default_partitions,
                replication_factor=replication_factor,
                topic_configs=dict(spec.configs),
            )
            for spec in ALL_TOPICS
            if spec.name not in existing
        ]
        for topic in missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
                await admin.create_topics([topic])
        return [t.name for t in missing]
    finally:
        await admin.close()


class EventConsumer:
    """Handles the events of one consumer group.

    - the effect is applied by the handler in its own transaction (with its inbox check);
    - infrastructure errors (database or broker away) are retried without limit;
    - any other error is retried `max_attempts` times with backoff, then the event goes to the
      dead-letter topic (and the service's dead_letters table) and consumption goes on;
    - the subscriber runs with AckPolicy.ACK: offsets are committed only after this returns,
      so a crash mid-event means redelivery, never loss.
    """

    def __init__(
        self,
        *,
        group: str,
        handlers: Mapping[type[Event], EventHandler],
        sessions: async_sessionmaker[AsyncSession],
        dead_letters: Table,
        producer: AIOKafkaProducer,
        settings: CommonSettings,
    ) -> None:
        self.group = group
        self._handlers = dict(handlers)
        self._sessions = sessions
        self._dead_letters = dead_letters
        self._producer = producer
        self._settings = settings
        self.dead_lettered_total = 0
        self.handled_total = 0
        self._in_flight = 0

    @property
    def busy(self) -> bool:
        """A handler is running (possibly waiting for the database to come back)."""
        return self._in_flight > 0

    async def handle(self, msg: KafkaMessage) -> None:
        self._in_flight += 1
        try:
            record = _record(msg)
            # Tracing on: handled in a span, child of the record's traceparent (a nullcontext off).
            with consume_span(
                topic=record.topic,
                group=self.group,
                partition=record.partition,
                offset=record.offset,
                headers=record.headers,
            ):
                await self._handle(msg)
        finally:
            self._in_flight -= 1

    async def _handle(self, msg: KafkaMessage) -> None:
        record = _record(msg)
        attempts = 0
        backoff = Backoff(
            self._settings.consumer_retry_base_seconds, self._settings.consumer_retry_max_seconds
        )
        while True:
            try:
                await self._apply(msg.body)
                self.handled_total += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    delay = backoff.next_delay()
                    log.warning(
                        "transient error on %s[%s]@%s: %r; retrying in %.1fs",
                        record.topic,
                        record.partition,
                        record.offset,
                        exc,
                        min(delay, 30),
                    )
                    await asyncio.sleep(delay)
                    continue
                attempts += 1
                if attempts >= self._settings.consumer_max_attempts:
                    await self._dead_letter(msg, exc, attempts)
                    return
                delay = backoff.next_delay()
                log.warning(
                    "event %s[%s]@%s failed (attempt %d): %r",
                    record.topic,
                    record.partition,
                    record.offset,
                    attempts,
                    exc,
                )
                await asyncio.sleep(delay)
            finally:
                correlation_id_var.set(None)

    async def _apply(self, body: bytes) -> None:
        event: AnyEvent = parse_event(body)
        correlation_id_var.set(event.correlation_id)
        annotate_event(event)
        handler = self._handlers.get(type(event))
        if handler is None:
            return  # an event type this group does not act on (topics carry several types)
        await handler(event)

    async def _dead_letter(self, msg: KafkaMessage, exc: Exception, attempts: int) -> None:
        record = _record(msg)
        payload = msg.body.decode("utf-8", errors="replace")
        error = f"{type(exc).__name__}: {_short_error(exc)}"
        key = record.key.decode("utf-8", errors="replace") if record.key else None
        letter = {
            "consumer_group": self.group,
            "service_instance": self._settings.instance_id,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "partition_key": key,
            "payload": payload,
            "error": error,
            "attempts": attempts,
            "failed_at_ms": int(time.time() * 1000),
        }
        backoff = Backoff(0.5, 10.0)
        while True:  # a dead letter must not be lost either: retry until both writes succeed
            try:
                async with self._sessions() as session, session.begin():
                    await session.execute(
                        insert(self._dead_letters)
                        .on_conflict_do_nothing()
                        .values(
                            consumer_group=self.group,
                            topic=record.topic,
                            partition=record.partition,
                            offset=record.offset,
                            partition_key=key,
                            payload=payload,
                            error=error,
                            attempts=attempts,
                            detail=letter,
                        )
                    )
                await self._producer.send_and_wait(
                    DEAD_LETTERS.name,
                    json.dumps(letter).encode(),
                    key=(key or "").encode() or None,
                )
                break
            except asyncio.CancelledError:
                raise
            except Exception as write_exc:
                log.warning("cannot record dead letter yet: %r", write_exc)
                await asyncio.sleep(backoff.next_delay())
        self.dead_lettered_total += 1
        log.error(
            "dead-lettered %s[%s]@%s after %d attempts: %s",
            record.topic,
            record.partition,
            record.offset,
            attempts,
            error,
        )


def _record(msg: KafkaMessage) -> ConsumerRecord[bytes, bytes]:
    """The Kafka record of a message (one record: these subscribers do not batch)."""
    return cast("ConsumerRecord[bytes, bytes]", msg.raw_message)


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
    return str(exc)[:1000]
