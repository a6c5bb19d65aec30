"""Alerts your watchlists raised, newest first, each with the analysis before and after."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from av_shared.pagination import MAX_PAGE_SIZE, Page, offset_of

from ..watchlists.conditions import AlertKind
from ..watchlists.tables import alerts, scheduled_runs, watchlist_items
from .deps import CurrentUser, KnownQueryOnly, SessionDep
from .problems import AUTHENTICATED, problems

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], dependencies=KnownQueryOnly)


class AlertOut(BaseModel):
    id: uuid.UUID
    watchlist_id: uuid.UUID
    item_id: uuid.UUID
    identifier: str
    kind: AlertKind
    value: float | None = Field(description="The condition's threshold")
    batch_id: uuid.UUID | None = Field(description="The run's batch (its analyses)")
    created_at: datetime
    before: dict[str, Any] | None = Field(
        description="The analysis compared with (null: none before this run)"
    )
    after: dict[str, Any] = Field(description="The new analysis that triggered the alert")


class AlertPage(Page[AlertOut]):
    """Alerts, newest first."""


@router.get("", response_model=AlertPage, responses=problems(*AUTHENTICATED))
async def list_alerts(
    user: CurrentUser,
    session: SessionDep,
    watchlist_id: uuid.UUID | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> AlertPage:
    """Your alerts, newest first; `watchlist_id` for one list's."""
    conditions = [alerts.c.owner_id == user.id]
    if watchlist_id is not None:
        conditions.append(alerts.c.watchlist_id == watchlist_id)
    total = await session.scalar(select(func.count()).select_from(alerts).where(*conditions))
    rows = (
        await session.execute(
            select(alerts, watchlist_items.c.identifier, scheduled_runs.c.batch_id)
            .join(watchlist_items, watchlist_items.c.id == alerts.c.item_id)
            .join(scheduled_runs, scheduled_runs.c.id == alerts.c.run_id)
            .where(*conditions)
            .order_by(alerts.c.created_at.desc(), alerts.c.id)
            .offset(offset_of(page, size))
            .limit(size)
        )
    ).all()
    items = [
        AlertOut(
            id=r.id,
            watchlist_id=r.watchlist_id,
            item_id=r.item_id,
            identifier=r.identifier,
            kind=r.kind,
            value=None if r.value is None else float(r.value),
            batch_id=r.batch_id,
            created_at=r.created_at,
            before=r.before,
            after=r.after,
        )
        for r in rows
    ]
    return AlertPage(items=items, total=total or 0, page=page, size=size)
