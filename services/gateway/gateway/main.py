"""Composition root of the gateway: the only public API."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from av_shared.asyncapi import build_document, build_html
from av_shared.events import BatchAcknowledged, BatchStatusChanged
from av_shared.health import health_router
from av_shared.internal_auth import ServiceTokens
from av_shared.logging import configure_logging
from av_shared.metrics import metrics_router
from av_shared.runtime import ServiceRuntime
from av_shared.topics import BATCH_STATUS
from av_shared.tracing import http_telemetry

from .adapters.internal import InternalServices
from .adapters.narrative import narrator_from
from .api import admin, analyses, api_keys, auth, batches, config, exports
from .api import alerts as alerts_api
from .api import books as books_api
from .api import insights as insights_api
from .api import schedules as schedules_api
from .api import streams as streams_api
from .api import watchlists as watchlists_api
from .api import webhooks as webhooks_api
from .api.edge import install_edge
from .api.openapi import OPERATION_IDS, TAGS, customise_openapi
from .api.problems import install_problem_handlers
from .api.request_guard import install_request_guard
from .auth_cache import CredentialCache
from .db.tables import SCHEMA, broker_epoch, dead_letters, outbox, submissions
from .housekeeping import run_housekeeping
from .ratelimit import SharedCounter
from .reconciler import SubmissionReconciler
from .security import PasswordHashing, VerifiedTokens
from .settings import GatewaySettings, refuse_dev_secrets
from .streams.hub import ProgressHub
from .watchlists.scheduler import Scheduler
from .webhooks.worker import DeliveryWorker


class RateLimitHeaders:
    """The `RateLimit-*` headers of the request's count (set by the authentication dependency in
    the request's state) on its answer. Pure ASGI: no per-request task, unlike `@app.middleware`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                rate_limit = scope.get("state", {}).get("rate_limit")
                if rate_limit is not None:
                    headers = MutableHeaders(scope=message)
                    for name, value in rate_limit.headers().items():
                        if name not in headers:
                            headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        refuse_dev_secrets(settings)  # before anything starts: the process exits with the reason
        runtime = ServiceRuntime(
            settings=settings,
            schema=SCHEMA,
            service="gateway",
            outbox=outbox,
            dead_letters=dead_letters,
            broker_epoch=broker_epoch,
        )
        app.state.runtime = runtime
        reconciler = SubmissionReconciler(
            runtime.sessions,
            timedelta(seconds=settings.ack_deadline_seconds),
            timedelta(seconds=settings.republish_max_backoff_seconds),
            settings.reconcile_interval_seconds,
        )
        app.state.reconciler = reconciler
        # Submissions lost with the broker's log are published again now, not at the deadline.
        runtime.epoch_watch.on_service_lost(reconciler.republish_unacknowledged)
        runtime.subscribe(
            [BATCH_STATUS],
            group=settings.consumer_group,
            handlers={
                BatchAcknowledged: reconciler.acknowledged,
                BatchStatusChanged: reconciler.status_changed,
            },
        )
        app.state.services = InternalServices(
            batch_url=settings.batch_service_url,
            analysis_urls=settings.analysis_urls,
            timeout=settings.internal_http_timeout_seconds,
            tokens=ServiceTokens(settings.internal_auth_secret.get_secret_value()),
        )
        app.state.rate_counter = SharedCounter(runtime.sessions, settings.rate_limit_flush_seconds)
        app.state.narrator = narrator_from(settings)  # None: insights without a summary
        credential_cache = CredentialCache()
        app.state.credential_cache = credential_cache
        await runtime.start()
        # Start-up objects never die: keep them out of every full collection (~80 ms each,
        # which would otherwise stall the event loop while a large batch body is parsed).
        gc.freeze()
        runtime.spawn(reconciler.run(), "submission-reconciler")
        runtime.spawn(
            run_housekeeping(runtime.sessions, settings.rate_limit_window_seconds), "housekeeping"
        )
        runtime.spawn(credential_cache.listen(settings.database_url), "credential-cache")
        runtime.spawn(app.state.progress_hub.run(settings), "progress-hub")
        runtime.epoch_watch.on_process_lost(app.state.progress_hub.on_log_lost)
        webhook_worker = DeliveryWorker(runtime.sessions, settings, settings.instance_id)
        app.state.webhook_worker = webhook_worker
        runtime.spawn(webhook_worker.run(), "webhook-deliveries")
        scheduler = Scheduler(runtime.sessions, settings, app.state.services)
        app.state.scheduler = scheduler
        reconciler.on_finished = scheduler.poke  # a finished watchlist run: evaluate it now
        runtime.spawn(scheduler.run(), "scheduler")
        try:
            yield
        finally:
            credential_cache.stop()
            with contextlib.suppress(Exception):  # the database may be gone already
                await app.state.rate_counter.settle()
            await runtime.stop()
            await app.state.services.aclose()
            if app.state.narrator is not None:
                await app.state.narrator.aclose()
            await webhook_worker.aclose()

    app = FastAPI(
        title="ArbitrageVault API",
        version="1.0.0",
        description="Decide which books to buy for Amazon resale: submit ISBNs/ASINs with what "
        "each copy costs, get fees, profit, ROI, sales velocity and BUY/WATCH/PASS.",
        lifespan=lifespan,
        openapi_tags=TAGS,
        # Operation ids are the routes' names, snake_case verbs (`submit_batch`): typed clients
        # get clean method names.
        generate_unique_id_function=lambda route: OPERATION_IDS.get(route.name, route.name),
        telemetry=http_telemetry(),  # server spans when tracing is on (av_shared.tracing)
    )
    app.state.settings = settings
    app.state.password_hashing = PasswordHashing(
        settings.password_hash_concurrency, settings.password_hash_queue
    )
    app.state.progress_hub = ProgressHub()  # live progress streams of this instance
    app.state.verified_tokens = VerifiedTokens(settings.jwt_secret.get_secret_value())
    install_problem_handlers(app)
    install_request_guard(app, settings)
    customise_openapi(app, settings)
    for router in (
        auth.router,
        api_keys.router,
        config.router,
        batches.router,
        insights_api.router,
        streams_api.router,
        exports.router,
        analyses.router,
        books_api.router,
        admin.router,
        webhooks_api.router,
        watchlists_api.router,
        alerts_api.router,
        schedules_api.router,
    ):
        app.include_router(router)

    async def extra_metrics() -> dict[str, float]:
        async with app.state.runtime.sessions() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(submissions)
                .where(submissions.c.acknowledged_at.is_(None))
            )
        return {
            "submissions_awaiting_ack": waiting or 0,
            "batches_republished_total": app.state.reconciler.republished_total,
            "webhook_deliveries_sent_total": app.state.webhook_worker.sent_total,
            "scheduled_runs_started_total": app.state.scheduler.runs_started,
            "alerts_raised_total": app.state.scheduler.alerts_raised,
            "progress_streams_open": app.state.progress_hub.open_streams,
        }

    app.include_router(metrics_router("gateway", extra_metrics))

    @app.get("/asyncapi.json", tags=["operations"])
    async def get_asyncapi_document() -> dict[str, Any]:
        """The AsyncAPI 3.0 document of every event (generated from the contracts)."""
        return build_document()

    @app.get("/asyncapi", tags=["operations"], response_class=HTMLResponse)
    async def get_asyncapi_page() -> str:
        """The AsyncAPI document rendered for reading (the page loads its viewer from a CDN)."""
        return build_html()

    app.add_middleware(RateLimitHeaders)

    app.include_router(health_router())
    install_edge(app, settings)  # the outermost middleware

    return app
