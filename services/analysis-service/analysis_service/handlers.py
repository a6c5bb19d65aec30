"""Event handlers of the analysis service: queue chunks, remember cancelled batches."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.events import (
    BatchChunkSubmitted,
    BatchStatusChanged,
    ChunkAnalysed,
    ChunkRedispatched,
    ChunkStillQueued,
)
from av_shared.inbox import first_delivery
from av_shared.outbox import add_to_outbox
from av_shared.topics import CHUNK_RESULTS

from .db.tables import cancelled_batches, inbox, outbox, work_chunks
from .work_queue import enqueue


@dataclass
class AnalysisHandlers:
    sessions: async_sessionmaker[AsyncSession]

    async def chunk_submitted(self, event: BatchChunkSubmitted | ChunkRedispatched) -> None:
        async with self.sessions() as session, session.begin():
            if not await first_delivery(session, inbox, event.event_id, event.event_type):
                return
            queued = await enqueue(
                session,
                {
                    "batch_id": event.batch_id,
                    "chunk_no": event.chunk_no,
                    "owner_id": event.owner_id,
                    "items": [item.model_dump(mode="json") for item in event.items],
                    "config": event.config.model_dump(mode="json"),
                    "correlation_id": event.correlation_id,
                    "item_count": len(event.items),
                },
            )
            if queued or not isinstance(event, ChunkRedispatched):
                return
            held = (
                await session.execute(
                    select(work_chunks.c.status, work_chunks.c.completion).where(
                        work_chunks.c.batch_id == event.batch_id,
                        work_chunks.c.chunk_no == event.chunk_no,
                    )
                )
            ).one()
            reply: ChunkAnalysed | ChunkStillQueued
            if held.status == "DONE":
                # The completion was lost on its way: send it again (a chunk counts once).
                reply = ChunkAnalysed.model_validate(held.completion).model_copy(
                    update={"event_id": event.event_id}
                )
            else:
                # Queued here (waiting for tokens or a worker): alive, not lost.
                reply = ChunkStillQueued(
                    batch_id=event.batch_id,
                    owner_id=event.owner_id,
                    chunk_no=event.chunk_no,
                    correlation_id=event.correlation_id,
                )
            await add_to_outbox(
                session, outbox, topic=CHUNK_RESULTS, events=[reply], aggregate_id=event.batch_id
            )

    async def batch_status_changed(self, event: BatchStatusChanged) -> None:
        if event.status != "CANCELLED":
            return
        async with self.sessions() as session, session.begin():
            await session.execute(
                insert(cancelled_batches).values(batch_id=event.batch_id).on_conflict_do_nothing()
            )
