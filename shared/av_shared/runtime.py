"""What every service process runs besides its HTTP API: the database engine, the Kafka producer,
the outbox relay and the event consumers. Started and stopped from the FastAPI lifespan.

The consumers are supervised: aiokafka rejoins its group by itself when the broker comes back
(a restarted broker that lost its memory answers "unknown member": the consumer resets and
rejoins, and with no committed offset left starts from the earliest record). What it does not
survive is a consume loop that ended or a consumer that stopped making progress while records
wait; then the runtime throws the FastStream broker away and starts a new one (new consumers,
a fresh join of the group), with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from sqlalchemy import Table, text

from .broker_epoch import BrokerEpochWatch, EpochStore
from .db import create_engine, create_session_factory, wait_for_database
from .events import Event
from .kafka import EventConsumer, EventHandler, ensure_topics, make_producer, start_producer
from .kafka_security import broker_security, client_options
from .outbox import OutboxRelay
from .retry import Backoff, retry_forever
from .settings import CommonSettings
from .topics import TopicSpec
from .tracing import enabled as tracing_enabled
from .tracing import flush as flush_traces
from .tracing import setup_tracing

log = logging.getLogger(__name__)


@dataclass
class _Subscription:
    topics: tuple[str, ...]
    group: str
    consumer: EventConsumer
    # partition -> (position, when it last moved): the stall detector's memory
    progress: dict[TopicPartition, tuple[int, float]] = field(default_factory=dict)


class ServiceRuntime:
    def __init__(
        self,
        *,
        settings: CommonSettings,
        schema: str,
        service: str,
        outbox: Table,
        dead_letters: Table,
        broker_epoch: Table,
    ) -> None:
        self.settings = settings
        self.service = service
        setup_tracing(settings, service)  # off unless OTEL_EXPORTER_OTLP_ENDPOINT is set
        self.engine = create_engine(
            settings.database_url,
            schema=schema,
            pool_size=settings.database_pool_size,
            app_name=f"{service}:{settings.instance_id}",
        )
        self.sessions = create_session_factory(self.engine)
        self.producer = make_producer(settings)
        self.relay = OutboxRelay(
            sessions=self.sessions,
            outbox=outbox,
            producer=self.producer,
            database_url=settings.database_url,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
        )
        self.dead_letters = dead_letters
        self.epoch_watch = BrokerEpochWatch(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            producer=self.producer,
            store=EpochStore(self.sessions, broker_epoch),
            client_options=client_options(settings),
            ensure_topics=self._ensure_topics,
        )
        self.epoch_watch.on_process_lost(self._read_new_log_from_start)
        self._subscriptions: list[_Subscription] = []
        self.broker = self._new_broker()
        self.consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.consumers_started = False
        self.consumer_restarts = 0
        self._stopping = False

    def subscribe(
        self,
        topics: Sequence[TopicSpec],
        *,
        group: str,
        handlers: Mapping[type[Event], EventHandler],
    ) -> EventConsumer:
        consumer = EventConsumer(
            group=group,
            handlers=handlers,
            sessions=self.sessions,
            dead_letters=self.dead_letters,
            producer=self.producer,
            settings=self.settings,
        )
        subscription = _Subscription(tuple(t.name for t in topics), group, consumer)
        self._subscriptions.append(subscription)
        self._attach(self.broker, subscription)
        self.consumers.append(consumer)
        return consumer

    def _new_broker(self) -> KafkaBroker:
        broker = KafkaBroker(
            self.settings.kafka_bootstrap_servers,
            logger=None,
            graceful_timeout=self.settings.shutdown_grace_seconds,
            security=broker_security(self.settings),
        )
        for subscription in self._subscriptions:
            self._attach(broker, subscription)
        return broker

    def _attach(self, broker: KafkaBroker, subscription: _Subscription) -> None:
        broker.subscriber(
            *subscription.topics,
            group_id=subscription.group,
            ack_policy=AckPolicy.ACK,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_session_timeout_ms // 3,
            title=f"{subscription.group}:{','.join(subscription.topics)}",
        )(subscription.consumer.handle)

    async def start(self) -> None:
        await wait_for_database(self.engine)
        await start_producer(self.producer)
        await retry_forever("creating topics", self._ensure_topics)
        self.spawn(self.relay.run(), "outbox-relay")
        self.spawn(self.epoch_watch.run(), "broker-epoch")
        if self._subscriptions:
            # Joining a consumer group can take a rebalance; the HTTP API need not wait for it.
            self.spawn(self._consume(), "consumers")

    async def _ensure_topics(self) -> list[str]:
        return await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            self.settings.kafka_partitions,
            self.settings.kafka_replication_factor,
            **client_options(self.settings),
        )

    def spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    # -- consumers ------------------------------------------------------------------------------
    async def _consume(self) -> None:
        """Start the consumers, watch them, and start new ones when they stop or stall."""
        backoff = Backoff(0.5, 10.0)
        while not self._stopping:
            try:
                await self._start_broker()
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning("starting consumers failed (%r); retrying in %.1fs", exc, delay)
                await self._replace_broker()
                await asyncio.sleep(delay)
                continue
            self.consumers_started = True
            reason = await self._watch_consumers()
            if self._stopping:
                return
            self.consumers_started = False
            self.consumer_restarts += 1
            delay = backoff.next_delay()
            log.warning(
                "consumers %s: starting new ones (rejoining the group) in %.1fs", reason, delay
            )
            await self._replace_broker()
            await asyncio.sleep(delay)

    async def _start_broker(self) -> None:
        """Start the consumers: returns once each has joined its group and got its partitions."""
        started = time.monotonic()
        starting = asyncio.ensure_future(self.broker.start())
        while True:
            done, _ = await asyncio.wait({starting}, timeout=10)
            if done:
                starting.result()
                break
            log.warning(
                "consumers of %s still joining their group after %.0fs",
                ", ".join(s.group for s in self._subscriptions),
                time.monotonic() - started,
            )
        log.info(
            "consumers of %s joined their group in %.1fs",
            ", ".join(s.group for s in self._subscriptions),
            time.monotonic() - started,
        )

    async def _replace_broker(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.stop(), self.settings.shutdown_grace_seconds)
        self.broker = self._new_broker()

    async def _watch_consumers(self) -> str:
        """Returns (only) when the consumers need replacing, saying why. Meanwhile, every second,
        rewinds partitions whose position lies beyond their end (see `_rewind_beyond_end`)."""
        stall = self.settings.consumer_stall_seconds
        for subscription in self._subscriptions:
            subscription.progress.clear()
        started = time.monotonic()
        while not self._stopping:
            await asyncio.sleep(1.0)
            for subscription, subscriber in zip(
                self._subscriptions, self.broker.subscribers, strict=False
            ):
                consumer: AIOKafkaConsumer | None = getattr(subscriber, "consumer", None)
                tasks = getattr(subscriber, "tasks", [])
                if consumer is None or not any(not t.done() for t in tasks):
                    return f"of group {subscription.group} stopped consuming"
                positions = await _positions(consumer)
                await _rewind_beyond_end(subscription.group, consumer, positions)
                if subscription.consumer.busy:
                    # A handler that waits for the database is not stuck: new consumers would not
                    # help it. Forget the clock so that waiting is not counted as a stall.
                    subscription.progress.clear()
                    continue
                stuck = _stuck_partition(subscription, positions, stall)
                if stuck is not None and time.monotonic() - started > stall:
                    return (
                        f"of group {subscription.group} made no progress on {stuck} for "
                        f"{stall:.0f}s while records wait"
                    )
        return "stopping"

    async def _read_new_log_from_start(self) -> None:
        """The broker lost its log: every position this process holds points into the old one.
        Everything in the new log is new to us: read each held partition from its start."""
        for subscriber in self.broker.subscribers:
            consumer: AIOKafkaConsumer | None = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            for tp in list(consumer.assignment()):
                with contextlib.suppress(Exception):  # no longer assigned: the next owner reads
                    await consumer.seek_to_beginning(tp)

    async def consumer_lag(self) -> list[dict[str, Any]]:
        """Lag of this process's consumers, from their own positions: per group and topic, the
        records between what they consumed and the end of the partitions they hold. Summed over
        every instance it is the group's lag."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for subscription, subscriber in zip(
            self._subscriptions, self.broker.subscribers, strict=False
        ):
            for topic in subscription.topics:
                rows[(subscription.group, topic)] = {
                    "group": subscription.group,
                    "topic": topic,
                    "lag": 0,
                    "partitions": 0,
                }
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            for tp, position, highwater in await _positions(consumer):
                row = rows.setdefault(
                    (subscription.group, tp.topic),
                    {"group": subscription.group, "topic": tp.topic, "lag": 0, "partitions": 0},
                )
                row["partitions"] += 1
                if highwater is not None:
                    row["lag"] += max(highwater - position, 0)
        return list(rows.values())

    # -- shutdown -------------------------------------------------------------------------------
    async def stop_consuming(self) -> None:
        """Stop fetching events: a handler in progress finishes (its offset is committed) within
        the grace period; what was fetched and not handled is redelivered to the next owner."""
        self._stopping = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.stop(), self.settings.shutdown_grace_seconds)

    async def stop(self) -> None:
        """Graceful: stop consuming, let the relay flush what is committed, then close."""
        await self.stop_consuming()
        for task in self._tasks:
            if task.get_name() != "outbox-relay":
                task.cancel()
        await asyncio.gather(
            *(t for t in self._tasks if t.get_name() != "outbox-relay"), return_exceptions=True
        )
        self.relay.stop()
        try:
            flushed = await asyncio.wait_for(self.relay.flush(), 10)
            if flushed:
                log.info("outbox flushed on shutdown: %d event(s) published", flushed)
        except Exception as exc:  # they stay in the outbox: the next relay publishes them
            log.warning("outbox not flushed on shutdown (%r): the next start publishes it", exc)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.producer.stop(), 10)
        await self.engine.dispose()
        if tracing_enabled():
            await asyncio.to_thread(flush_traces)  # the last spans, before the process exits

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 3)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 3)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unavailable: {type(exc).__name__}"
        if self._subscriptions:
            checks["consumers"] = "ok" if self.consumers_started else "joining"
        return checks


async def _positions(consumer: AIOKafkaConsumer) -> list[tuple[TopicPartition, int, int | None]]:
    """(partition, position, last known end offset) of each partition the consumer holds."""
    found = []
    for tp in list(consumer.assignment()):
        try:
            position = await asyncio.wait_for(consumer.position(tp), 1)
        except Exception:  # not assigned any more, or no position yet (rebalancing)
            continue
        found.append((tp, position, consumer.highwater(tp)))
    return found


def _stuck_partition(
    subscription: _Subscription,
    positions: list[tuple[TopicPartition, int, int | None]],
    stall: float,
) -> str | None:
    now = time.monotonic()
    for tp, position, highwater in positions:
        last = subscription.progress.get(tp)
        if last is None or last[0] != position or highwater is None or highwater <= position:
            subscription.progress[tp] = (position, now)
            continue
        if now - last[1] > stall:
            return f"{tp.topic}[{tp.partition}]@{position} (end {highwater})"
    return None


async def _rewind_beyond_end(
    group: str, consumer: AIOKafkaConsumer, positions: list[tuple[TopicPartition, int, int | None]]
) -> None:
    """A broker that lost its log (Tansu's memory storage, restarted) starts every partition at
    offset 0 again, but a consumer keeps the position it had, and commits it again once it has
    rejoined. Kafka answers a fetch beyond the end with OFFSET_OUT_OF_RANGE and the consumer
    resets; Tansu answers with nothing, so the consumer would wait, silently, until the new log
    grows past the old position, skipping everything before. A position past the partition's
    end can only come from an older log: read the partition from its start (handlers are
    idempotent)."""
    for tp, position, highwater in positions:
        if highwater is not None and position > highwater:
            log.warning(
                "group %s: position %d of %s[%d] is beyond its end %d (the broker lost "
                "its log): reading the partition from its start",
                group,
                position,
                tp.topic,
                tp.partition,
                highwater,
            )
            with contextlib.suppress(Exception):
                await consumer.seek_to_beginning(tp)


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(app: Any, *, host: str, port: int, settings: CommonSettings) -> None:
    """Run a service's ASGI app until SIGTERM/SIGINT, then shut down gracefully and exit 0.

    uvicorn catches the signal, stops accepting, waits for open requests, runs the lifespan
    shutdown (stop consuming, finish or hand back in-flight work, flush the outbox) and then
    re-raises the signal it caught with the handler that was installed before it started: with
    Python's defaults that would end the process *by* the signal (exit status -15). The handler
    installed here turns it into a normal exit with status 0, as a supervisor expects.
    """
    import uvicorn

    def _exit(signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    # Keep-alive longer than clients keep idle connections (httpx: 5 s, also the gateway's
    # pooled client to the internal APIs): when both sides time out at the same moment, a
    # request sent on a connection the server is closing fails with "disconnected without a
    # response".
    # With REUSE_PORT several processes listen on one port: the socket is bound here with
    # SO_REUSEPORT and handed to uvicorn, and the kernel spreads new connections over them.
    shared = _reuse_port_socket(host, port) if settings.reuse_port else None
    uvicorn.run(
        app,
        host=host,
        port=port,
        fd=shared.fileno() if shared is not None else None,
        log_config=None,
        timeout_keep_alive=30,
        # uvicorn would trust X-Forwarded-For from 127.0.0.1 by default: a client on the same
        # host could then name any address and escape its sign-in limit.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
    )
