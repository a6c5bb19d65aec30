"""Alerts your watchlists raised, newest first, each with the analysis before and after."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from av_shared.pagination import (
    AFTER_DESCRIPTION,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET_ROWS,
    MAX_PAGE_SIZE,
    PAGE_DESCRIPTION,
    PAGINATION_NOTE,
    Page,
    after_key,
    capped_count,
    check_page,
    counted,
    encode_cursor,
    offset_of,
    page_answer,
    read_cursor,
)

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


@router.get(
    "",
    response_model=AlertPage,
    responses=problems(*AUTHENTICATED),
    description="Your alerts, newest first (ties by id, descending); `watchlist_id` for one "
    "list's." + PAGINATION_NOTE,
)
async def list_alerts(
    user: CurrentUser,
    session: SessionDep,
    watchlist_id: uuid.UUID | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET_ROWS, description=PAGE_DESCRIPTION)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    after: Annotated[
        str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)
    ] = None,
) -> AlertPage:
    check_page(page, size, after)
    conditions = [alerts.c.owner_id == user.id]
    if watchlist_id is not None:
        conditions.append(alerts.c.watchlist_id == watchlist_id)
    key = [alerts.c.created_at, alerts.c.id]  # ix_alerts_owner_created_id
    total = await session.scalar(capped_count(select(alerts.c.id).where(*conditions))) or 0
    query = (
        select(alerts, watchlist_items.c.identifier, scheduled_runs.c.batch_id)
        .join(watchlist_items, watchlist_items.c.id == alerts.c.item_id)
        .join(scheduled_runs, scheduled_runs.c.id == alerts.c.run_id)
        .where(*conditions)
    )
    if after is not None:
        query = after_key(query, key, read_cursor(after, "-created", ["datetime", "uuid"]), True)
    read = (
        await session.execute(
            query.order_by(*(c.desc() for c in key))
            .offset(0 if after else offset_of(page, size))
            .limit(size + 1)
        )
    ).all()
    rows, cursor = page_answer(
        read, size, lambda r: encode_cursor("-created", [r.created_at, r.id])
    )
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
    return AlertPage(items=items, **counted(total), page=page, size=size, next=cursor)
