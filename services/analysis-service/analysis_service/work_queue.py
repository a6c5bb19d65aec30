"""The durable chunk queue in the `analysis` schema, shared by every instance.

Fairness: the next chunk comes from the owner served longest ago (round-robin between owners),
so one seller's 50,000-book batch does not starve another's 200-book batch. A seller who spent
their share of Keepa tokens in the last 24 hours (`daily_tokens`) goes after every seller who has
not: their work still runs whenever nobody else's waits, so no token is left unspent, but free
accounts cannot take the budget from the others.

Leases are a heartbeat: a process renews the leases of every chunk it holds in one statement every
third of `lease` (however long a chunk waits for Keepa tokens), so a chunk of a process that died
is free for the others within `lease` seconds. Lease times are the database's clock, so processes
with skewed clocks agree. A process starting again under the same instance id holds nothing:
it frees what its predecessor held at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.events import BusinessConfigSnapshot, ChunkItem
from av_shared.tracing import current_traceparent

from .db.tables import keepa_tokens, owner_token_usage, owner_turns, work_chunks

WORK_CHANNEL = "analysis_work"
SHARE_WINDOW = timedelta(hours=24)
DEFAULT_SHARE_OF_DAILY_REFILL = 0.5  # without `daily_tokens`: half of what the plan refills


@dataclass(frozen=True)
class ClaimedChunk:
    batch_id: uuid.UUID
    chunk_no: int
    owner_id: uuid.UUID
    items: tuple[ChunkItem, ...]
    config: BusinessConfigSnapshot
    correlation_id: str
    attempts: int
    traceparent: str | None = None  # of the handler that queued it (tracing on)


def _claimable() -> Any:
    return and_(
        work_chunks.c.status == "QUEUED",
        or_(work_chunks.c.lease_until.is_(None), work_chunks.c.lease_until < func.now()),
    )


async def enqueue(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Queue a chunk once; False when it was already queued (or done) by an earlier delivery.
    The chunk keeps the current trace context (tracing on): its processing continues the trace."""
    traceparent = current_traceparent()
    if traceparent is not None:
        row = {**row, "traceparent": traceparent}
    result = await session.execute(
        insert(work_chunks)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["batch_id", "chunk_no"])
        .returning(work_chunks.c.chunk_no)
    )
    await session.execute(text("SELECT pg_notify(:c, '')"), {"c": WORK_CHANNEL})
    return result.first() is not None


def _over_share(daily_tokens: int | None) -> Any:
    """Whether the owner of the row spent more than their share in the last 24 hours."""
    spent = (
        select(func.coalesce(func.sum(owner_token_usage.c.tokens), 0))
        .where(
            owner_token_usage.c.owner_id == work_chunks.c.owner_id,
            owner_token_usage.c.hour_start > func.now() - SHARE_WINDOW,
        )
        .scalar_subquery()
    )
    if daily_tokens is not None:
        return spent > daily_tokens
    refill_per_day = (
        select(keepa_tokens.c.refill_rate_per_minute * 1440 * DEFAULT_SHARE_OF_DAILY_REFILL)
        .where(keepa_tokens.c.id == 1)
        .scalar_subquery()
    )
    return spent > func.coalesce(refill_per_day, 0)


class WorkQueue:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        lease: timedelta,
        worker_id: str,
        daily_tokens: int | None = None,
    ) -> None:
        self._sessions = sessions
        self._lease = lease
        self.worker_id = worker_id
        self._over_share = _over_share(daily_tokens)

    @property
    def lease_seconds(self) -> float:
        return self._lease.total_seconds()

    def _lease_end(self) -> Any:
        return func.now() + text(f"interval '{self._lease.total_seconds():.3f} seconds'")

    async def claim(self) -> ClaimedChunk | None:
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            owner = await session.scalar(
                select(work_chunks.c.owner_id)
                .select_from(
                    work_chunks.outerjoin(
                        owner_turns, owner_turns.c.owner_id == work_chunks.c.owner_id
                    )
                )
                .where(_claimable())
                .group_by(work_chunks.c.owner_id, owner_turns.c.last_served_at)
                .order_by(
                    self._over_share.asc(),
                    owner_turns.c.last_served_at.asc().nulls_first(),
                )
                .limit(1)
            )
            if owner is None:
                return None
            row = await self._lock_next(session, owner) or await self._lock_next(session)
            if row is None:
                return None
            await session.execute(
                update(work_chunks)
                .where(
                    work_chunks.c.batch_id == row.batch_id, work_chunks.c.chunk_no == row.chunk_no
                )
                .values(
                    lease_owner=self.worker_id,
                    lease_until=self._lease_end(),
                    attempts=work_chunks.c.attempts + 1,
                )
            )
            turn = insert(owner_turns).values(owner_id=row.owner_id, last_served_at=now)
            await session.execute(
                turn.on_conflict_do_update(
                    index_elements=["owner_id"], set_={"last_served_at": now}
                )
            )
        return ClaimedChunk(
            batch_id=row.batch_id,
            chunk_no=row.chunk_no,
            owner_id=row.owner_id,
            items=tuple(ChunkItem.model_validate(i) for i in row.items),
            config=BusinessConfigSnapshot.model_validate(row.config),
            correlation_id=row.correlation_id,
            attempts=row.attempts + 1,
            traceparent=row.traceparent,
        )

    async def _lock_next(self, session: AsyncSession, owner: uuid.UUID | None = None) -> Any:
        where = _claimable()
        if owner is not None:
            where = and_(where, work_chunks.c.owner_id == owner)
        return (
            await session.execute(
                select(work_chunks)
                .where(where)
                .order_by(work_chunks.c.enqueued_at, work_chunks.c.chunk_no)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).first()

    async def heartbeat(self, working_on: list[ClaimedChunk], *, release_others: bool) -> int:
        """This process is alive and works on `working_on`: extend their leases (one statement).
        With `release_others`, chunks leased to this process that none of its workers holds are
        freed, and their number returned: a claim whose answer was lost (the database went away
        as it committed), or a chunk whose hand-back failed, would otherwise stay leased by this
        live process forever. At start, holding nothing, this frees what a predecessor under the
        same instance id held."""
        held = [(c.batch_id, c.chunk_no) for c in working_on]
        key = tuple_(work_chunks.c.batch_id, work_chunks.c.chunk_no)
        mine = and_(work_chunks.c.lease_owner == self.worker_id, work_chunks.c.status == "QUEUED")
        async with self._sessions() as session, session.begin():
            if held:
                await session.execute(
                    update(work_chunks)
                    .where(mine, key.in_(held))
                    .values(lease_until=self._lease_end())
                )
            if not release_others:
                return 0
            stray = and_(mine, key.not_in(held)) if held else mine
            freed = await session.execute(
                update(work_chunks).where(stray).values(lease_owner=None, lease_until=None)
            )
        return int(freed.rowcount or 0)  # type: ignore[attr-defined]

    async def release(self, chunk: ClaimedChunk) -> None:
        """Hand the chunk back at once (graceful shutdown): another instance takes it."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(work_chunks)
                .where(
                    work_chunks.c.batch_id == chunk.batch_id,
                    work_chunks.c.chunk_no == chunk.chunk_no,
                    work_chunks.c.status == "QUEUED",
                )
                .values(lease_owner=None, lease_until=None)
            )

    async def forget_token_usage(self) -> None:
        """Hours of token use older than the share window count for nothing any more."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                owner_token_usage.delete().where(
                    owner_token_usage.c.hour_start < func.now() - SHARE_WINDOW - timedelta(hours=1)
                )
            )

    async def queued_items(self) -> dict[uuid.UUID, int]:
        """Items still queued per owner (for the ETA of a batch)."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(work_chunks.c.owner_id, func.sum(work_chunks.c.item_count))
                    .where(work_chunks.c.status == "QUEUED")
                    .group_by(work_chunks.c.owner_id)
                )
            ).all()
        return {r[0]: int(r[1]) for r in rows}

    async def queued_items_until(self, owner_id: uuid.UUID, enqueued_at: datetime) -> int:
        """An owner's items queued no later than `enqueued_at`: an owner's chunks are taken in
        the order they came, so these are all that go before a batch's last chunk."""
        async with self._sessions() as session:
            total = await session.scalar(
                select(func.sum(work_chunks.c.item_count)).where(
                    work_chunks.c.status == "QUEUED",
                    work_chunks.c.owner_id == owner_id,
                    work_chunks.c.enqueued_at <= enqueued_at,
                )
            )
        return int(total or 0)
