"""The batch service knows every chunk of every batch: a chunk with no completion after its
deadline is re-dispatched (with backoff); after the maximum dispatches its items are failed with
the reason, so the batch still reaches a terminal state. Re-dispatched work is deduplicated by
(batch_id, chunk_no) in the analysis service, so it never produces a second analysis."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.events import (
    BusinessConfigSnapshot,
    ChunkAnalysed,
    ChunkItem,
    ChunkRedispatched,
    ItemFailure,
)
from av_shared.outbox import add_to_outbox
from av_shared.topics import CHUNK_DISPATCH

from .db.tables import batch_chunks, batches, outbox
from .domain.progress import TERMINAL

log = logging.getLogger(__name__)


@dataclass
class ChunkReconciler:
    sessions: async_sessionmaker[AsyncSession]
    deadline: timedelta
    max_dispatches: int
    interval_seconds: float
    complete_chunk: Any  # BatchHandlers.chunk_analysed: applies a completion like any other
    redispatched_total: int = 0
    failed_chunks_total: int = 0

    async def run(self) -> None:
        while True:
            try:
                while await self.reconcile_once() > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("chunk reconciler: %r", exc)
            await asyncio.sleep(self.interval_seconds)

    async def reconcile_once(self) -> int:
        now = datetime.now(UTC)
        given_up: list[ChunkAnalysed] = []
        async with self.sessions() as session, session.begin():
            overdue = (
                (
                    await session.execute(
                        select(batch_chunks, batches.c.owner_id, batches.c.correlation_id)
                        .join(batches, batches.c.id == batch_chunks.c.batch_id)
                        .where(
                            batch_chunks.c.status == "WAITING",
                            batch_chunks.c.deadline_at < now,
                            batch_chunks.c.payload.is_not(None),
                            batches.c.status.not_in(TERMINAL),
                        )
                        .order_by(batch_chunks.c.deadline_at)
                        .limit(100)
                        .with_for_update(of=batch_chunks, skip_locked=True)
                    )
                )
                .mappings()
                .all()
            )
            for chunk in overdue:
                if chunk["dispatches"] >= self.max_dispatches:
                    given_up.append(self._failure(chunk))
                    await self._push_deadline(session, chunk, now + self.deadline)
                    continue
                await self._redispatch(session, chunk, now)
        for completion in given_up:  # applied through the normal, idempotent completion path
            await self.complete_chunk(completion)
            self.failed_chunks_total += 1
        return len(overdue)

    async def redispatch_open_chunks(self) -> None:
        """The broker lost its log: a completion (or still-queued answer) of any open chunk may
        be lost with it. Ask again for every one now, in pages; the analysis service answers
        from what it stored. Not counted as a dispatch: the loss was not the chunk's."""
        after: tuple[Any, int] | None = None
        asked = 0
        while True:
            now = datetime.now(UTC)
            async with self.sessions() as session, session.begin():
                query = (
                    select(batch_chunks, batches.c.owner_id, batches.c.correlation_id)
                    .join(batches, batches.c.id == batch_chunks.c.batch_id)
                    .where(
                        batch_chunks.c.status == "WAITING",
                        batch_chunks.c.payload.is_not(None),
                        batches.c.status.not_in(TERMINAL),
                    )
                )
                if after is not None:
                    query = query.where(
                        tuple_(batch_chunks.c.batch_id, batch_chunks.c.chunk_no) > tuple_(*after)
                    )
                page = (
                    (
                        await session.execute(
                            query.order_by(batch_chunks.c.batch_id, batch_chunks.c.chunk_no).limit(
                                500
                            )
                        )
                    )
                    .mappings()
                    .all()
                )
                for chunk in page:
                    await self._redispatch(session, chunk, now, counted=False)
            asked += len(page)
            if len(page) < 500:
                break
            after = (page[-1]["batch_id"], page[-1]["chunk_no"])
        log.warning("broker log lost: asked again for %d open chunk(s)", asked)

    async def _redispatch(
        self, session: AsyncSession, chunk: Any, now: datetime, counted: bool = True
    ) -> None:
        payload = chunk["payload"]
        correlation_id = chunk["correlation_id"] or f"batch-{chunk['batch_id']}"
        event = ChunkRedispatched(
            batch_id=chunk["batch_id"],
            owner_id=chunk["owner_id"],
            chunk_no=chunk["chunk_no"],
            chunk_count=payload["chunk_count"],
            attempt=chunk["dispatches"],
            items=tuple(ChunkItem.model_validate(i) for i in payload["items"]),
            config=BusinessConfigSnapshot.model_validate(payload["config"]),
            correlation_id=correlation_id,
        )
        await add_to_outbox(
            session, outbox, topic=CHUNK_DISPATCH, events=[event], aggregate_id=chunk["batch_id"]
        )
        if not counted:
            await self._push_deadline(session, chunk, now + self.deadline)
            return
        backoff = self.deadline * (2 ** min(chunk["dispatches"], 6))
        await self._push_deadline(session, chunk, now + backoff, dispatched=True)
        self.redispatched_total += 1
        log.warning(
            "chunk %s/%d had no completion by its deadline: re-dispatched (#%d)",
            chunk["batch_id"],
            chunk["chunk_no"],
            chunk["dispatches"],
        )

    async def _push_deadline(
        self, session: AsyncSession, chunk: Any, deadline: datetime, dispatched: bool = False
    ) -> None:
        values: dict[str, Any] = {"deadline_at": deadline}
        if dispatched:
            values["dispatches"] = batch_chunks.c.dispatches + 1
        await session.execute(
            update(batch_chunks)
            .where(
                batch_chunks.c.batch_id == chunk["batch_id"],
                batch_chunks.c.chunk_no == chunk["chunk_no"],
            )
            .values(**values)
        )

    def _failure(self, chunk: Any) -> ChunkAnalysed:
        reason = f"no analysis after {chunk['dispatches']} dispatches; given up"
        items = chunk["payload"]["items"]
        return ChunkAnalysed(
            batch_id=chunk["batch_id"],
            owner_id=chunk["owner_id"],
            chunk_no=chunk["chunk_no"],
            items_succeeded=0,
            items_failed=len(items),
            failures=tuple(ItemFailure(item_no=i["item_no"], reason=reason) for i in items),
            correlation_id=chunk["correlation_id"] or f"batch-{chunk['batch_id']}",
        )
