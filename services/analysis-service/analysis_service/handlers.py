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
            queued = await enqueue(session, {
                "batch_id": event.batch_id, "chunk_no": event.chunk_no,
                "owner_id": event.owner_id,
                "items": [item.model_dump(mode="json") for item in event.items],
                "config": event.config.model_dump(mode="json"),
                "correlation_id": event.correlation_id, "item_count": len(event.items),
            })
            if queued or not isinstance(event, ChunkRedispatched):
                return
            # Re-dispatched and already done here: the completion was lost on its way. Send it
            # again (same content, new event id); the batch service counts a chunk once.
            done = await session.scalar(select(work_chunks.c.completion).where(
                work_chunks.c.batch_id == event.batch_id, work_chunks.c.chunk_no == event.chunk_no,
                work_chunks.c.status == "DONE"))
            if done is not None:
                previous = ChunkAnalysed.model_validate(done)
                again = previous.model_copy(update={"event_id": event.event_id})
                await add_to_outbox(session, outbox, topic=CHUNK_RESULTS, events=[again],
                                    aggregate_id=event.batch_id)

    async def batch_status_changed(self, event: BatchStatusChanged) -> None:
        if event.status != "CANCELLED":
            return
        async with self.sessions() as session, session.begin():
            await session.execute(insert(cancelled_batches).values(batch_id=event.batch_id)
                                  .on_conflict_do_nothing())
