"""Until the batch service acknowledges a batch, the gateway re-publishes it (with backoff).

The batch service and the analysis service deduplicate by batch id and chunk number, so a
re-published batch can never produce a second analysis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.events import TERMINAL_STATUSES, BatchAcknowledged, BatchStatusChanged
from av_shared.inbox import first_delivery

from .db.tables import inbox, outbox, submissions
from .quotas import record_finished
from .webhooks.outbox import enqueue_batch_finished

log = logging.getLogger(__name__)


@dataclass
class SubmissionReconciler:
    sessions: async_sessionmaker[AsyncSession]
    ack_deadline: timedelta
    max_backoff: timedelta
    interval_seconds: float
    republished_total: int = 0
    on_finished: Callable[[], None] | None = None  # e.g. wake the scheduler: alerts to evaluate

    async def acknowledged(self, event: BatchAcknowledged) -> None:
        async with self.sessions() as session, session.begin():
            if not await first_delivery(session, inbox, event.event_id, event.event_type):
                return
            await session.execute(
                update(submissions)
                .where(
                    submissions.c.batch_id == event.batch_id,
                    submissions.c.acknowledged_at.is_(None),
                )
                .values(acknowledged_at=datetime.now(UTC))
            )

    async def status_changed(self, event: BatchStatusChanged) -> None:
        """A finished batch no longer counts against the seller's open batches (idempotent);
        its batch.completed/batch.failed webhooks are enqueued in the same transaction."""
        if event.status not in TERMINAL_STATUSES:
            return
        async with self.sessions() as session, session.begin():
            await record_finished(
                session, event.batch_id, event.status, event.finished_at or event.occurred_at
            )
            await enqueue_batch_finished(session, event)
        if self.on_finished is not None:
            self.on_finished()

    async def run(self) -> None:
        while True:
            try:
                await self.republish_overdue()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("submission reconciler: %r", exc)
            await asyncio.sleep(self.interval_seconds)

    async def republish_overdue(self) -> int:
        now = datetime.now(UTC)
        s = submissions.c
        overdue = await self._republish(
            now,
            s.created_at < now - self.ack_deadline,
            or_(s.next_republish_at.is_(None), s.next_republish_at < now),
        )
        return len(overdue)

    async def republish_unacknowledged(self) -> None:
        """The broker lost its log: every batch not yet acknowledged may have lost its events.
        Publish them all again now (in pages), whatever their deadline."""
        after: Any = None
        while True:
            condition = [] if after is None else [submissions.c.batch_id > after]
            page = await self._republish(datetime.now(UTC), *condition, lost=True)
            if len(page) < 100:
                return
            after = page[-1]

    async def _republish(self, now: datetime, *conditions: Any, lost: bool = False) -> list[Any]:
        s = submissions.c
        async with self.sessions() as session, session.begin():
            overdue = (
                await session.execute(
                    select(s.batch_id, s.republish_count)
                    .where(
                        # A finished batch is known to the batch service, acknowledged or not.
                        s.acknowledged_at.is_(None),
                        s.finished_at.is_(None),
                        *conditions,
                    )
                    .order_by(s.batch_id)
                    .limit(100)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for batch_id, count in overdue:
                # Mark the batch's outbox rows unsent: the relay publishes them again.
                await session.execute(
                    update(outbox)
                    .where(
                        and_(
                            outbox.c.aggregate_id == batch_id,
                            outbox.c.sent_at.is_not(None),
                            outbox.c.event_type.in_(["batch.submitted", "batch.chunk_submitted"]),
                        )
                    )
                    .values(sent_at=None)
                )
                # After a loss the batch is due again at its deadline; an overdue one backs off.
                delay = (
                    self.ack_deadline
                    if lost
                    else min(self.ack_deadline * (2**count), self.max_backoff)
                )
                await session.execute(
                    update(submissions)
                    .where(s.batch_id == batch_id)
                    .values(republish_count=s.republish_count + 1, next_republish_at=now + delay)
                )
                log.warning(
                    "batch %s %s: re-published (#%d)",
                    batch_id,
                    "may have been lost with the broker's log"
                    if lost
                    else f"not acknowledged after {self.ack_deadline}",
                    count + 1,
                )
        self.republished_total += len(overdue)
        return [batch_id for batch_id, _ in overdue]
