"""`GET /metrics` of every service, in the Prometheus text format."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select

from .runtime import ServiceRuntime

ExtraMetrics = Callable[[], Awaitable[dict[str, float]]]


def metrics_router(service: str, extra: ExtraMetrics | None = None) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
    async def metrics(request: Request) -> str:
        runtime: ServiceRuntime = request.app.state.runtime
        values: dict[str, float] = {
            "outbox_unsent": await runtime.relay.backlog(),
            "outbox_published_total": runtime.relay.published_total,
            "events_handled_total": sum(c.handled_total for c in runtime.consumers),
            "events_dead_lettered_total": sum(c.dead_lettered_total for c in runtime.consumers),
        }
        async with runtime.sessions() as session:
            values["dead_letters"] = int(await session.scalar(
                select(func.count()).select_from(runtime.dead_letters)) or 0)
        if extra is not None:
            values.update(await extra())
        lines = [f'av_{name}{{service="{service}"}} {value}' for name, value in values.items()]
        return "\n".join(lines) + "\n"

    return router
