"""What every service process runs besides its HTTP API: the database engine, the Kafka producer,
the outbox relay and the event consumers. Started and stopped from the FastAPI lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping, Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from sqlalchemy import Table, text

from .db import create_engine, create_session_factory, wait_for_database
from .events import Event
from .kafka import EventConsumer, EventHandler, ensure_topics, make_producer, start_producer
from .outbox import OutboxRelay
from .retry import Backoff
from .settings import CommonSettings
from .topics import TopicSpec

log = logging.getLogger(__name__)


class ServiceRuntime:
    def __init__(
        self, *, settings: CommonSettings, schema: str, service: str,
        outbox: Table, dead_letters: Table,
    ) -> None:
        self.settings = settings
        self.service = service
        self.engine = create_engine(
            settings.database_url, schema=schema, pool_size=settings.database_pool_size,
            app_name=f"{service}:{settings.instance_id}",
        )
        self.sessions = create_session_factory(self.engine)
        self.producer = make_producer(settings)
        self.relay = OutboxRelay(
            sessions=self.sessions, outbox=outbox, producer=self.producer,
            database_url=settings.database_url, batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
        )
        self.dead_letters = dead_letters
        self.broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=None)
        self.consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.consumers_started = False

    def subscribe(
        self, topics: Sequence[TopicSpec], *, group: str,
        handlers: Mapping[type[Event], EventHandler],
    ) -> EventConsumer:
        consumer = EventConsumer(
            group=group, handlers=handlers, sessions=self.sessions,
            dead_letters=self.dead_letters, producer=self.producer, settings=self.settings,
        )
        self.broker.subscriber(
            *(t.name for t in topics), group_id=group, ack_policy=AckPolicy.ACK,
            auto_offset_reset="earliest", max_poll_interval_ms=600_000,
            title=f"{group}:{','.join(t.name for t in topics)}",
        )(consumer.handle)
        self.consumers.append(consumer)
        return consumer

    async def start(self) -> None:
        await wait_for_database(self.engine)
        await start_producer(self.producer)
        await self._retry("creating topics", lambda: ensure_topics(
            self.settings.kafka_bootstrap_servers, self.settings.kafka_partitions))
        self.spawn(self.relay.run(), "outbox-relay")
        if self.consumers:
            # Joining a consumer group can take a rebalance; the HTTP API need not wait for it.
            self.spawn(self._retry("starting consumers", self._start_consumers), "consumers")

    async def _start_consumers(self) -> None:
        await self.broker.start()
        self.consumers_started = True

    def spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def stop_consuming(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.stop(), self.settings.shutdown_grace_seconds)

    async def stop(self) -> None:
        """Graceful: stop consuming, let the relay flush what is committed, then close."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.stop(), self.settings.shutdown_grace_seconds)
        self.relay.stop()
        for task in self._tasks:
            if task.get_name() not in ("outbox-relay",):
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.relay.publish_pending(), 5)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.producer.stop()
        await self.engine.dispose()

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
        if self.consumers:
            checks["consumers"] = "ok" if self.consumers_started else "joining"
        return checks

    async def _retry(self, what: str, action: Any) -> None:
        backoff = Backoff(0.5, 10.0)
        while True:
            try:
                await action()
                return
            except Exception as exc:
                delay = backoff.next_delay()
                log.warning("%s failed (%r); retrying in %.1fs", what, exc, delay)
                await asyncio.sleep(delay)


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
    uvicorn.run(app, host=host, port=port, log_config=None,
                timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)))
