"""`GET /metrics` of every service, in the Prometheus text format.

Besides the service's own values (`extra`), every service reports its outbox backlog, events
handled and dead-lettered, dead letters stored, consumer restarts, and the lag of its consumers
per group and topic (from their own positions: summed over the instances of a group it is the
group's lag; `python -m av_shared.ops lag` asks the broker for the committed offsets instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select

from .runtime import ServiceRuntime

ExtraMetrics = Callable[[], Awaitable[dict[str, float]]]


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:  # the exposition format's escapes
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def metrics_router(service: str, extra: ExtraMetrics | None = None) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
    async def metrics(request: Request) -> str:
        runtime: ServiceRuntime = request.app.state.runtime
        values: dict[str, float] = {
            "outbox_published_total": runtime.relay.published_total,
            "events_handled_total": sum(c.handled_total for c in runtime.consumers),
            "events_dead_lettered_total": sum(c.dead_lettered_total for c in runtime.consumers),
            "consumer_restarts_total": runtime.consumer_restarts,
            "consumers_started": 1 if runtime.consumers_started else 0,
        }
        try:  # the database may be away: report what does not need it
            values["outbox_unsent"] = await asyncio.wait_for(runtime.relay.backlog(), 3)
            async with runtime.sessions() as session:
                letters = await asyncio.wait_for(
                    session.scalar(select(func.count()).select_from(runtime.dead_letters)), 3
                )
            values["dead_letters"] = int(letters or 0)
            if extra is not None:
                values.update(await asyncio.wait_for(extra(), 5))
            values["database_up"] = 1
        except Exception:
            values["database_up"] = 0
        lines = [f"av_{name}{_labels(service=service)} {value}" for name, value in values.items()]
        try:
            lag = await asyncio.wait_for(runtime.consumer_lag(), 5)
        except Exception:
            lag = []
        for row in lag:
            labels = _labels(service=service, group=row["group"], topic=row["topic"])
            lines.append(f"av_consumer_lag{labels} {row['lag']}")
            lines.append(f"av_consumer_partitions{labels} {row['partitions']}")
        return "\n".join(lines) + "\n"

    return router
