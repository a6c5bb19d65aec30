"""Composition root of the batch service: consumers, outbox relay, internal API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from av_shared.events import BatchCancelRequested, BatchChunkSubmitted, BatchSubmitted, ChunkAnalysed
from av_shared.logging import configure_logging
from av_shared.runtime import ServiceRuntime
from av_shared.topics import BATCH_COMMANDS, BATCH_SUBMISSIONS, CHUNK_RESULTS

from .api.routes import router
from .db.tables import SCHEMA, dead_letters, outbox
from .handlers import BatchHandlers
from .settings import BatchServiceSettings


def build_runtime(settings: BatchServiceSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, schema=SCHEMA, service="batch-service",
                             outbox=outbox, dead_letters=dead_letters)
    handlers = BatchHandlers(runtime.sessions, timedelta(seconds=settings.chunk_deadline_seconds))
    runtime.subscribe(
        [BATCH_SUBMISSIONS, BATCH_COMMANDS, CHUNK_RESULTS], group=settings.consumer_group,
        handlers={
            BatchSubmitted: handlers.batch_submitted,
            BatchChunkSubmitted: handlers.chunk_submitted,
            ChunkAnalysed: handlers.chunk_analysed,
            BatchCancelRequested: handlers.cancel_requested,
        },
    )
    return runtime


def create_app(settings: BatchServiceSettings | None = None) -> FastAPI:
    settings = settings or BatchServiceSettings()
    configure_logging("batch-service", settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings)
        app.state.runtime = runtime
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="ArbitrageVault batch service (internal)", lifespan=lifespan)
    app.include_router(router)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> Any:
        checks = await app.state.runtime.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                            status_code=200 if ok else 503)

    return app
