"""Composition root of the batch service: consumers, outbox relay, internal API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import func, select

from av_shared.events import (
    BatchCancelRequested,
    BatchChunkSubmitted,
    BatchSubmitted,
    ChunkAnalysed,
    ChunkStillQueued,
)
from av_shared.health import health_router
from av_shared.internal_auth import mount_internal_api
from av_shared.logging import configure_logging
from av_shared.metrics import metrics_router
from av_shared.runtime import ServiceRuntime
from av_shared.topics import BATCH_COMMANDS, BATCH_SUBMISSIONS, CHUNK_RESULTS
from av_shared.tracing import http_telemetry

from .api.routes import router
from .db.tables import SCHEMA, batch_chunks, broker_epoch, dead_letters, outbox
from .handlers import BatchHandlers
from .reconciler import ChunkReconciler
from .settings import BatchServiceSettings


def build_runtime(settings: BatchServiceSettings) -> tuple[ServiceRuntime, ChunkReconciler]:
    runtime = ServiceRuntime(
        settings=settings,
        schema=SCHEMA,
        service="batch-service",
        outbox=outbox,
        dead_letters=dead_letters,
        broker_epoch=broker_epoch,
    )
    deadline = timedelta(seconds=settings.chunk_deadline_seconds)
    handlers = BatchHandlers(runtime.sessions, deadline)
    reconciler = ChunkReconciler(
        runtime.sessions,
        deadline,
        settings.chunk_max_dispatches,
        settings.reconcile_interval_seconds,
        handlers.chunk_analysed,
    )
    # Completions (and still-queued answers) lost with the broker's log: ask again for every
    # open chunk now, instead of when its deadline passes.
    runtime.epoch_watch.on_service_lost(reconciler.redispatch_open_chunks)
    runtime.subscribe(
        [BATCH_SUBMISSIONS, BATCH_COMMANDS, CHUNK_RESULTS],
        group=settings.consumer_group,
        handlers={
            BatchSubmitted: handlers.batch_submitted,
            BatchChunkSubmitted: handlers.chunk_submitted,
            ChunkAnalysed: handlers.chunk_analysed,
            BatchCancelRequested: handlers.cancel_requested,
            ChunkStillQueued: handlers.chunk_still_queued,
        },
    )
    return runtime, reconciler


def create_app(settings: BatchServiceSettings | None = None) -> FastAPI:
    settings = settings or BatchServiceSettings()
    configure_logging("batch-service", settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime, reconciler = build_runtime(settings)
        app.state.runtime = runtime
        app.state.reconciler = reconciler
        await runtime.start()
        runtime.spawn(reconciler.run(), "chunk-reconciler")
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="ArbitrageVault batch service (internal)",
        lifespan=lifespan,
        telemetry=http_telemetry(),  # server spans when tracing is on (av_shared.tracing)
    )
    mount_internal_api(
        app,
        router,
        audience="batch-service",
        secret=settings.internal_auth_secret.get_secret_value(),
    )

    async def extra_metrics() -> dict[str, float]:
        reconciler: ChunkReconciler = app.state.reconciler
        async with app.state.runtime.sessions() as session:
            overdue = await session.scalar(
                select(func.count())
                .select_from(batch_chunks)
                .where(batch_chunks.c.status == "WAITING", batch_chunks.c.deadline_at < func.now())
            )
            waiting = await session.scalar(
                select(func.count())
                .select_from(batch_chunks)
                .where(batch_chunks.c.status == "WAITING")
            )
        return {
            "chunks_waiting": waiting or 0,
            "chunks_awaiting_redispatch": overdue or 0,
            "chunks_redispatched_total": reconciler.redispatched_total,
            "chunks_given_up_total": reconciler.failed_chunks_total,
        }

    app.include_router(metrics_router("batch-service", extra_metrics))

    app.include_router(health_router())

    return app
