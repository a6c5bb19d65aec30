"""Internal HTTP API of the analysis service, for the gateway. Every read is filtered by owner."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json
from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    cast,
    column,
    func,
    literal,
    null,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.events import BusinessConfigSnapshot, ChunkItem
from av_shared.internal_auth import Owner
from av_shared.pagination import (
    AFTER_DESCRIPTION,
    ANALYSIS_SORT_KINDS,
    COUNT_LIMIT,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET_ROWS,
    MAX_PAGE_SIZE,
    PAGE_DESCRIPTION,
    CursorValue,
    check_page,
    counted,
    encode_cursor,
    offset_of,
    read_cursor,
)
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


class AnalysisFilters:
    """The filters of an analysis list, shared by the list and the batch export."""

    def __init__(
        self,
        recommendation: Literal["BUY", "WATCH", "PASS"] | None = None,
        min_roi: Annotated[float | None, Query(ge=-1e6, le=1e6)] = None,
        min_velocity: Annotated[int | None, Query(ge=0, le=100)] = None,
    ) -> None:
        self.recommendation, self.min_roi, self.min_velocity = recommendation, min_roi, min_velocity

    def where(self, where: ColumnElement[bool]) -> ColumnElement[bool]:
        if self.recommendation:
            where = and_(where, analyses.c.recommendation == self.recommendation)
        if self.min_roi is not None:
            where = and_(where, analyses.c.roi_percent >= self.min_roi)
        if self.min_velocity is not None:
            where = and_(where, analyses.c.velocity_score >= self.min_velocity)
        return where

    @property
    def none(self) -> bool:
        return self.recommendation is None and self.min_roi is None and self.min_velocity is None


Filters = Annotated[AnalysisFilters, Depends()]


@router.get("/analyses")
async def list_analyses(
    request: Request,
    owner_id: Owner,
    filters: Filters,
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET_ROWS, description=PAGE_DESCRIPTION)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    batch_id: uuid.UUID | None = None,
    sort: SortKey = "-created",
    after_item_no: Annotated[int | None, Query(ge=-1)] = None,
    after: Annotated[
        str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)
    ] = None,
) -> Response:
    """`after_item_no` (with `batch_id`, `sort=item`) pages by position instead of offset;
    `after` (a page's `next`) by the sort's key, any sort. `total` counts up to COUNT_LIMIT rows.
    The page's JSON is built once here; the gateway passes it on as it is."""
    check_page(page, size, after)
    cursor = None
    if after is not None:
        cursor = read_cursor(after, sort, [ANALYSIS_SORT_KINDS[sort.lstrip("-")], "uuid"])
    where = _owned(owner_id)
    if batch_id:
        where = and_(where, analyses.c.batch_id == batch_id)
    if after_item_no is not None:
        where = and_(where, analyses.c.item_no > after_item_no)
    where = filters.where(where)
    sessions = _sessions(request)
    # The count and the page on two connections at once: the answer waits for the slower one.
    only_batch = batch_id is not None and after_item_no is None and filters.none
    offset = 0 if cursor else offset_of(page, size)
    total, rows = await asyncio.gather(
        _count(sessions, where, batch_id if only_batch else None, owner_id),
        _page(sessions, where, sort, cursor, offset, size),
    )
    more, rows = rows[size:], rows[:size]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(sort, [last[SORT_COLUMNS[sort.lstrip("-")].name], last["id"]])
    body = {
        "items": [analysis_view(r) for r in rows],
        **counted(total),
        "page": page,
        "size": size,
        "next": next_cursor,
    }
    return Response(to_json(body), media_type="application/json")


# What a view reads: the config snapshot (the largest column after `result`) is not shown.
_VIEW_COLUMNS = [column for column in analyses.c if column.name != "config"]


def _keyset(sort: str, cursor: list[CursorValue] | None, where: ColumnElement[bool], n: int) -> Any:
    """The rows after `cursor` in the sort's order, as one statement reading the sort's index:
    (key, id) compared as a row, ascending or descending alike. A nullable key (NULLS LAST) reads
    the non-NULL keys first, then the NULL ones by id: two index ranges, each at most `n` rows."""
    key = SORT_COLUMNS[sort.lstrip("-")]
    descending = sort.startswith("-")

    def ordered(query: Select[Any], *columns: Any) -> Select[Any]:
        return query.order_by(*(c.desc() if descending else c.asc() for c in columns))

    def after(columns: list[Any], values: list[Any]) -> ColumnElement[bool]:
        row, mark = tuple_(*columns), tuple_(*values)
        return row < mark if descending else row > mark

    if key is analyses.c.created_at:  # never NULL: the order of the (owner|batch, created) indexes
        query = select(*_VIEW_COLUMNS).where(where)
        if cursor is not None:
            query = query.where(after([key, analyses.c.id], cursor))
        return ordered(query, key, analyses.c.id)
    value, last_id = cursor if cursor is not None else (None, None)
    nulls = select(*_VIEW_COLUMNS, literal(1).label("part")).where(where, key.is_(None))
    if last_id is not None and value is None:  # already among the NULL keys
        nulls = nulls.where(after([analyses.c.id], [last_id]))
        return ordered(nulls, key, analyses.c.id)  # all NULL: by id, in the index's order
    keyed = select(*_VIEW_COLUMNS, literal(0).label("part")).where(where, key.is_not(None))
    if cursor is not None:
        keyed = keyed.where(after([key, analyses.c.id], [value, last_id]))
    first = ordered(keyed, key, analyses.c.id).limit(n).subquery("keyed")
    second = ordered(nulls, key, analyses.c.id).limit(n).subquery("nulls")
    both = union_all(select(first), select(second)).subquery("page")
    return ordered(select(both).order_by(both.c.part), both.c[key.name], both.c.id)


async def _page(
    sessions: async_sessionmaker[AsyncSession],
    where: ColumnElement[bool],
    sort: str,
    cursor: list[CursorValue] | None,
    offset: int,
    size: int,
) -> list[dict[str, Any]]:
    """The page and one row more (is there a next page?)."""
    async with sessions() as session:
        query = _keyset(sort, cursor, where, offset + size + 1)
        result = await session.execute(query.offset(offset).limit(size + 1))
        return [dict(r) for r in result.mappings().all()]


async def _count(
    sessions: async_sessionmaker[AsyncSession],
    where: ColumnElement[bool],
    whole_batch: uuid.UUID | None,
    owner_id: uuid.UUID | None,
) -> int:
    """Up to COUNT_LIMIT + 1 rows of the owner (the owner's index), never every seller's.
    With only a batch asked for, its analyses are counted from the batch index alone: a batch
    has one owner, checked on one row (a 100,000-line batch: no heap read per line)."""
    async with sessions() as session:
        if whole_batch is not None:
            if owner_id is not None:
                mine = await session.scalar(
                    select(analyses.c.id)
                    .where(analyses.c.batch_id == whole_batch, analyses.c.owner_id == owner_id)
                    .limit(1)
                )
                if mine is None:
                    return 0
            where = analyses.c.batch_id == whole_batch
        capped = select(analyses.c.id).where(where).limit(COUNT_LIMIT + 1).subquery()
        return await session.scalar(select(func.count()).select_from(capped)) or 0


# The engine's answer read once per row: each `result->'key'` would detoast and decompress the
# whole document again (six times slower with a dozen keys).
_RESULT_KEYS = (
    "sell_price",
    "price_basis",
    "fees",
    "profit",
    "roi_percent",
    "margin_percent",
    "break_even_buy_cost",
    "max_buy_cost_for_target_roi",
    "velocity_score",
    "estimated_monthly_sales",
    "expected_days_to_sell",
    "sales_rank",
    "risk_flags",
    "summary",
)
_RESULT = (
    func.jsonb_to_record(analyses.c.result)
    .table_valued(*(column(key, JSONB) for key in _RESULT_KEYS))
    .render_derived("r", with_types=True)
)


def _result(key: str, *path: str) -> ColumnElement[Any]:
    node: Any = _RESULT.c[key]
    for step in path:
        node = node[step]
    return node  # type: ignore[no-any-return]


def _column_or_null(name: str) -> ColumnElement[Any]:
    """A column added by a later migration of another branch; NULL until it exists."""
    return analyses.c[name] if name in analyses.c else cast(null(), Text)


# What a batch export reads of each analysis, built into one JSON array by PostgreSQL itself:
# no row object, no view model per line (100,000 lines stream in a few seconds).
EXPORT_FIELDS: dict[str, ColumnElement[Any]] = {
    "item_no": analyses.c.item_no,
    "id": analyses.c.id,
    "identifier": analyses.c.identifier,
    "asin": analyses.c.asin,
    "title": analyses.c.title,
    "condition": analyses.c.condition,
    "buy_cost": analyses.c.buy_cost,
    "quantity": _column_or_null("quantity"),
    "note": _column_or_null("note"),
    "outcome": analyses.c.outcome,
    "recommendation": analyses.c.recommendation,
    "sell_price": _result("sell_price"),
    "price_basis": _result("price_basis"),
    "fees_total": _result("fees", "total"),
    "profit": _result("profit"),
    "roi_percent": _result("roi_percent"),
    "margin_percent": _result("margin_percent"),
    "break_even_buy_cost": _result("break_even_buy_cost"),
    "max_buy_cost_for_target_roi": _result("max_buy_cost_for_target_roi"),
    "velocity_score": _result("velocity_score"),
    "estimated_monthly_sales": _result("estimated_monthly_sales"),
    "expected_days_to_sell": _result("expected_days_to_sell"),
    "sales_rank": _result("sales_rank"),
    "risk_flags": _result("risk_flags"),
    "summary": _result("summary"),
    "created_at": analyses.c.created_at,
}
EXPORT_FROM = analyses.join(_RESULT, true())
EXPORT_PAGE = 5_000  # rows a keyset page: short statements, no transaction held open


@router.get("/batches/{batch_id}/analysis-rows")
async def export_analysis_rows(
    request: Request, batch_id: uuid.UUID, owner_id: Owner, filters: Filters
) -> StreamingResponse:
    """The batch's analyses in item order as NDJSON: a first line naming the fields, then one
    JSON array per analysis (the gateway formats them as CSV or XLSX)."""
    sessions = _sessions(request)
    where = filters.where(and_(_owned(owner_id), analyses.c.batch_id == batch_id))
    row = cast(func.json_build_array(*EXPORT_FIELDS.values()), Text)

    async def lines() -> AsyncIterator[bytes]:
        yield (json.dumps(list(EXPORT_FIELDS)) + "\n").encode()
        after = -1
        while True:
            async with sessions() as session:
                page = (
                    await session.execute(
                        select(analyses.c.item_no, row)
                        .select_from(EXPORT_FROM)
                        .where(where, analyses.c.item_no > after)
                        .order_by(analyses.c.item_no)
                        .limit(EXPORT_PAGE)
                    )
                ).all()
            if page:
                yield ("\n".join(text for _, text in page) + "\n").encode()
            if len(page) < EXPORT_PAGE:
                return
            after = page[-1][0]

    return StreamingResponse(lines(), media_type="application/x-ndjson")


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
