"""Per-seller quotas: items per UTC day, and open batches (not COMPLETED, FAILED or CANCELLED).

Exceeding the daily items answers 429 with Retry-After (UTC midnight); too many open batches
answers 409 (wait for one to finish, or cancel one). Both problems name the limit.
Reserving runs in the submission's transaction: the daily usage row is locked by its upsert, so
concurrent submissions of one seller (on any instance) are checked one after the other, and a
rejected or failed submission leaves the usage unchanged.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from av_shared.events import TERMINAL_STATUSES

from .adapters.internal import InternalServices, owner_param
from .api.problems import ProblemError
from .db.tables import daily_usage, submissions
from .settings import GatewaySettings


@dataclass(frozen=True)
class Quotas:
    max_items_per_day: int
    max_open_batches: int


def quotas_of(user: Any, settings: GatewaySettings) -> Quotas:
    """`user`: anything with the users row's quota columns (None: the default setting)."""
    items = user.max_items_per_day
    batches = user.max_open_batches
    return Quotas(settings.default_max_items_per_day if items is None else items,
                  settings.default_max_open_batches if batches is None else batches)


class QuotasOut(BaseModel):
    max_items_per_day: int
    max_open_batches: int
    custom: bool = Field(description="False: the gateway's defaults apply")
    items_today: int = Field(description="Items submitted today (UTC)")
    open_batches: int


async def quotas_view(session: AsyncSession, user: Any, settings: GatewaySettings) -> QuotasOut:
    limits = quotas_of(user, settings)
    return QuotasOut(
        max_items_per_day=limits.max_items_per_day, max_open_batches=limits.max_open_batches,
        custom=user.max_items_per_day is not None or user.max_open_batches is not None,
        items_today=await items_today(session, user.id),
        open_batches=await open_batches(session, user.id))


def utc_today() -> date:
    return datetime.now(UTC).date()


async def reserve_items(session: AsyncSession, user_id: uuid.UUID, items: int,
                        quotas: Quotas) -> None:
    """Count `items` against today's quota, or raise 429 (the transaction then rolls back)."""
    today = utc_today()
    used = await session.scalar(
        insert(daily_usage).values(user_id=user_id, day=today, item_count=items)
        .on_conflict_do_update(index_elements=["user_id", "day"],
                               set_={"item_count": daily_usage.c.item_count + items})
        .returning(daily_usage.c.item_count))
    if (used or 0) > quotas.max_items_per_day:
        midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
        retry = max(1, int((midnight - datetime.now(UTC)).total_seconds()) + 1)
        already = (used or 0) - items
        raise ProblemError(
            429, "quota-exceeded", "Daily items quota exceeded",
            f"max_items_per_day: {already} of {quotas.max_items_per_day} items used today (UTC); "
            f"{items} more would exceed it", headers={"Retry-After": str(retry)},
            limit="max_items_per_day", limit_value=quotas.max_items_per_day, used=already)


async def refund_items(session: AsyncSession, user_id: uuid.UUID, items: int) -> None:
    await session.execute(update(daily_usage).where(
        daily_usage.c.user_id == user_id, daily_usage.c.day == utc_today(),
    ).values(item_count=func.greatest(daily_usage.c.item_count - items, 0)))


async def open_batches(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).select_from(submissions).where(
        submissions.c.owner_id == user_id, submissions.c.finished_at.is_(None))) or 0)


async def items_today(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(await session.scalar(select(daily_usage.c.item_count).where(
        daily_usage.c.user_id == user_id, daily_usage.c.day == utc_today())) or 0)


async def require_open_slot(session: AsyncSession, user_id: uuid.UUID, quotas: Quotas) -> None:
    """One more open batch allowed, or 409."""
    count = await open_batches(session, user_id)
    if count >= quotas.max_open_batches:
        raise ProblemError(
            409, "quota-exceeded", "Too many open batches",
            f"max_open_batches: {count} of {quotas.max_open_batches} batches are still open; "
            "wait for one to finish or cancel one", limit="max_open_batches",
            limit_value=quotas.max_open_batches, used=count)


async def settle_finished(session: AsyncSession, services: InternalServices,
                          user_id: uuid.UUID, quotas: Quotas) -> None:
    """At the limit: ask the batch service about the open batches, in case a status event is
    still on its way (or was missed), and record those that finished. Commits."""
    if await open_batches(session, user_id) < quotas.max_open_batches:
        await session.commit()
        return
    open_ids = (await session.scalars(select(submissions.c.batch_id).where(
        submissions.c.owner_id == user_id, submissions.c.finished_at.is_(None),
    ).order_by(submissions.c.created_at).limit(quotas.max_open_batches))).all()
    found = await asyncio.gather(*(services.batch(f"/internal/batches/{batch_id}",
                                                  owner_param(user_id)) for batch_id in open_ids))
    for batch_id, batch in zip(open_ids, found, strict=True):
        if batch and batch["status"] in TERMINAL_STATUSES:
            await record_finished(session, batch_id, batch["status"],
                                  batch.get("finished_at") or datetime.now(UTC))
    await session.commit()


async def record_finished(session: AsyncSession, batch_id: uuid.UUID, status: str,
                          finished_at: datetime | str) -> None:
    when = datetime.fromisoformat(finished_at) if isinstance(finished_at, str) else finished_at
    await session.execute(update(submissions).where(
        submissions.c.batch_id == batch_id, submissions.c.finished_at.is_(None),
    ).values(final_status=status, finished_at=when))
