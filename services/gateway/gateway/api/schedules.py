"""Scheduled batches: a list of lines submitted again and again, on a cron expression (UTC) or
an interval, with your latest config or a stored version of it. Each run is an ordinary batch
of yours (your quotas: a run a quota refuses is recorded with the reason), listed in its
schedule's runs; pause and resume with PATCH."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from croniter import CroniterError, croniter
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StrictBool, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.tables import business_configs
from ..watchlists.scheduler import next_run
from ..watchlists.tables import scheduled_runs, schedules
from .deps import CurrentUser, KnownQueryOnly, SessionDep, SettingsDep
from .problems import AUTHENTICATED, WITH_BODY, ProblemError, invalid, problems
from .schemas import Count, ItemIn, Name, Strict
from .watchlists import HOURLY, MAX_INTERVAL, RunOut, RunTime, poke_scheduler, runs_of

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"], dependencies=KnownQueryOnly)
MAX_LINES = 10_000
# Five fields, UTC: a minute (so at most hourly), then an hour, a day of the month up to the
# 28th (every month has it), a month and a day of the week (0 = Sunday), each a number or `*`.
CRON_PATTERN = (
    r"^([0-5]?[0-9]) (\*|[01]?[0-9]|2[0-3]) (\*|[1-9]|1[0-9]|2[0-8]) (\*|[1-9]|1[0-2]) "
    r"(\*|[0-6])$"
)


class _Schedule(Strict):
    name: Name
    items: list[ItemIn] = Field(min_length=1, max_length=MAX_LINES)
    config: Literal["latest"] | Annotated[Count, Field(ge=1, le=2**31 - 1)] = Field(
        "latest", description='"latest": your config at each run; a number: that version'
    )
    start_at: RunTime | None = Field(
        None, description="The first run (default: the cron's next time, or now)"
    )


class CronSchedule(_Schedule):
    cron: str = Field(
        max_length=40,
        description="Minute hour day-of-month month day-of-week, UTC, e.g. `0 6 * * 1`",
        json_schema_extra={"pattern": CRON_PATTERN},
    )

    @field_validator("cron")
    @classmethod
    def _cron_pattern(cls, value: str) -> str:
        # Python's reading of the pattern, as clients generating from it read it.
        if re.search(CRON_PATTERN, value) is None:
            raise ValueError("minute hour day (1-28) month weekday, each a number or *")
        return value.strip()


class IntervalSchedule(_Schedule):
    interval_minutes: Count = Field(ge=1, le=MAX_INTERVAL, json_schema_extra=HOURLY)


ScheduleIn = CronSchedule | IntervalSchedule


class SchedulePatch(Strict):
    name: Name | None = None
    paused: StrictBool | None = Field(None, description="true: no runs until false again")
    next_run_at: RunTime | None = None


class ScheduleOut(BaseModel):
    id: uuid.UUID
    name: str
    cron: str | None
    interval_minutes: int | None
    config: Literal["latest"] | int
    paused: bool
    next_run_at: datetime
    created_at: datetime
    line_count: int


def _not_found() -> ProblemError:
    return ProblemError(404, "not-found", "Not found", "no such schedule")


def _check_timing(cron: str | None, interval: int | None, settings: Any) -> None:
    """A valid cron expression; runs no closer together than MIN_SCHEDULE_INTERVAL_MINUTES."""
    least = settings.min_schedule_interval_minutes
    if interval is not None and interval < least:
        raise invalid("interval_minutes", f"at least {least} minutes")
    if cron is None:
        return
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise invalid("cron", "not a five-field cron expression")
    try:
        times = croniter(cron, datetime.now(UTC)).all_next(datetime)
        first = next(times)
        for _ in range(50):
            later = next(times)
            if later - first < timedelta(minutes=least):
                raise invalid("cron", f"runs closer together than {least} minutes")
            first = later
    except CroniterError:
        raise invalid("cron", "never runs (no such date)") from None


def _first_run(cron: str | None, interval: int | None, start_at: datetime | None) -> datetime:
    now = datetime.now(UTC)
    if start_at is not None:
        return start_at
    return next_run(now, cron=cron) if cron is not None else now


def _out(r: Any) -> ScheduleOut:
    return ScheduleOut(
        id=r.id,
        name=r.name,
        cron=r.cron,
        interval_minutes=r.interval_minutes,
        config="latest" if r.config_version is None else r.config_version,
        paused=r.paused,
        next_run_at=r.next_run_at,
        created_at=r.created_at,
        line_count=len(r.lines),
    )


async def _own(session: AsyncSession, schedule_id: uuid.UUID, owner: uuid.UUID) -> Any:
    row = (
        await session.execute(
            select(schedules).where(schedules.c.id == schedule_id, schedules.c.owner_id == owner)
        )
    ).first()
    if row is None:
        raise _not_found()
    return row


def _line(item: ItemIn) -> dict[str, Any]:
    return {
        "identifier": item.identifier,
        "buy_cost": str(item.cost()),
        "condition": item.condition,
        "quantity": item.quantity,
        "note": item.note,
    }


@router.post(
    "",
    status_code=201,
    response_model=ScheduleOut,
    responses=problems(
        *AUTHENTICATED, *WITH_BODY, 404, s404="`config` names a version you do not have"
    ),
)
async def create_schedule(
    body: ScheduleIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> ScheduleOut:
    """Save a batch as a recurring job; its first run is `start_at`, or the cron's next time,
    or (an interval) now."""
    cron = body.cron if isinstance(body, CronSchedule) else None
    interval = body.interval_minutes if isinstance(body, IntervalSchedule) else None
    _check_timing(cron, interval, settings)
    for n, item in enumerate(body.items):
        if item.cost() > settings.max_buy_cost:
            raise invalid(f"items[{n}].buy_cost", f"at most {settings.max_buy_cost}")
    version = None if body.config == "latest" else body.config
    schedule_id = uuid.uuid4()
    async with session.begin():
        if version:
            known = await session.scalar(
                select(func.count())
                .select_from(business_configs)
                .where(business_configs.c.user_id == user.id, business_configs.c.version == version)
            )
            if not known:
                raise ProblemError(
                    404, "not-found", "Not found", f"config: you have no version {version}"
                )
        await session.execute(
            schedules.insert().values(
                id=schedule_id,
                owner_id=user.id,
                name=body.name,
                lines=[_line(i) for i in body.items],
                cron=cron,
                interval_minutes=interval,
                config_version=version,
                next_run_at=_first_run(cron, interval, body.start_at),
            )
        )
        created = _out(await _own(session, schedule_id, user.id))
    poke_scheduler(request)
    return created


@router.get("", response_model=list[ScheduleOut], responses=problems(*AUTHENTICATED))
async def list_schedules(user: CurrentUser, session: SessionDep) -> list[ScheduleOut]:
    rows = (
        await session.execute(
            select(schedules)
            .where(schedules.c.owner_id == user.id)
            .order_by(schedules.c.created_at)
        )
    ).all()
    return [_out(r) for r in rows]


@router.get("/{schedule_id}", response_model=ScheduleOut, responses=problems(*AUTHENTICATED, 404))
async def get_schedule(
    schedule_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ScheduleOut:
    return _out(await _own(session, schedule_id, user.id))


@router.patch(
    "/{schedule_id}",
    response_model=ScheduleOut,
    responses=problems(*AUTHENTICATED, *WITH_BODY, 404),
)
async def update_schedule(
    schedule_id: uuid.UUID,
    body: SchedulePatch,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> ScheduleOut:
    """Pause (`paused: true`) or resume (the next run is then the next one due from now),
    rename, or move the next run."""
    async with session.begin():
        row = await _own(session, schedule_id, user.id)
        changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude_none=True)
        resumed = body.paused is False and row.paused
        if body.next_run_at is None and resumed:
            changes["next_run_at"] = next_run(
                datetime.now(UTC), cron=row.cron, interval_minutes=row.interval_minutes
            )
        if changes:
            await session.execute(
                update(schedules).where(schedules.c.id == row.id).values(**changes)
            )
        updated = _out(await _own(session, schedule_id, user.id))
    poke_scheduler(request)
    return updated


@router.delete(
    "/{schedule_id}",
    status_code=204,
    response_class=Response,
    responses=problems(*AUTHENTICATED, 404),
)
async def delete_schedule(
    schedule_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    """No more runs; the batches it ran stay yours."""
    async with session.begin():
        deleted = (
            await session.execute(
                schedules.delete()
                .where(schedules.c.id == schedule_id, schedules.c.owner_id == user.id)
                .returning(schedules.c.id)
            )
        ).first()
    if deleted is None:
        raise _not_found()
    return Response(status_code=204)


@router.get(
    "/{schedule_id}/runs", response_model=list[RunOut], responses=problems(*AUTHENTICATED, 404)
)
async def list_schedule_runs(
    schedule_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> list[RunOut]:
    """The schedule's runs, newest first (the last 100): each its batch, or why it has none."""
    await _own(session, schedule_id, user.id)
    return await runs_of(session, scheduled_runs.c.schedule_id == schedule_id)
