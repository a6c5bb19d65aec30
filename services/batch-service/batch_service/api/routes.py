"""Internal HTTP API: reads of the `batch` schema for the gateway. Always filtered by owner."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.internal_auth import Owner
from av_shared.pagination import MAX_PAGE_SIZE, Page, offset_of
from av_shared.views import BatchItemView

from ..db.tables import batch_items, batches
from .models import BatchView

# Mounted twice (see main.py): /internal/... (one owner) and /internal/admin/... (all owners).
router = APIRouter()
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


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
) -> dict[str, Any]:
    where = _owned(owner_id)
    if status:
        where = and_(where, batches.c.status == status)
    async with _sessions(request)() as session:
        total = await session.scalar(select(func.count()).select_from(batches).where(where))
        rows = (
            (
                await session.execute(
                    select(batches)
                    .where(where)
                    .order_by(batches.c.created_at.desc(), batches.c.id.desc())
                    .offset(offset_of(page, size))
                    .limit(size)
                )
            )
            .mappings()
            .all()
        )
    return {"items": [dict(r) for r in rows], "total": total or 0, "page": page, "size": size}


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
) -> dict[str, Any]:
    """`after_item_no` pages by position instead of offset (exports read 100,000 lines)."""
    await get_batch(request, batch_id, owner_id)  # 404 for another owner's batch
    where = batch_items.c.batch_id == batch_id
    if status:
        where = and_(where, batch_items.c.status == status)
    if after_item_no is not None:
        where = and_(where, batch_items.c.item_no > after_item_no)
    async with _sessions(request)() as session:
        total = await session.scalar(select(func.count()).select_from(batch_items).where(where))
        rows = (
            (
                await session.execute(
                    select(batch_items)
                    .where(where)
                    .order_by(batch_items.c.item_no)
                    .offset(offset_of(page, size))
                    .limit(size)
                )
            )
            .mappings()
            .all()
        )
    return {"items": [dict(r) for r in rows], "total": total or 0, "page": page, "size": size}
