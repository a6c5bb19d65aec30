"""Enqueue webhook deliveries in the caller's transaction (the transaction of the fact they
tell of): committed together, so no event is lost; one row per (webhook, event key), so a
redelivered fact enqueues nothing more."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from av_shared.events import BatchStatusChanged

from ..db.tables import submissions
from ..watchlists.tables import scheduled_runs
from .tables import webhook_deliveries, webhooks

WebhookEvent = Literal["batch.completed", "batch.failed", "alert.triggered"]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = ("batch.completed", "batch.failed", "alert.triggered")
EVENT_NAMESPACE = uuid.UUID("6f1d5a4e-3b0c-4d8e-9a51-7c2b9e0f4a10")


def event_id_of(event_key: str) -> uuid.UUID:
    """The event's id in the body: the same for every webhook and every attempt of it."""
    return uuid.uuid5(EVENT_NAMESPACE, event_key)


async def enqueue(
    session: AsyncSession,
    owner_id: uuid.UUID,
    event_type: WebhookEvent,
    event_key: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> int:
    """A delivery to each live webhook of `owner_id` subscribed to `event_type`; the number of
    new deliveries (0 when the event was enqueued before)."""
    hooks = (
        await session.scalars(
            select(webhooks.c.id).where(
                webhooks.c.owner_id == owner_id,
                webhooks.c.deleted_at.is_(None),
                webhooks.c.events.any(event_type),
            )
        )
    ).all()
    if not hooks:
        return 0
    event_id = event_id_of(event_key)
    body = {
        "id": str(event_id),
        "type": event_type,
        "created_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "data": data,
    }
    statement = (
        insert(webhook_deliveries)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "webhook_id": hook,
                    "event_key": event_key,
                    "event_id": event_id,
                    "event_type": event_type,
                    "payload": body,
                }
                for hook in hooks
            ]
        )
        .on_conflict_do_nothing(
            index_elements=["webhook_id", "event_key"], index_where=text("redelivery_of IS NULL")
        )
        .returning(webhook_deliveries.c.id)
    )
    return len((await session.execute(statement)).all())


async def enqueue_batch_finished(session: AsyncSession, event: BatchStatusChanged) -> int:
    """batch.completed / batch.failed of a terminal status event (a cancelled batch is told of
    by no webhook: its seller cancelled it)."""
    if event.status not in ("COMPLETED", "FAILED"):
        return 0
    event_type: WebhookEvent = "batch.completed" if event.status == "COMPLETED" else "batch.failed"
    row = (
        await session.execute(
            select(submissions.c.name, scheduled_runs.c.schedule_id, scheduled_runs.c.watchlist_id)
            .outerjoin(scheduled_runs, scheduled_runs.c.batch_id == submissions.c.batch_id)
            .where(submissions.c.batch_id == event.batch_id)
        )
    ).first()
    data = {
        "batch_id": str(event.batch_id),
        "name": None if row is None else row.name,
        "status": event.status,
        "items_total": event.items_total,
        "items_processed": event.items_processed,
        "items_failed": event.items_failed,
        "finished_at": (event.finished_at or event.occurred_at).isoformat(),
        "schedule_id": None if row is None or row.schedule_id is None else str(row.schedule_id),
        "watchlist_id": None if row is None or row.watchlist_id is None else str(row.watchlist_id),
    }
    return await enqueue(
        session,
        event.owner_id,
        event_type,
        f"{event_type}:{event.batch_id}",
        data,
        event.finished_at or event.occurred_at,
    )
