"""Watchlists: books you could buy, re-analysed on the list's interval (daily by default, hourly
at most) as batches of yours (your quotas, your config); an alert when a condition you set
triggers (GET /api/v1/alerts), delivered to your alert.triggered webhooks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    TypeAdapter,
    field_validator,
)
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from av_shared.events.chunk_item import Condition
from av_shared.identifiers import InvalidIdentifier, parse_identifier

from ..adapters.internal import owner_param
from ..watchlists.scheduler import summary
from ..watchlists.tables import scheduled_runs, watchlist_items, watchlists
from .deps import CurrentUser, KnownQueryOnly, ServicesDep, SessionDep, SettingsDep
from .problems import AUTHENTICATED, WITH_BODY, ProblemError, invalid, problems
from .schemas import (
    IDENTIFIER_FORMAT,
    IDENTIFIER_PATTERN,
    MAX_QUANTITY,
    BuyCost,
    Count,
    DateTimeText,
    Name,
    Strict,
)

router = APIRouter(prefix="/api/v1/watchlists", tags=["watchlists"], dependencies=KnownQueryOnly)
MAX_ITEMS = 1000
DAILY = 24 * 60
MAX_INTERVAL = 31 * DAILY
# Documented: the default MIN_SCHEDULE_INTERVAL_MINUTES (a lower setting accepts more).
HOURLY: dict[str, Any] = {"minimum": 60}


def _reasonable(moment: datetime) -> datetime:
    """In UTC; a time at the calendar's very ends (year 1 east of UTC, 9999 west of it) is the
    first or last moment UTC can hold."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


RunTime = Annotated[AwareDatetime, DateTimeText, AfterValidator(_reasonable)]


ThresholdAlertKind = Literal[
    "profit_above",
    "roi_above",
    "sell_price_above",
    "sell_price_below",
    "sales_rank_below",
    "offers_below",
]


class ThresholdAlert(Strict):
    """Profit or ROI above, sell price above or below, sales rank below, competing FBA offers
    below a `value`."""

    kind: ThresholdAlertKind
    value: StrictFloat = Field(ge=-1e9, le=1e9, description="The threshold")


ChangeAlertKind = Literal["becomes_buy", "amazon_leaves", "amazon_joins"]


class ChangeAlert(Strict):
    """The recommendation becomes BUY; Amazon leaves or joins the listing."""

    kind: ChangeAlertKind


AlertOn = Annotated[ThresholdAlert | ChangeAlert, Field(discriminator="kind")]
_ALERT_ON: TypeAdapter[ThresholdAlert | ChangeAlert] = TypeAdapter(AlertOn)


def _becomes_buy() -> list[ThresholdAlert | ChangeAlert]:
    return [ChangeAlert(kind="becomes_buy")]


class _WatchItem(Strict):
    condition: Condition | None = Field(None, description="Default: used")
    quantity: Count | None = Field(None, ge=1, le=MAX_QUANTITY)
    alert_on: list[AlertOn] = Field(
        default_factory=lambda: _becomes_buy(),
        min_length=1,
        max_length=10,
        description="Default: the recommendation becomes BUY",
    )


class WatchBook(_WatchItem):
    """A book by identifier and the cost you could buy it at."""

    identifier: str = Field(
        max_length=40,
        examples=["0593655036"],
        json_schema_extra={
            "minLength": 10,
            "pattern": IDENTIFIER_PATTERN,
            "format": IDENTIFIER_FORMAT,
        },
    )
    buy_cost: BuyCost
    from_analysis: None = None

    @field_validator("identifier")
    @classmethod
    def _valid_identifier(cls, value: str) -> str:
        try:
            return parse_identifier(value).normalized
        except InvalidIdentifier as exc:
            raise ValueError(exc.reason) from None


class WatchAnalysed(_WatchItem):
    """The line of one of your analyses (its identifier, condition, cost and quantity unless
    given here); that analysis is the baseline the first run is compared with."""

    from_analysis: uuid.UUID
    buy_cost: BuyCost | None = None
    identifier: None = None


WatchItemIn = WatchAnalysed | WatchBook


class WatchlistIn(Strict):
    name: Name
    interval_minutes: Count = Field(
        DAILY,
        ge=1,
        le=MAX_INTERVAL,
        description="Between runs; at least MIN_SCHEDULE_INTERVAL_MINUTES (60)",
        json_schema_extra=HOURLY,
    )
    items: list[WatchItemIn] = Field(default_factory=list, max_length=MAX_ITEMS)


class WatchlistPatch(Strict):
    name: Name | None = None
    interval_minutes: Count | None = Field(None, ge=1, le=MAX_INTERVAL, json_schema_extra=HOURLY)
    paused: StrictBool | None = None
    next_run_at: RunTime | None = Field(
        None, description="Move the next run, e.g. to now: run it at the scheduler's next tick"
    )


class WatchItemOut(BaseModel):
    id: uuid.UUID
    identifier: str
    condition: Condition
    buy_cost: float
    quantity: int
    alert_on: list[ThresholdAlert | ChangeAlert]
    last_analysed_at: datetime | None
    last_analysis: dict[str, Any] | None = Field(
        description="What the next run is compared with (recommendation, prices, profit, ROI)"
    )


class WatchlistOut(BaseModel):
    id: uuid.UUID
    name: str
    interval_minutes: int
    paused: bool
    next_run_at: datetime
    created_at: datetime
    item_count: int


class WatchlistDetail(WatchlistOut):
    items: list[WatchItemOut]


class RunOut(BaseModel):
    id: uuid.UUID
    due_at: datetime
    batch_id: uuid.UUID | None = Field(description="The run's batch; null when not submitted")
    error: str | None = Field(description="Why it was not submitted (e.g. a quota)")
    created_at: datetime
    evaluated_at: datetime | None = None


def _not_found(what: str = "watchlist") -> ProblemError:
    return ProblemError(404, "not-found", "Not found", f"no such {what}")


def _min_interval(minutes: int | None, settings: Any, field: str = "interval_minutes") -> None:
    if minutes is not None and minutes < settings.min_schedule_interval_minutes:
        raise invalid(field, f"at least {settings.min_schedule_interval_minutes} minutes")


def poke_scheduler(request: Request) -> None:
    scheduler = getattr(request.app.state, "scheduler", None)
    if scheduler is not None:
        scheduler.poke()


def _item_out(r: Any) -> WatchItemOut:
    return WatchItemOut(
        id=r.id,
        identifier=r.identifier,
        condition=r.condition,
        buy_cost=float(r.buy_cost),
        quantity=r.quantity,
        alert_on=[_ALERT_ON.validate_python(c) for c in r.alert_on],
        last_analysed_at=r.last_analysed_at,
        last_analysis=summary(r.last_analysis),
    )


def _list_out(r: Any, count: int) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "interval_minutes": r.interval_minutes,
        "paused": r.paused,
        "next_run_at": r.next_run_at,
        "created_at": r.created_at,
        "item_count": count,
    }


async def _own(session: AsyncSession, watchlist_id: uuid.UUID, owner: uuid.UUID) -> Any:
    row = (
        await session.execute(
            select(watchlists).where(
                watchlists.c.id == watchlist_id, watchlists.c.owner_id == owner
            )
        )
    ).first()
    if row is None:
        raise _not_found()
    return row


async def _detail(session: AsyncSession, row: Any) -> WatchlistDetail:
    items = (
        await session.execute(
            select(watchlist_items)
            .where(watchlist_items.c.watchlist_id == row.id)
            .order_by(watchlist_items.c.created_at, watchlist_items.c.id)
        )
    ).all()
    return WatchlistDetail(**_list_out(row, len(items)), items=[_item_out(i) for i in items])


async def _item_values(
    body: WatchItemIn, field: str, user: Any, services: Any, settings: Any
) -> dict[str, Any]:
    """The row of a new item; from an analysis of the seller's, that analysis is the baseline."""
    if isinstance(body, WatchBook):
        cost, baseline = body.buy_cost, None
        identifier, condition, quantity = body.identifier, body.condition or "used", body.quantity
    else:
        baseline = await services.analysis(
            f"/internal/analyses/{body.from_analysis}", owner_param(user.id)
        )
        if baseline is None:
            raise ProblemError(
                404, "not-found", "Not found", f"{field}.from_analysis: no such analysis"
            )
        identifier = baseline["identifier"]
        cost = Decimal(str(baseline["buy_cost"])) if body.buy_cost is None else body.buy_cost
        condition = body.condition or baseline.get("condition") or "used"
        quantity = body.quantity or baseline.get("quantity")
    if cost > Decimal(str(settings.max_buy_cost)):
        raise invalid(f"{field}.buy_cost", f"at most {settings.max_buy_cost} (MAX_BUY_COST)")
    return {
        "id": uuid.uuid4(),
        "identifier": identifier,
        "condition": condition,
        "buy_cost": cost.quantize(Decimal("0.01")),
        "quantity": quantity or 1,
        "alert_on": [c.model_dump() for c in body.alert_on],
        "last_analysis": baseline,
        "last_analysed_at": None
        if baseline is None
        else datetime.fromisoformat(str(baseline["created_at"])),
    }


@router.post(
    "",
    status_code=201,
    response_model=WatchlistDetail,
    responses=problems(
        *AUTHENTICATED, *WITH_BODY, 404, s404="An item's `from_analysis` is no analysis of yours"
    ),
)
async def create_watchlist(
    body: WatchlistIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
) -> WatchlistDetail:
    """A list, optionally with its first books; its first run is one interval from now
    (PATCH `next_run_at` to run it sooner)."""
    _min_interval(body.interval_minutes, settings)
    rows = [
        await _item_values(item, f"items[{n}]", user, services, settings)
        for n, item in enumerate(body.items)
    ]
    list_id, now = uuid.uuid4(), datetime.now(UTC)
    async with session.begin():
        await session.execute(
            watchlists.insert().values(
                id=list_id,
                owner_id=user.id,
                name=body.name,
                interval_minutes=body.interval_minutes,
                next_run_at=now + timedelta(minutes=body.interval_minutes),
                created_at=now,
            )
        )
        if rows:
            await session.execute(
                watchlist_items.insert(), [{**r, "watchlist_id": list_id} for r in rows]
            )
        return await _detail(session, await _own(session, list_id, user.id))


@router.get("", response_model=list[WatchlistOut], responses=problems(*AUTHENTICATED))
async def list_watchlists(user: CurrentUser, session: SessionDep) -> list[WatchlistOut]:
    count = (
        select(func.count())
        .select_from(watchlist_items)
        .where(watchlist_items.c.watchlist_id == watchlists.c.id)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(watchlists, count.label("item_count"))
            .where(watchlists.c.owner_id == user.id)
            .order_by(watchlists.c.created_at)
        )
    ).all()
    return [WatchlistOut(**_list_out(r, r.item_count)) for r in rows]


@router.get(
    "/{watchlist_id}", response_model=WatchlistDetail, responses=problems(*AUTHENTICATED, 404)
)
async def get_watchlist(
    watchlist_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> WatchlistDetail:
    """The list, its next run and its books with the analysis each is compared with."""
    return await _detail(session, await _own(session, watchlist_id, user.id))


@router.patch(
    "/{watchlist_id}",
    response_model=WatchlistDetail,
    responses=problems(*AUTHENTICATED, *WITH_BODY, 404),
)
async def update_watchlist(
    watchlist_id: uuid.UUID,
    body: WatchlistPatch,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> WatchlistDetail:
    """Rename, change the interval (the next run is one new interval from now), pause or
    resume, or move the next run."""
    _min_interval(body.interval_minutes, settings)
    async with session.begin():
        row = await _own(session, watchlist_id, user.id)
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        if body.interval_minutes is not None and body.next_run_at is None:
            changes["next_run_at"] = datetime.now(UTC) + timedelta(minutes=body.interval_minutes)
        if changes:
            await session.execute(
                update(watchlists).where(watchlists.c.id == row.id).values(**changes)
            )
        detail = await _detail(session, await _own(session, watchlist_id, user.id))
    poke_scheduler(request)
    return detail


@router.delete(
    "/{watchlist_id}",
    status_code=204,
    response_class=Response,
    responses=problems(*AUTHENTICATED, 404),
)
async def delete_watchlist(
    watchlist_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    """The list, its books, runs and alerts (batches it ran stay yours)."""
    async with session.begin():
        deleted = (
            await session.execute(
                watchlists.delete()
                .where(watchlists.c.id == watchlist_id, watchlists.c.owner_id == user.id)
                .returning(watchlists.c.id)
            )
        ).first()
    if deleted is None:
        raise _not_found()
    return Response(status_code=204)


@router.post(
    "/{watchlist_id}/items",
    status_code=201,
    response_model=WatchItemOut,
    responses=problems(
        *AUTHENTICATED,
        *WITH_BODY,
        404,
        409,
        s404="No such watchlist, or `from_analysis` is no analysis of yours",
        s409=f"{MAX_ITEMS} books already",
    ),
)
async def add_watchlist_item(
    watchlist_id: uuid.UUID,
    body: WatchItemIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
) -> WatchItemOut:
    """Watch one more book: by identifier and cost, or `from_analysis` (a line of one of your
    batches, e.g. a WATCH: one request)."""
    async with session.begin():
        await _own(session, watchlist_id, user.id)
    values = await _item_values(body, "body", user, services, settings)
    async with session.begin():
        row = await session.scalar(
            select(watchlists.c.id)
            .where(watchlists.c.id == watchlist_id, watchlists.c.owner_id == user.id)
            .with_for_update()
        )
        if row is None:
            raise _not_found()
        count = await session.scalar(
            select(func.count())
            .select_from(watchlist_items)
            .where(watchlist_items.c.watchlist_id == watchlist_id)
        )
        if (count or 0) >= MAX_ITEMS:
            raise ProblemError(409, "too-many-items", "Watchlist full", f"at most {MAX_ITEMS}")
        await session.execute(watchlist_items.insert().values(**values, watchlist_id=watchlist_id))
        item = (
            await session.execute(
                select(watchlist_items).where(watchlist_items.c.id == values["id"])
            )
        ).one()
    return _item_out(item)


@router.delete(
    "/{watchlist_id}/items/{item_id}",
    status_code=204,
    response_class=Response,
    responses=problems(*AUTHENTICATED, 404),
)
async def remove_watchlist_item(
    watchlist_id: uuid.UUID, item_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    async with session.begin():
        await _own(session, watchlist_id, user.id)
        deleted = (
            await session.execute(
                watchlist_items.delete()
                .where(
                    watchlist_items.c.id == item_id,
                    watchlist_items.c.watchlist_id == watchlist_id,
                )
                .returning(watchlist_items.c.id)
            )
        ).first()
    if deleted is None:
        raise _not_found("item")
    return Response(status_code=204)


@router.get(
    "/{watchlist_id}/runs", response_model=list[RunOut], responses=problems(*AUTHENTICATED, 404)
)
async def list_watchlist_runs(
    watchlist_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> list[RunOut]:
    """The list's runs, newest first (the last 100)."""
    await _own(session, watchlist_id, user.id)
    return await runs_of(session, scheduled_runs.c.watchlist_id == watchlist_id)


async def runs_of(session: AsyncSession, condition: Any) -> list[RunOut]:
    rows = (
        await session.execute(
            select(scheduled_runs)
            .where(condition)
            .order_by(scheduled_runs.c.due_at.desc())
            .limit(100)
        )
    ).all()
    return [
        RunOut(
            id=r.id,
            due_at=r.due_at,
            batch_id=r.batch_id,
            error=r.error,
            created_at=r.created_at,
            evaluated_at=r.evaluated_at,
        )
        for r in rows
    ]
