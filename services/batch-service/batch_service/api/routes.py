"""Internal HTTP API: reads of the `batch` schema for the gateway. Always filtered by owner."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import ColumnElement, Select, and_, func, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.internal_auth import Owner
from av_shared.pagination import (
    AFTER_DESCRIPTION,
    COUNT_LIMIT,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET_ROWS,
    MAX_PAGE_SIZE,
    PAGE_DESCRIPTION,
    Page,
    check_page,
    counted,
    encode_cursor,
    offset_of,
    read_cursor,
)
from av_shared.views import BatchItemView

from ..db.tables import batch_items, batches
from .models import BatchView

# Mounted twice (see main.py): /internal/... (one owner) and /internal/admin/... (all owners).
router = APIRouter()
PageNo = Annotated[int, Query(ge=1, le=MAX_OFFSET_ROWS, description=PAGE_DESCRIPTION)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
After = Annotated[
    str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)
]


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.runtime.sessions  # type: ignore[no-any-return]


def _owned(owner_id: uuid.UUID | None) -> ColumnElement[bool]:
    # owner_id None only on the admin routes (every owner), with an admin-scoped token.
    visible = batches.c.header_received.is_(True)
    return and_(visible, batches.c.owner_id == owner_id) if owner_id else and_(visible, true())


@router.get("/batches", response_model=Page[BatchView])
async def list_batches(
    request: Request,
    owner_id: Owner,
    page: PageNo = 1,
    size: PageSize = 50,
    status: str | None = None,
    after: After = None,
) -> dict[str, Any]:
    """Newest first (created_at, id descending: the owner's index, or the all-owners one).
    `total` counts up to COUNT_LIMIT rows."""
    check_page(page, size, after)
    where = _owned(owner_id)
    if status:
        where = and_(where, batches.c.status == status)
    query = select(batches).where(where)
    if after is not None:
        created, last_id = read_cursor(after, "-created", ["datetime", "uuid"])
        query = query.where(tuple_(batches.c.created_at, batches.c.id) < tuple_(created, last_id))
    query = query.order_by(batches.c.created_at.desc(), batches.c.id.desc())
    async with _sessions(request)() as session:
        total = await _count(session, select(batches.c.id).where(where))
        rows = await _rows(session, query, 0 if after else offset_of(page, size), size)
    more = rows[size:]
    rows = rows[:size]
    cursor = encode_cursor("-created", [rows[-1]["created_at"], rows[-1]["id"]]) if more else None
    return {"items": rows, **counted(total), "page": page, "size": size, "next": cursor}


async def _rows(
    session: AsyncSession, query: Select[Any], offset: int, size: int
) -> list[dict[str, Any]]:
    """A page and one row more (is there a next page?)."""
    result = await session.execute(query.offset(offset).limit(size + 1))
    return [dict(r) for r in result.mappings().all()]


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    """The rows of `query`, counted up to COUNT_LIMIT + 1 (never every row of a large table)."""
    capped = query.limit(COUNT_LIMIT + 1).subquery()
    return await session.scalar(select(func.count()).select_from(capped)) or 0


@router.get("/batches/{batch_id}", response_model=BatchView)
async def get_batch(request: Request, batch_id: uuid.UUID, owner_id: Owner) -> dict[str, Any]:
    async with _sessions(request)() as session:
        row = (
            (
                await session.execute(
                    select(batches).where(batches.c.id == batch_id, _owned(owner_id))
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise HTTPException(404, "batch not found")
    return dict(row)


@router.get("/batches/{batch_id}/items", response_model=Page[BatchItemView])
async def list_items(
    request: Request,
    batch_id: uuid.UUID,
    owner_id: Owner,
    page: PageNo = 1,
    size: PageSize = 100,
    status: str | None = None,
    after_item_no: Annotated[int | None, Query(ge=-1)] = None,
    after: After = None,
) -> dict[str, Any]:
    """In item order (the primary key). `after_item_no` pages by position instead of offset
    (exports read 100,000 lines); `after` is the same as an opaque cursor (a page's `next`)."""
    check_page(page, size, after)
    await get_batch(request, batch_id, owner_id)  # 404 for another owner's batch
    where = batch_items.c.batch_id == batch_id
    if status:
        where = and_(where, batch_items.c.status == status)
    total_where = where
    if after is not None:
        [position] = read_cursor(after, "item", ["int"])
        after_item_no = position if isinstance(position, int) else None
    if after_item_no is not None:
        where = and_(where, batch_items.c.item_no > after_item_no)
    query = select(batch_items).where(where).order_by(batch_items.c.item_no)
    async with _sessions(request)() as session:
        # `total` is of the batch (and status) whatever the position, with after_item_no as before
        total = await _count(
            session,
            select(batch_items.c.item_no).where(where if after is None else total_where),
        )
        rows = await _rows(session, query, 0 if after else offset_of(page, size), size)
    more = rows[size:]
    rows = rows[:size]
    cursor = encode_cursor("item", [rows[-1]["item_no"]]) if more else None
    return {"items": rows, **counted(total), "page": page, "size": size, "next": cursor}
