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
from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from av_shared.events import TERMINAL_STATUSES

from .adapters.internal import InternalServices, owner_param
from .api.problems import ProblemError
from .db.tables import daily_usage, instant_requests, submissions, users
from .settings import GatewaySettings


@dataclass(frozen=True)
class Quotas:
    max_items_per_day: int
    max_open_batches: int


def quotas_of(user: Any, settings: GatewaySettings) -> Quotas:
    """`user`: anything with the users row's quota columns (None: the default setting)."""
    items = user.max_items_per_day
    batches = user.max_open_batches
    return Quotas(
        settings.default_max_items_per_day if items is None else items,
        settings.default_max_open_batches if batches is None else batches,
    )


class QuotasOut(BaseModel):
    max_items_per_day: int
    max_open_batches: int
    custom: bool = Field(description="False: the gateway's defaults apply")
    items_today: int = Field(description="Items submitted today (UTC)")
    open_batches: int


def users_with_usage() -> Select[Any]:
    """Accounts with what they used (`items_today`, `open_batches`): one query for any number
    of accounts (correlated subqueries on the primary keys)."""
    used_today = (
        select(daily_usage.c.item_count)
        .where(daily_usage.c.user_id == users.c.id, daily_usage.c.day == utc_today())
        .scalar_subquery()
    )
    still_open = (
        select(func.count())
        .select_from(submissions)
        .where(submissions.c.owner_id == users.c.id, submissions.c.finished_at.is_(None))
        .scalar_subquery()
    )
    return select(
        users, func.coalesce(used_today, 0).label("items_today"), still_open.label("open_batches")
    )


def quotas_out(row: Any, settings: GatewaySettings) -> QuotasOut:
    """`row`: from users_with_usage()."""
    limits = quotas_of(row, settings)
    return QuotasOut(
        max_items_per_day=limits.max_items_per_day,
        max_open_batches=limits.max_open_batches,
        custom=row.max_items_per_day is not None or row.max_open_batches is not None,
        items_today=int(row.items_today),
        open_batches=int(row.open_batches),
    )


async def quotas_view(
    session: AsyncSession, user_id: uuid.UUID, settings: GatewaySettings
) -> QuotasOut:
    row = (await session.execute(users_with_usage().where(users.c.id == user_id))).one()
    return quotas_out(row, settings)


def utc_today() -> date:
    return datetime.now(UTC).date()


async def count_items(session: AsyncSession, user_id: uuid.UUID, items: int) -> int:
    """Add `items` to today's usage (locking its row until commit); the new total."""
    used = await session.scalar(
        insert(daily_usage)
        .values(user_id=user_id, day=utc_today(), item_count=items)
        .on_conflict_do_update(
            index_elements=["user_id", "day"], set_={"item_count": daily_usage.c.item_count + items}
        )
        .returning(daily_usage.c.item_count)
    )
    return int(used or 0)


async def reserve_items(
    session: AsyncSession, user_id: uuid.UUID, items: int, quotas: Quotas
) -> None:
    """Count `items` against today's quota, or raise 429 (the transaction then rolls back)."""
    today = utc_today()
    used = await count_items(session, user_id, items)
    if used > quotas.max_items_per_day:
        midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
        retry = max(1, int((midnight - datetime.now(UTC)).total_seconds()) + 1)
        already = used - items
        raise ProblemError(
            429,
            "quota-exceeded",
            "Daily items quota exceeded",
            f"max_items_per_day: {already} of {quotas.max_items_per_day} items used today (UTC); "
            f"{items} more would exceed it",
            headers={"Retry-After": str(retry)},
            limit="max_items_per_day",
            limit_value=quotas.max_items_per_day,
            used=already,
        )


async def refund_items(session: AsyncSession, user_id: uuid.UUID, items: int) -> None:
    await session.execute(
        update(daily_usage)
        .where(
            daily_usage.c.user_id == user_id,
            daily_usage.c.day == utc_today(),
        )
        .values(item_count=func.greatest(daily_usage.c.item_count - items, 0))
    )


async def _record_key(session: AsyncSession, user_id: uuid.UUID, key: str) -> bool:
    """True if `key` was not recorded yet (now it is, until commit); a concurrent request with
    the same key waits here for the first one's transaction."""
    return (
        await session.scalar(
            insert(instant_requests)
            .values(user_id=user_id, idempotency_key=key)
            .on_conflict_do_nothing()
            .returning(instant_requests.c.user_id)
        )
        is not None
    )


async def charge_instant(
    session: AsyncSession, user_id: uuid.UUID, key: str | None, quotas: Quotas
) -> bool:
    """Count one instant analysis against today's quota (429 past it), unless its
    Idempotency-Key was charged already: a replay is answered with the stored analysis and
    costs nothing. True if charged now."""
    if key is not None and not await _record_key(session, user_id, key):
        return False
    await reserve_items(session, user_id, 1, quotas)
    return True


async def refund_instant(session: AsyncSession, user_id: uuid.UUID, key: str | None) -> None:
    """Nothing was analysed: the item does not count, and a retry with its key is charged."""
    if key is not None:
        await session.execute(
            instant_requests.delete().where(
                instant_requests.c.user_id == user_id, instant_requests.c.idempotency_key == key
            )
        )
    await refund_items(session, user_id, 1)


async def charge_served_replay(session: AsyncSession, user_id: uuid.UUID, key: str) -> None:
    """A replay was served while the request it replays failed and was refunded: the analysis
    exists, so it is counted once after all (past the quota: it is done already)."""
    if await _record_key(session, user_id, key):
        await count_items(session, user_id, 1)


async def open_batches(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(submissions)
            .where(submissions.c.owner_id == user_id, submissions.c.finished_at.is_(None))
        )
        or 0
    )


async def require_open_slot(session: AsyncSession, user_id: uuid.UUID, quotas: Quotas) -> None:
    """One more open batch allowed, or 409."""
    count = await open_batches(session, user_id)
    if count >= quotas.max_open_batches:
        raise ProblemError(
            409,
            "quota-exceeded",
            "Too many open batches",
            f"max_open_batches: {count} of {quotas.max_open_batches} batches are still open; "
            "wait for one to finish or cancel one",
            limit="max_open_batches",
            limit_value=quotas.max_open_batches,
            used=count,
        )


async def settle_finished(
    session: AsyncSession, services: InternalServices, user_id: uuid.UUID, quotas: Quotas
) -> None:
    """At the limit: ask the batch service about the open batches, in case a status event is
    still on its way (or was missed), and record those that finished. Commits."""
    if await open_batches(session, user_id) < quotas.max_open_batches:
        await session.commit()
        return
    open_ids = (
        await session.scalars(
            select(submissions.c.batch_id)
            .where(
                submissions.c.owner_id == user_id,
                submissions.c.finished_at.is_(None),
            )
            .order_by(submissions.c.created_at)
            .limit(quotas.max_open_batches)
        )
    ).all()
    found = await asyncio.gather(
        *(
            services.batch(f"/internal/batches/{batch_id}", owner_param(user_id))
            for batch_id in open_ids
        )
    )
    for batch_id, batch in zip(open_ids, found, strict=True):
        if batch and batch["status"] in TERMINAL_STATUSES:
            await record_finished(
                session, batch_id, batch["status"], batch.get("finished_at") or datetime.now(UTC)
            )
    await session.commit()


async def record_finished(
    session: AsyncSession, batch_id: uuid.UUID, status: str, finished_at: datetime | str
) -> None:
    when = datetime.fromisoformat(finished_at) if isinstance(finished_at, str) else finished_at
    await session.execute(
        update(submissions)
        .where(
            submissions.c.batch_id == batch_id,
            submissions.c.finished_at.is_(None),
        )
        .values(final_status=status, finished_at=when)
    )
