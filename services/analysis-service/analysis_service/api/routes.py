"""Internal HTTP API of the analysis service, for the gateway. Every read is filtered by owner."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.events import BusinessConfigSnapshot, ChunkItem
from av_shared.internal_auth import Owner
from av_shared.pagination import MAX_PAGE_SIZE, offset_of
from av_shared.retry import TransientError

from ..adapters.market_data import UNAVAILABLE
from ..application import ItemFailed, analyse_items
from ..db.tables import analyses, item_failures, work_chunks
from .views import analysis_view

log = logging.getLogger(__name__)
# Mounted twice (see main.py): /internal/... (one owner) and /internal/admin/... (all owners).
router = APIRouter()
SortKey = Literal[
    "created", "-created", "roi", "-roi", "profit", "-profit", "velocity", "-velocity", "item"
]
SORT_COLUMNS = {
    "created": analyses.c.created_at,
    "roi": analyses.c.roi_percent,
    "profit": analyses.c.profit,
    "velocity": analyses.c.velocity_score,
    "item": analyses.c.item_no,
}


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.runtime.sessions  # type: ignore[no-any-return]


def _owned(owner_id: uuid.UUID | None) -> ColumnElement[bool]:
    return analyses.c.owner_id == owner_id if owner_id else true()


@router.get("/analyses")
async def list_analyses(
    request: Request,
    owner_id: Owner,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    batch_id: uuid.UUID | None = None,
    recommendation: Literal["BUY", "WATCH", "PASS"] | None = None,
    min_roi: Annotated[float | None, Query(ge=-1e6, le=1e6)] = None,
    min_velocity: Annotated[int | None, Query(ge=0, le=100)] = None,
    sort: SortKey = "-created",
    after_item_no: Annotated[int | None, Query(ge=-1)] = None,
) -> dict[str, Any]:
    """`after_item_no` (with `batch_id`, `sort=item`) pages by position instead of offset."""
    where = _owned(owner_id)
    if batch_id:
        where = and_(where, analyses.c.batch_id == batch_id)
    if after_item_no is not None:
        where = and_(where, analyses.c.item_no > after_item_no)
    if recommendation:
        where = and_(where, analyses.c.recommendation == recommendation)
    if min_roi is not None:
        where = and_(where, analyses.c.roi_percent >= min_roi)
    if min_velocity is not None:
        where = and_(where, analyses.c.velocity_score >= min_velocity)
    column = SORT_COLUMNS[sort.lstrip("-")]
    order = column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last()
    async with _sessions(request)() as session:
        total = await session.scalar(select(func.count()).select_from(analyses).where(where))
        rows = (
            (
                await session.execute(
                    select(analyses)
                    .where(where)
                    .order_by(order, analyses.c.id)
                    .offset(offset_of(page, size))
                    .limit(size)
                )
            )
            .mappings()
            .all()
        )
    return {
        "items": [analysis_view(r) for r in rows],
        "total": total or 0,
        "page": page,
        "size": size,
    }


@router.get("/analyses/{analysis_id}")
async def get_analysis(request: Request, analysis_id: uuid.UUID, owner_id: Owner) -> dict[str, Any]:
    async with _sessions(request)() as session:
        row = (
            (
                await session.execute(
                    select(analyses).where(analyses.c.id == analysis_id, _owned(owner_id))
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise HTTPException(404, "analysis not found")
    return analysis_view(row)


class InstantAnalysisRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: uuid.UUID
    item: ChunkItem
    config: BusinessConfigSnapshot
    request_id: str | None = Field(None, max_length=200)


@router.post("/analyses", status_code=201)
async def instant_analysis(request: Request, body: InstantAnalysisRequest) -> dict[str, Any]:
    sessions = _sessions(request)
    if body.request_id and (existing := await _by_request(sessions, body)) is not None:
        return existing
    market = request.app.state.market
    try:
        [outcome] = await analyse_items(market, [body.item], body.config, instant=True)
    except TransientError as exc:  # e.g. Keepa refused the account: nothing the seller can fix
        # The gateway shows this detail to the seller: the account's trouble goes to the log.
        log.warning(
            "instant analysis of %s: market data unavailable: %s", body.item.identifier, exc
        )
        raise HTTPException(503, UNAVAILABLE) from exc
    if isinstance(outcome, ItemFailed):
        # 422: Keepa answered and there is no product to analyse; 503: try again later.
        raise HTTPException(503 if outcome.retryable else 422, outcome.reason)
    row = {
        **outcome.row,
        "owner_id": body.owner_id,
        "batch_id": None,
        "item_no": None,
        "request_id": body.request_id,
        "processed_by": request.app.state.instance_id,
    }
    async with sessions() as session, session.begin():
        stored = (
            (
                await session.execute(
                    insert(analyses).values(**row).on_conflict_do_nothing().returning(analyses)
                )
            )
            .mappings()
            .first()
        )
    if stored is None:  # a concurrent request with the same Idempotency-Key won
        existing = await _by_request(sessions, body)
        assert existing is not None
        return existing
    return analysis_view(stored)


async def _by_request(
    sessions: async_sessionmaker[AsyncSession], body: InstantAnalysisRequest
) -> dict[str, Any] | None:
    async with sessions() as session:
        row = (
            (
                await session.execute(
                    select(analyses).where(
                        analyses.c.owner_id == body.owner_id,
                        analyses.c.request_id == body.request_id,
                    )
                )
            )
            .mappings()
            .first()
        )
    return analysis_view(row) if row else None


@router.get("/batches/{batch_id}/progress")
async def batch_progress(request: Request, batch_id: uuid.UUID, owner_id: Owner) -> dict[str, Any]:
    """Queue position and estimated completion of a batch, from the work ahead and the refill."""
    sessions = _sessions(request)
    async with sessions() as session:
        mine = (
            await session.execute(
                select(
                    work_chunks.c.owner_id,
                    func.sum(work_chunks.c.item_count),
                    func.max(work_chunks.c.enqueued_at),
                )
                .where(
                    work_chunks.c.batch_id == batch_id,
                    work_chunks.c.status == "QUEUED",
                    _owner_filter(owner_id),
                )
                .group_by(work_chunks.c.owner_id)
            )
        ).first()
        failures = await session.scalar(
            select(func.count())
            .select_from(item_failures)
            .where(item_failures.c.batch_id == batch_id)
        )
    if mine is None:
        return {"queued_items": 0, "eta_seconds": 0, "failed_items": failures or 0}
    owner, queued, last_enqueued_at = mine
    eta = await request.app.state.eta.seconds_for(owner, last_enqueued_at)
    return {"queued_items": int(queued), "eta_seconds": eta, "failed_items": failures or 0}


def _owner_filter(owner_id: uuid.UUID | None) -> ColumnElement[bool]:
    return work_chunks.c.owner_id == owner_id if owner_id else true()
