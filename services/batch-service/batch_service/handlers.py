"""Event handlers of the batch service: each applies one event in one transaction, at most once.

Events arrive in any order and any number of times: a chunk or a completion may come before
the batch header. Every handler first makes sure the batch row exists (a placeholder until the
header arrives), locks it, and applies the event through natural keys so a redelivery is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.events import (
    BatchAcknowledged,
    BatchCancelRequested,
    BatchChunkSubmitted,
    BatchProgressed,
    BatchStatusChanged,
    BatchSubmitted,
    ChunkAnalysed,
    ChunkStillQueued,
)
from av_shared.inbox import first_delivery
from av_shared.outbox import add_to_outbox
from av_shared.topics import BATCH_STATUS

from .db.tables import batch_chunks, batch_items, batches, inbox, outbox
from .domain.progress import (
    BatchProgress,
    can_cancel,
    eta_seconds,
    progress_due,
    progress_wait,
    status_after_progress,
)

log = logging.getLogger(__name__)


@dataclass
class BatchHandlers:
    sessions: async_sessionmaker[AsyncSession]
    chunk_deadline: timedelta
    # Batches whose withheld progress goes out when their interval ends (the last lines of a
    # burst must not wait for the next completion, which may be minutes of Keepa refill away).
    _trailing: dict[uuid.UUID, asyncio.Task[None]] = field(default_factory=dict, init=False)

    async def batch_submitted(self, event: BatchSubmitted) -> None:
        async with self.sessions() as session, session.begin():
            if not await first_delivery(session, inbox, event.event_id, event.event_type):
                # The gateway re-publishes a batch until it sees our acknowledgement: if that was
                # lost (a broker losing its log), say it again, or it re-publishes forever.
                await _acknowledge_again(session, event.batch_id, event.correlation_id)
                return
            batch = await _lock_batch(session, event.batch_id, event.owner_id)
            if batch["header_received"]:
                return
            now = datetime.now(UTC)
            await session.execute(
                update(batches)
                .where(batches.c.id == event.batch_id)
                .values(
                    name=event.name,
                    items_total=event.items_total,
                    chunk_count=event.chunk_count,
                    header_received=True,
                    config=event.config.model_dump(mode="json"),
                    correlation_id=event.correlation_id,
                    created_at=event.submitted_at,
                    started_at=batch["started_at"] or now,
                    updated_at=now,
                )
            )
            await _settle(session, event.batch_id, event.correlation_id)

    async def chunk_submitted(self, event: BatchChunkSubmitted) -> None:
        async with self.sessions() as session, session.begin():
            if not await first_delivery(session, inbox, event.event_id, event.event_type):
                return
            await _lock_batch(session, event.batch_id, event.owner_id)
            payload = {
                "items": [item.model_dump(mode="json") for item in event.items],
                "config": event.config.model_dump(mode="json"),
                "chunk_count": event.chunk_count,
            }
            new_chunk = insert(batch_chunks).values(
                batch_id=event.batch_id,
                chunk_no=event.chunk_no,
                status="WAITING",
                item_count=len(event.items),
                payload=payload,
                deadline_at=datetime.now(UTC) + self.chunk_deadline,
            )
            # A completion may have created the row first: then only the payload is missing.
            upsert = new_chunk.on_conflict_do_update(
                index_elements=["batch_id", "chunk_no"],
                set_={
                    "payload": new_chunk.excluded.payload,
                    "item_count": new_chunk.excluded.item_count,
                },
                where=batch_chunks.c.payload.is_(None),
            ).returning(batch_chunks.c.status, batch_chunks.c.failures)
            row = (await session.execute(upsert)).first()
            if row is None:
                return  # this chunk was already recorded by an earlier delivery
            failed = {f["item_no"]: f["reason"] for f in (row.failures or [])}
            await session.execute(
                insert(batch_items).on_conflict_do_nothing(),
                [
                    {
                        "batch_id": event.batch_id,
                        "item_no": item.item_no,
                        "chunk_no": event.chunk_no,
                        "identifier": item.identifier,
                        "asin": item.asin,
                        "buy_cost": item.buy_cost,
                        "condition": item.condition,
                        "status": _item_status(row.status, item.item_no in failed),
                        "failure_reason": failed.get(item.item_no),
                    }
                    for item in event.items
                ],
            )
            await session.execute(
                update(batches)
                .where(batches.c.id == event.batch_id)
                .values(chunks_received=batches.c.chunks_received + 1)
            )
            await _settle(session, event.batch_id, event.correlation_id)

    async def chunk_analysed(self, event: ChunkAnalysed) -> None:
        async with self.sessions() as session, session.begin():
            if not await first_delivery(session, inbox, event.event_id, event.event_type):
                return
            await _lock_batch(session, event.batch_id, event.owner_id)
            failures = [f.model_dump() for f in event.failures]
            now = datetime.now(UTC)
            done_chunk = insert(batch_chunks).values(
                batch_id=event.batch_id,
                chunk_no=event.chunk_no,
                status="DONE",
                items_succeeded=event.items_succeeded,
                items_failed=event.items_failed,
                failures=failures,
                completed_at=now,
                payload=None,
            )
            # Natural key: a chunk completes once, whatever the number of completion events.
            completion = done_chunk.on_conflict_do_update(
                index_elements=["batch_id", "chunk_no"],
                set_={
                    "status": "DONE",
                    "items_succeeded": event.items_succeeded,
                    "items_failed": event.items_failed,
                    "failures": failures,
                    "completed_at": now,
                },
                where=batch_chunks.c.status != "DONE",
            ).returning(batch_chunks.c.chunk_no)
            if (await session.execute(completion)).first() is None:
                return
            await _mark_items(session, event)
            await session.execute(
                update(batches)
                .where(batches.c.id == event.batch_id)
                .values(
                    chunks_done=batches.c.chunks_done + 1,
                    items_processed=batches.c.items_processed + event.items_succeeded,
                    items_failed=batches.c.items_failed + event.items_failed,
                    updated_at=now,
                )
            )
            if not await _settle(session, event.batch_id, event.correlation_id):
                wait = await _progress_throttled(session, event.batch_id, event.correlation_id)
                if wait is not None:
                    self._flush_later(event.batch_id, event.correlation_id, wait)

    def _flush_later(self, batch_id: uuid.UUID, correlation_id: str, wait: timedelta) -> None:
        if batch_id not in self._trailing:
            task = asyncio.create_task(self._flush(batch_id, correlation_id, wait))
            self._trailing[batch_id] = task
            task.add_done_callback(lambda _: self._trailing.pop(batch_id, None))

    async def _flush(self, batch_id: uuid.UUID, correlation_id: str, wait: timedelta) -> None:
        """Publish the progress withheld by the throttle once its interval is over (best effort:
        a restart loses it, and the next completion or status change says as much)."""
        try:
            while True:
                await asyncio.sleep(wait.total_seconds())
                async with self.sessions() as session, session.begin():
                    batch = (
                        await session.execute(
                            select(batches.c.status)
                            .where(batches.c.id == batch_id)
                            .with_for_update()
                        )
                    ).first()
                    if batch is None or batch.status in ("COMPLETED", "FAILED", "CANCELLED"):
                        return  # the status change carried the final figures
                    again = await _progress_throttled(session, batch_id, correlation_id)
                if again is None:
                    return
                wait = again
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("withheld progress of batch %s not published: %r", batch_id, exc)

    async def chunk_still_queued(self, event: ChunkStillQueued) -> None:
        """The analysis service holds the chunk: give it a new deadline, count no lost dispatch."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(batch_chunks)
                .where(
                    batch_chunks.c.batch_id == event.batch_id,
                    batch_chunks.c.chunk_no == event.chunk_no,
                    batch_chunks.c.status == "WAITING",
                )
                .values(deadline_at=datetime.now(UTC) + self.chunk_deadline, dispatches=1)
            )

    async def cancel_requested(self, event: BatchCancelRequested) -> None:
        async with self.sessions() as session, session.begin():
            if not await first_delivery(session, inbox, event.event_id, event.event_type):
                return
            batch = await _lock_batch(session, event.batch_id, event.owner_id)
            if batch["owner_id"] != event.owner_id or not can_cancel(batch["status"]):
                return
            now = datetime.now(UTC)
            await session.execute(
                update(batches)
                .where(batches.c.id == event.batch_id)
                .values(status="CANCELLED", finished_at=now, updated_at=now)
            )
            await _publish_status(session, event.batch_id, batch["status"], event.correlation_id)


def _item_status(chunk_status: str, failed: bool) -> str:
    if chunk_status != "DONE":
        return "PENDING"
    return "FAILED" if failed else "DONE"


async def _mark_items(session: AsyncSession, event: ChunkAnalysed) -> None:
    if event.skipped_because_cancelled:
        return
    in_chunk = and_(
        batch_items.c.batch_id == event.batch_id, batch_items.c.chunk_no == event.chunk_no
    )
    await session.execute(update(batch_items).where(in_chunk).values(status="DONE"))
    for failure in event.failures:
        await session.execute(
            update(batch_items)
            .where(in_chunk, batch_items.c.item_no == failure.item_no)
            .values(status="FAILED", failure_reason=failure.reason)
        )


async def _lock_batch(session: AsyncSession, batch_id: uuid.UUID, owner_id: uuid.UUID) -> Any:
    """Create the placeholder row if no event of this batch came before, then lock the row."""
    await session.execute(
        insert(batches)
        .values(id=batch_id, owner_id=owner_id, status="PENDING")
        .on_conflict_do_nothing(index_elements=["id"])
    )
    row = (
        (await session.execute(select(batches).where(batches.c.id == batch_id).with_for_update()))
        .mappings()
        .one()
    )
    return row


async def _settle(session: AsyncSession, batch_id: uuid.UUID, correlation_id: str) -> bool:
    """After any change: move the status on, and acknowledge the batch once it is all here.
    True when the status changed (its events are written)."""
    row = (await session.execute(select(batches).where(batches.c.id == batch_id))).mappings().one()
    progress = BatchProgress(
        status=row["status"],
        header_received=row["header_received"],
        chunk_count=row["chunk_count"],
        chunks_done=row["chunks_done"],
        items_total=row["items_total"],
        items_processed=row["items_processed"],
        items_failed=row["items_failed"],
    )
    new_status = status_after_progress(progress)
    if new_status != row["status"]:
        now = datetime.now(UTC)
        finished = now if new_status in ("COMPLETED", "FAILED") else None
        await session.execute(
            update(batches)
            .where(batches.c.id == batch_id)
            .values(status=new_status, finished_at=finished, updated_at=now)
        )
        await _publish_status(session, batch_id, row["status"], correlation_id)
    complete = row["header_received"] and row["chunks_received"] >= row["chunk_count"]
    if complete and not row["acknowledged"]:
        await session.execute(
            update(batches).where(batches.c.id == batch_id).values(acknowledged=True)
        )
        await add_to_outbox(
            session,
            outbox,
            topic=BATCH_STATUS,
            aggregate_id=batch_id,
            events=[
                BatchAcknowledged(
                    batch_id=batch_id,
                    owner_id=row["owner_id"],
                    chunks_received=row["chunks_received"],
                    correlation_id=correlation_id,
                )
            ],
        )
    return bool(new_status != row["status"])


async def _acknowledge_again(
    session: AsyncSession, batch_id: uuid.UUID, correlation_id: str
) -> None:
    row = (
        await session.execute(
            select(batches.c.owner_id, batches.c.chunks_received, batches.c.acknowledged).where(
                batches.c.id == batch_id
            )
        )
    ).first()
    if row is None or not row.acknowledged:
        return
    await add_to_outbox(
        session,
        outbox,
        topic=BATCH_STATUS,
        aggregate_id=batch_id,
        events=[
            BatchAcknowledged(
                batch_id=batch_id,
                owner_id=row.owner_id,
                chunks_received=row.chunks_received,
                correlation_id=correlation_id,
            )
        ],
    )


async def _publish_status(
    session: AsyncSession, batch_id: uuid.UUID, previous: str, correlation_id: str
) -> None:
    row = (await session.execute(select(batches).where(batches.c.id == batch_id))).mappings().one()
    event = BatchStatusChanged(
        batch_id=batch_id,
        owner_id=row["owner_id"],
        status=row["status"],
        previous_status=previous,
        items_total=row["items_total"],
        items_processed=row["items_processed"],
        items_failed=row["items_failed"],
        finished_at=row["finished_at"],
        correlation_id=correlation_id,
    )
    progressed = _progressed(row, status_changed=True, correlation_id=correlation_id)
    await add_to_outbox(
        session, outbox, topic=BATCH_STATUS, events=[event, progressed], aggregate_id=batch_id
    )


async def _progress_throttled(
    session: AsyncSession, batch_id: uuid.UUID, correlation_id: str
) -> timedelta | None:
    """Publish the batch's progress unless one went out within the interval; then answer how
    long until it may (the caller publishes it then). Called with the batch row locked, so the
    instances of the service handling one batch take turns; times are the database's clock."""
    last = (
        select(func.max(outbox.c.created_at))
        .where(
            outbox.c.aggregate_id == batch_id,
            outbox.c.event_type == BatchProgressed.model_fields["event_type"].default,
        )
        .scalar_subquery()
    )
    now, last_at = (await session.execute(select(func.now(), last))).one()
    if not progress_due(last_at, now, status_changed=False):
        return progress_wait(last_at, now)
    row = (await session.execute(select(batches).where(batches.c.id == batch_id))).mappings().one()
    event = _progressed(row, status_changed=False, correlation_id=correlation_id)
    await add_to_outbox(session, outbox, topic=BATCH_STATUS, events=[event], aggregate_id=batch_id)
    return None


def _progressed(row: Any, *, status_changed: bool, correlation_id: str) -> BatchProgressed:
    done = row["items_processed"] + row["items_failed"]
    eta = eta_seconds(row["items_total"], done, row["started_at"], datetime.now(UTC))
    return BatchProgressed(
        batch_id=row["id"],
        owner_id=row["owner_id"],
        status=row["status"],
        status_changed=status_changed,
        items_total=row["items_total"],
        items_processed=row["items_processed"],
        items_failed=row["items_failed"],
        eta_seconds=eta if row["status"] in ("PENDING", "PROCESSING") else None,
        correlation_id=correlation_id,
    )
