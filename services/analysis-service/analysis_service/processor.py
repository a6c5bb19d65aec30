"""Workers: take a chunk from the queue, analyse it, and store every result with the completion
event in one transaction. A chunk's analyses are stored exactly once, whatever happens around."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from opentelemetry.trace import SpanKind
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.db import raw_dsn
from av_shared.events import ChunkAnalysed, ItemFailure
from av_shared.logging import correlation_id_var
from av_shared.outbox import add_to_outbox
from av_shared.retry import Backoff, is_transient, retry_forever
from av_shared.topics import CHUNK_RESULTS
from av_shared.tracing import annotate
from av_shared.tracing import span as trace_span

from .adapters.market_data import MarketData
from .adapters.token_budget import spending_owner
from .application import ItemAnalysed, ItemFailed, ItemOutcome, analyse_items
from .db.tables import analyses, cancelled_batches, item_failures, outbox, work_chunks
from .work_queue import WORK_CHANNEL, ClaimedChunk, WorkQueue

log = logging.getLogger(__name__)
MAX_CHUNK_ATTEMPTS = 5


@dataclass
class ChunkProcessor:
    sessions: async_sessionmaker[AsyncSession]
    market: MarketData
    queue: WorkQueue
    instance_id: str
    items_analysed: int = 0

    async def process(self, chunk: ClaimedChunk) -> None:
        correlation_id_var.set(chunk.correlation_id)
        # Tracing on: a span, child of the handler that queued the chunk (its completion, written
        # to the outbox within, continues the trace).
        with trace_span(
            "analyse chunk",
            kind=SpanKind.CONSUMER,
            parent=chunk.traceparent,
            attributes={
                "av.batch_id": str(chunk.batch_id),
                "av.chunk_no": chunk.chunk_no,
                "av.chunk.items": len(chunk.items),
                "av.chunk.attempt": chunk.attempts,
            },
        ):
            # The lease is kept by the pool's heartbeat, however long the chunk waits for tokens.
            if await self._is_cancelled(chunk):
                outcomes: list[ItemOutcome] | None = None
            else:
                outcomes = await self._analyse(chunk)
            with trace_span("store analyses"):
                await self._complete(chunk, outcomes)

    async def _analyse(self, chunk: ClaimedChunk) -> list[ItemOutcome]:
        spending = spending_owner.set(chunk.owner_id)  # the tokens it costs are the owner's
        try:
            return await analyse_items(self.market, chunk.items, chunk.config, instant=False)
        except Exception as exc:
            # Infrastructure trouble passes: the chunk is retried. A chunk that keeps failing
            # for another reason (a bug) gets its items failed with the reason, so the batch
            # still finishes and the failure is visible instead of looping forever.
            if is_transient(exc) or chunk.attempts < MAX_CHUNK_ATTEMPTS:
                raise
            log.exception(
                "chunk %s/%d failed %d times", chunk.batch_id, chunk.chunk_no, chunk.attempts
            )
            reason = f"analysis error after {chunk.attempts} attempts: {type(exc).__name__}"
            return [ItemFailed(item, reason) for item in chunk.items]
        finally:
            spending_owner.reset(spending)

    async def _is_cancelled(self, chunk: ClaimedChunk) -> bool:
        async with self.sessions() as session:
            found = await session.scalar(
                select(cancelled_batches.c.batch_id).where(
                    cancelled_batches.c.batch_id == chunk.batch_id
                )
            )
        return found is not None

    async def _complete(self, chunk: ClaimedChunk, outcomes: list[ItemOutcome] | None) -> None:
        async with self.sessions() as session, session.begin():
            status = await session.scalar(
                select(work_chunks.c.status)
                .where(
                    work_chunks.c.batch_id == chunk.batch_id,
                    work_chunks.c.chunk_no == chunk.chunk_no,
                )
                .with_for_update()
            )
            if status != "QUEUED":
                return  # another worker completed it (our lease had lapsed)
            analysed = [o for o in outcomes or [] if isinstance(o, ItemAnalysed)]
            failed = [o for o in outcomes or [] if isinstance(o, ItemFailed)]
            if analysed:
                await session.execute(
                    insert(analyses).on_conflict_do_nothing(),
                    [
                        {
                            **o.row,
                            "owner_id": chunk.owner_id,
                            "batch_id": chunk.batch_id,
                            "processed_by": self.instance_id,
                        }
                        for o in analysed
                    ],
                )
            if failed:
                await session.execute(
                    insert(item_failures).on_conflict_do_nothing(),
                    [
                        {
                            "batch_id": chunk.batch_id,
                            "item_no": o.item.item_no,
                            "owner_id": chunk.owner_id,
                            "identifier": o.item.identifier,
                            "reason": o.reason[:500],
                        }
                        for o in failed
                    ],
                )
            event = ChunkAnalysed(
                batch_id=chunk.batch_id,
                owner_id=chunk.owner_id,
                chunk_no=chunk.chunk_no,
                items_succeeded=len(analysed),
                items_failed=len(failed),
                failures=tuple(
                    ItemFailure(item_no=o.item.item_no, reason=o.reason[:500]) for o in failed
                ),
                skipped_because_cancelled=outcomes is None,
                correlation_id=chunk.correlation_id,
            )
            await session.execute(
                update(work_chunks)
                .where(
                    work_chunks.c.batch_id == chunk.batch_id,
                    work_chunks.c.chunk_no == chunk.chunk_no,
                )
                .values(
                    status="DONE",
                    done_at=datetime.now(UTC),
                    lease_owner=None,
                    completion=event.model_dump(mode="json"),
                )
            )
            await add_to_outbox(
                session, outbox, topic=CHUNK_RESULTS, events=[event], aggregate_id=chunk.batch_id
            )
            annotate({"av.analyses.stored": len(analysed), "av.items.failed": len(failed)})
        self.items_analysed += len(analysed)


class WorkerPool:
    """`size` workers in this process; they wake on NOTIFY of new work and poll as a fallback."""

    def __init__(
        self, processor: ChunkProcessor, *, size: int, poll_seconds: float, database_url: str
    ) -> None:
        self._processor = processor
        self._size = size
        self._poll = poll_seconds
        self._dsn = raw_dsn(database_url)
        self._wake = asyncio.Event()
        self._stopping = False
        self._current: dict[int, ClaimedChunk] = {}
        self._claiming = 0  # workers inside claim(): what they claim is not in _current yet
        self._workers: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        await retry_forever("freeing chunks held before a restart", self._free_predecessors)
        listener = asyncio.create_task(self._listen())
        heartbeat = asyncio.create_task(self._heartbeat())
        self._workers = [
            asyncio.create_task(self._work(n), name=f"worker-{n}") for n in range(self._size)
        ]
        try:
            await asyncio.gather(*self._workers)
        finally:
            for worker in self._workers:
                worker.cancel()
            listener.cancel()
            heartbeat.cancel()

    async def _free_predecessors(self) -> None:
        freed = await self._processor.queue.heartbeat([], release_others=True)
        if freed:
            log.warning("freed %d chunk(s) held by this instance before it restarted", freed)

    async def _heartbeat(self) -> None:
        """Keeps the leases of the chunks this process works on while it lives (a dead one's
        lapse within a lease), and frees any other chunk leased to it."""
        while True:
            await asyncio.sleep(self._processor.queue.lease_seconds / 3)
            try:
                await self._processor.queue.heartbeat(
                    list(self._current.values()), release_others=self._claiming == 0
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: leases may lapse, work is redone
                log.warning("lease heartbeat failed: %r", exc)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def shutdown(self, grace_seconds: float) -> None:
        """SIGTERM: claim nothing more; let the chunks in progress finish within the grace period
        (their results and completions commit as usual); hand the others back to the queue, at
        once, for another instance (not when their lease ends)."""
        self.stop()
        busy = [w for w in self._workers if not w.done()]
        if busy:
            _, late = await asyncio.wait(busy, timeout=grace_seconds)
            for worker in late:
                worker.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning(
                    "%d chunk(s) not finished in %.0fs: handed back", len(late), grace_seconds
                )
        await self.hand_back()

    async def hand_back(self) -> None:
        """Chunks whose worker was cancelled go back to the queue for another instance."""
        for n, chunk in list(self._current.items()):
            with contextlib.suppress(Exception):
                await self._processor.queue.release(chunk)
            self._current.pop(n, None)

    async def _work(self, n: int) -> None:
        backoff = Backoff(0.5, 15.0)
        while not self._stopping:
            try:
                self._claiming += 1
                try:
                    chunk = await self._processor.queue.claim()
                finally:
                    self._claiming -= 1
                if chunk is None:
                    await self._idle()
                    continue
                self._current[n] = chunk  # until done: a cancelled worker's chunk is handed back
                try:
                    await self._processor.process(chunk)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self._current.pop(n, None)
                    await self._processor.queue.release(chunk)  # retried soon, not at lease end
                    raise
                finally:
                    correlation_id_var.set(None)
                self._current.pop(n, None)
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = backoff.next_delay()
                log.exception("worker %d: chunk failed; retrying in %.1fs", n, delay)
                await asyncio.sleep(delay)

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._poll)
        self._wake.clear()

    async def _listen(self) -> None:
        backoff = Backoff(0.5, 10.0)
        while not self._stopping:
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
            except Exception:
                await asyncio.sleep(backoff.next_delay())
                continue
            try:
                await conn.add_listener(WORK_CHANNEL, lambda *_: self._wake.set())
                self._wake.set()  # work queued while we were not listening: look once now
                # asyncpg has no "closed" event to wait on: look once a second, reconnect if lost.
                while not conn.is_closed() and not self._stopping:  # noqa: ASYNC110
                    await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
