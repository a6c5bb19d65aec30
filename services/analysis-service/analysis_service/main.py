"""Composition root of the analysis service: consumers, workers, Keepa, internal API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from av_shared.events import BatchChunkSubmitted, BatchStatusChanged, ChunkRedispatched
from av_shared.health import health_router
from av_shared.internal_auth import mount_internal_api
from av_shared.logging import configure_logging
from av_shared.metrics import metrics_router
from av_shared.runtime import ServiceRuntime
from av_shared.topics import BATCH_STATUS, BATCH_SUBMISSIONS, CHUNK_DISPATCH
from av_shared.tracing import http_telemetry

from .adapters.keepa_client import KeepaClient, OnTokens
from .adapters.market_data import MarketData
from .adapters.token_budget import TokenBudget
from .api import insights
from .api.books import router as books_router
from .api.routes import router
from .db.tables import SCHEMA, broker_epoch, dead_letters, outbox
from .eta import EtaEstimator
from .handlers import AnalysisHandlers
from .processor import ChunkProcessor, WorkerPool
from .settings import AnalysisServiceSettings
from .work_queue import WorkQueue

log = logging.getLogger(__name__)


def build_keepa_client(settings: AnalysisServiceSettings, on_tokens: OnTokens) -> KeepaClient:
    base_url, api_key = settings.keepa_endpoint
    return KeepaClient(
        base_url=base_url,
        api_key=api_key,
        domain=settings.keepa_domain,
        stats_days=settings.keepa_stats_days,
        offers=settings.keepa_offers,
        read_timeout_s=settings.keepa_timeout_seconds,
        max_retries=settings.keepa_max_retries,
        max_token_wait_s=settings.keepa_max_token_wait_seconds,
        on_tokens=on_tokens,
    )


class AnalysisService:
    """Everything one analysis-service process runs, wired together."""

    def __init__(self, settings: AnalysisServiceSettings) -> None:
        self.settings = settings
        self.runtime = ServiceRuntime(
            settings=settings,
            schema=SCHEMA,
            service="analysis-service",
            outbox=outbox,
            dead_letters=dead_letters,
            broker_epoch=broker_epoch,
        )
        sessions = self.runtime.sessions
        self.budget = TokenBudget(
            sessions,
            instant_reserve=settings.keepa_instant_reserve_tokens,
            charge_latency_seconds=settings.keepa_charge_latency_seconds,
        )
        # Every envelope, 429s included, corrects the shared bucket (without a grant it can only
        # lower the estimate), so waiting workers learn of an empty bucket from one refusal.
        self.keepa = build_keepa_client(settings, self.budget.sync)
        self.market = MarketData(
            sessions=sessions,
            client=self.keepa,
            budget=self.budget,
            ttl=timedelta(seconds=settings.market_cache_ttl_seconds),
            reuse_synthetic=not settings.uses_real_keepa,
        )
        self.queue = WorkQueue(
            sessions,
            lease=timedelta(seconds=settings.chunk_lease_seconds),
            worker_id=settings.instance_id,
            daily_tokens=settings.keepa_owner_daily_tokens,
        )
        self.processor = ChunkProcessor(sessions, self.market, self.queue, settings.instance_id)
        self.workers = WorkerPool(
            self.processor,
            size=settings.workers,
            poll_seconds=settings.work_poll_seconds,
            database_url=settings.database_url,
        )
        self.eta = EtaEstimator(self.queue, self.budget, self.keepa.tokens_per_product())
        handlers = AnalysisHandlers(sessions)
        self.runtime.subscribe(
            [BATCH_SUBMISSIONS, CHUNK_DISPATCH, BATCH_STATUS],
            group=settings.consumer_group,
            handlers={
                BatchChunkSubmitted: handlers.chunk_submitted,
                ChunkRedispatched: handlers.chunk_submitted,
                BatchStatusChanged: handlers.batch_status_changed,
            },
        )

    async def start(self) -> None:
        await self.runtime.start()
        await self.budget.ensure_row()
        self.runtime.spawn(self.workers.run(), "workers")
        self.runtime.spawn(self._purge_old_snapshots(), "snapshot-retention")

    async def _purge_old_snapshots(self) -> None:
        """History is kept for the retention period, then dropped, and so is token use older
        than a seller's share window (hourly, any instance)."""
        while True:
            try:
                await self.market.purge_older_than(self.settings.market_snapshot_retention_days)
                await self.queue.forget_token_usage()
            except Exception as exc:  # the database may be away; next hour will do
                log.warning("snapshot retention: %r", exc)
            await asyncio.sleep(3600)

    async def stop(self) -> None:
        """SIGTERM: stop fetching events, finish or hand back the chunks in progress, then flush
        the outbox (their completions) and close."""
        await self.runtime.stop_consuming()
        await self.workers.shutdown(self.settings.shutdown_grace_seconds)
        await self.runtime.stop()
        await self.keepa.aclose()


def create_app(settings: AnalysisServiceSettings | None = None) -> FastAPI:
    settings = settings or AnalysisServiceSettings()
    configure_logging("analysis-service", settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = AnalysisService(settings)
        app.state.runtime = service.runtime
        app.state.market = service.market
        app.state.eta = service.eta
        app.state.instance_id = settings.instance_id
        app.state.service = service
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="ArbitrageVault analysis service (internal)",
        lifespan=lifespan,
        telemetry=http_telemetry(),  # server spans when tracing is on (av_shared.tracing)
    )
    mount_internal_api(
        app,
        router,
        audience="analysis-service",
        secret=settings.internal_auth_secret.get_secret_value(),
    )
    mount_internal_api(
        app,
        books_router,
        audience="analysis-service",
        secret=settings.internal_auth_secret.get_secret_value(),
    )
    mount_internal_api(
        app,
        insights.router,
        audience="analysis-service",
        secret=settings.internal_auth_secret.get_secret_value(),
    )

    async def extra_metrics() -> dict[str, float]:
        service: AnalysisService = app.state.service
        queued = await service.queue.queued_items()
        bucket = await service.budget.state()
        return {
            "queued_items": sum(queued.values()),
            "owners_waiting": len(queued),
            "items_analysed_total": service.processor.items_analysed,
            "keepa_products_fetched_total": service.market.fetched_products,
            "keepa_tokens_estimated": round(bucket.tokens, 1),
            "keepa_refill_rate_per_minute": bucket.refill_rate_per_minute,
        }

    app.include_router(metrics_router("analysis-service", extra_metrics))

    app.include_router(health_router())

    return app
