"""The scheduler of watchlists and schedules, and the evaluation of finished watchlist runs.

Every gateway instance runs this loop; one at a time does the work of a tick: the tick holds
a PostgreSQL advisory lock (on its own connection, released if the process dies), the others
skip it. Even so nothing depends on the lock for correctness: each due list is taken with
FOR UPDATE SKIP LOCKED, and its run row (unique per list and due time), its batch (submitted
through the same quotas and outbox as POST /api/v1/batches) and the advance of `next_run_at`
commit in one transaction. A restart or a second leader cannot run one due time twice.

A watchlist run is evaluated once its batch has finished (`submissions.finished_at`, set from
the batch service's status event): its analyses are fetched from the analysis service, then
the alerts, their alert.triggered webhooks, the items' new baselines and the run's
`evaluated_at` commit together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..adapters.internal import InternalServices, owner_param
from ..api.problems import ProblemError
from ..db.tables import submissions, users
from ..settings import GatewaySettings
from ..webhooks.outbox import enqueue
from .conditions import triggered, usable
from .submit import chunk_items, submit_batch
from .tables import alerts, scheduled_runs, schedules, watchlist_items, watchlists

log = logging.getLogger(__name__)
LEADER_LOCK = 0x41565F5343484544  # "AV_SCHED": the advisory lock of the scheduler's tick
PAGE = 20
ANALYSES_PAGE = 500


def next_run(
    after: datetime, *, cron: str | None = None, interval_minutes: int | None = None
) -> datetime:
    """The first run time after `after` of a cron expression (UTC) or an interval."""
    if cron is not None:
        found: datetime = croniter(cron, after.astimezone(UTC)).get_next(datetime)
        return found
    assert interval_minutes is not None
    return after + timedelta(minutes=interval_minutes)


def following(due_at: datetime, now: datetime, **rule: Any) -> datetime:
    """The next run after the one due at `due_at`; runs missed while nothing ran (the system
    was down) are skipped, not caught up one after the other."""
    upcoming = next_run(due_at, **rule)
    return upcoming if upcoming > now else next_run(now, **rule)


@dataclass
class Scheduler:
    sessions: async_sessionmaker[AsyncSession]
    settings: GatewaySettings
    services: InternalServices
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    runs_started: int = 0
    alerts_raised: int = 0

    def poke(self) -> None:
        """Something may be due (a batch finished, a list asked to run now): tick soon."""
        self.wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scheduler: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.scheduler_tick_seconds)
            self.wake.clear()

    async def tick(self) -> bool:
        """One round as the leader; False when another instance leads this round."""
        # The lock belongs to this session's transaction, open for the whole round: it ends
        # with the round, or with the connection if the process dies.
        async with self.sessions() as lock, lock.begin():
            if not await lock.scalar(select(func.pg_try_advisory_xact_lock(LEADER_LOCK))):
                return False
            await self._run_due_watchlists()
            await self._run_due_schedules()
            await self._evaluate_finished_runs()
        return True

    # --- runs -----------------------------------------------------------------------------

    async def _run_due_watchlists(self) -> None:
        while await self._run_one(watchlists, self._watchlist_batch):
            pass

    async def _run_due_schedules(self) -> None:
        while await self._run_one(schedules, self._schedule_batch):
            pass

    async def _run_one(self, table: Any, batch_of: Any) -> bool:
        """Run the list due first, if any; True when one was handled."""
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            due = (
                await session.execute(
                    select(table)
                    .where(table.c.paused.is_(False), table.c.next_run_at <= now)
                    .order_by(table.c.next_run_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if due is None:
                return False
            key = "watchlist_id" if table is watchlists else "schedule_id"
            run_id = uuid.uuid4()
            inserted = await session.scalar(
                insert(scheduled_runs)
                .values(id=run_id, due_at=due.next_run_at, **{key: due.id})
                .on_conflict_do_nothing()
                .returning(scheduled_runs.c.id)
            )
            if inserted is not None:  # else: this due time ran already (a past leader)
                await self._submit_run(session, run_id, due, batch_of)
            rule = (
                {"interval_minutes": due.interval_minutes}
                if table is watchlists
                else {"cron": due.cron, "interval_minutes": due.interval_minutes}
            )
            await session.execute(
                update(table)
                .where(table.c.id == due.id)
                .values(next_run_at=following(due.next_run_at, now, **rule))
            )
        return True

    async def _submit_run(
        self, session: AsyncSession, run_id: uuid.UUID, due: Any, batch_of: Any
    ) -> None:
        owner = (await session.execute(select(users).where(users.c.id == due.owner_id))).first()
        error: str | None = None
        values: dict[str, Any] = {}
        if owner is None or owner.disabled:
            error = "the account is disabled"
        else:
            try:
                async with session.begin_nested():  # a refused quota leaves the run's row
                    name, items, item_ids, config_version = await batch_of(session, due)
                    if not items:
                        raise ProblemError(422, "empty", "Nothing to analyse", "no lines")
                    batch_id = await submit_batch(
                        session, owner, name, items, self.settings, config_version
                    )
                    values = {"batch_id": batch_id, "item_ids": item_ids}
                    self.runs_started += 1
            except ProblemError as exc:
                error = exc.detail or exc.title
            except ValueError as exc:  # a stored line no longer valid: the run says so
                error = f"invalid line: {exc}"[:1000]
        if error is not None:
            log.info("scheduled run %s not submitted: %s", run_id, error)
        await session.execute(
            update(scheduled_runs)
            .where(scheduled_runs.c.id == run_id)
            .values(error=error, **values)
        )

    async def _watchlist_batch(
        self, session: AsyncSession, due: Any
    ) -> tuple[str, list[Any], list[str], int | None]:
        rows = (
            await session.execute(
                select(watchlist_items)
                .where(watchlist_items.c.watchlist_id == due.id)
                .order_by(watchlist_items.c.created_at, watchlist_items.c.id)
            )
        ).all()
        lines = [
            {
                "identifier": r.identifier,
                "buy_cost": r.buy_cost,
                "condition": r.condition,
                "quantity": r.quantity,
            }
            for r in rows
        ]
        return f"watchlist: {due.name}", chunk_items(lines), [str(r.id) for r in rows], None

    async def _schedule_batch(
        self, session: AsyncSession, due: Any
    ) -> tuple[str, list[Any], list[str] | None, int | None]:
        return due.name, chunk_items(due.lines), None, due.config_version

    # --- alerts ---------------------------------------------------------------------------

    async def _evaluate_finished_runs(self) -> None:
        async with self.sessions() as session:
            finished = (
                await session.execute(
                    select(scheduled_runs.c.id, submissions.c.batch_id, submissions.c.owner_id)
                    .join(submissions, submissions.c.batch_id == scheduled_runs.c.batch_id)
                    .where(
                        scheduled_runs.c.watchlist_id.is_not(None),
                        scheduled_runs.c.evaluated_at.is_(None),
                        submissions.c.finished_at.is_not(None),
                    )
                    .order_by(scheduled_runs.c.created_at)
                    .limit(PAGE)
                )
            ).all()
        for run_id, batch_id, owner_id in finished:
            analyses = await self._analyses(batch_id, owner_id)
            await self.evaluate(run_id, analyses)

    async def _analyses(self, batch_id: uuid.UUID, owner_id: uuid.UUID) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = -1
        while True:
            page = await self.services.analysis(
                "/internal/analyses",
                {
                    "batch_id": batch_id,
                    "sort": "item",
                    "size": ANALYSES_PAGE,
                    "after_item_no": after,
                    **owner_param(owner_id),
                },
            )
            items = (page or {}).get("items") or []
            found += items
            if len(items) < ANALYSES_PAGE:
                return found
            after = items[-1]["item_no"]

    async def evaluate(self, run_id: uuid.UUID, analyses: list[dict[str, Any]]) -> int:
        """Compare each item's new analysis with its baseline; store the alerts and enqueue
        their webhooks, once (the run row's lock and `evaluated_at`). The alerts raised."""
        raised = 0
        async with self.sessions() as session, session.begin():
            run = (
                await session.execute(
                    select(scheduled_runs, watchlists.c.owner_id, watchlists.c.name)
                    .join(watchlists, watchlists.c.id == scheduled_runs.c.watchlist_id)
                    .where(scheduled_runs.c.id == run_id, scheduled_runs.c.evaluated_at.is_(None))
                    .with_for_update(of=scheduled_runs)
                )
            ).first()
            if run is None:
                return 0
            item_ids = [uuid.UUID(i) for i in run.item_ids or []]
            items = {
                r.id: r
                for r in (
                    await session.execute(
                        select(watchlist_items).where(watchlist_items.c.id.in_(item_ids))
                    )
                ).all()
            }
            for analysis in analyses:
                n = analysis.get("item_no")
                item = items.get(item_ids[n]) if n is not None and n < len(item_ids) else None
                if item is None:  # removed from the list meanwhile
                    continue
                raised += await self._compare(session, run, item, analysis)
            await session.execute(
                update(scheduled_runs)
                .where(scheduled_runs.c.id == run_id)
                .values(evaluated_at=datetime.now(UTC))
            )
        self.alerts_raised += raised
        return raised

    async def _compare(
        self, session: AsyncSession, run: Any, item: Any, after: dict[str, Any]
    ) -> int:
        if not usable(after):
            return 0  # no market data this time: keep the baseline
        raised = 0
        for condition in triggered(item.alert_on, item.last_analysis, after):
            alert_id = uuid.uuid4()
            created = await session.scalar(
                insert(alerts)
                .values(
                    id=alert_id,
                    owner_id=run.owner_id,
                    watchlist_id=run.watchlist_id,
                    item_id=item.id,
                    run_id=run.id,
                    kind=condition["kind"],
                    value=condition.get("value"),
                    before=item.last_analysis,
                    after=after,
                )
                .on_conflict_do_nothing()
                .returning(alerts.c.created_at)
            )
            if created is None:
                continue
            raised += 1
            await enqueue(
                session,
                run.owner_id,
                "alert.triggered",
                f"alert.triggered:{alert_id}",
                alert_data(alert_id, run, item, condition, item.last_analysis, after),
                created,
            )
        await session.execute(
            update(watchlist_items)
            .where(watchlist_items.c.id == item.id)
            .values(last_analysis=after, last_analysed_at=func.now())
        )
        return raised


def alert_data(
    alert_id: uuid.UUID,
    run: Any,
    item: Any,
    condition: dict[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> dict[str, Any]:
    return {
        "alert_id": str(alert_id),
        "watchlist_id": str(run.watchlist_id),
        "watchlist_name": run.name,
        "item_id": str(item.id),
        "identifier": item.identifier,
        "kind": condition["kind"],
        "value": condition.get("value"),
        "batch_id": str(run.batch_id),
        "before": summary(before),
        "after": summary(after),
    }


SUMMARY_FIELDS = (
    "id",
    "recommendation",
    "sell_price",
    "profit",
    "roi_percent",
    "sales_rank",
    "risk_flags",
)


def summary(analysis: dict[str, Any] | None) -> dict[str, Any] | None:
    """What an alert shows of an analysis (the whole one is at GET /api/v1/analyses/{id})."""
    return None if analysis is None else {k: analysis.get(k) for k in SUMMARY_FIELDS}
