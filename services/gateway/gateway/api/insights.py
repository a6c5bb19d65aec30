"""A batch's insights: the figures a seller acts on (computed by the analysis service, which owns
the analyses) and, when a Chat Completions endpoint is configured, a short written summary.

The batch's totals (cash to buy the BUY lines, expected profit, days to sell, by recommendation)
are part of this answer (`figures.totals`, `figures.buy`) rather than a route of their own: one
pass over the rows computes both, and `?narrative=false` answers the figures alone, at once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from av_shared.events import TERMINAL_STATUSES
from av_shared.views import BatchStatusName, RecommendationName

from ..adapters.internal import InternalServices, owner_param
from ..adapters.narrative import Narrator
from .batches import _accepted_not_yet_recorded
from .deps import CurrentUser, KnownQueryOnly, ServicesDep, SessionDep
from .problems import AUTHENTICATED, ProblemError, problems

router = APIRouter(prefix="/api/v1/batches", tags=["batches"], dependencies=KnownQueryOnly)
EARLIER_BATCHES = 5  # compared with the seller's last five finished batches before this one
EARLIER_LOOKED_AT = 100


class RecommendationTotals(BaseModel):
    recommendation: RecommendationName
    lines: int
    share_percent: float = Field(description="of the lines analysed")
    units: int = Field(description="copies (the lines' quantities)")
    cash_needed: float = Field(description="what buying every copy of these lines costs, USD")
    expected_profit: float = Field(description="after Amazon's fees and your costs, every copy")
    roi_percent: float | None = Field(description="expected profit over cash needed")
    sell_through_days: int | None = Field(
        description="days until the last copy is expected to have sold"
    )
    average_days_to_sell: float | None = Field(
        description="days a dollar of the cash is tied up, on average (weighted by cost)"
    )
    lines_without_estimate: int = Field(description="lines whose sales could not be estimated")


class SoldThrough(BaseModel):
    days: int
    cash_share_percent: float = Field(description="of the BUY cash, in lines sold through by then")
    expected_profit: float
    payout: float = Field(description="what those copies bring back: their cost plus profit")


class BuyCashView(BaseModel):
    """The BUY lines as one purchase."""

    lines: int
    units: int
    cash_needed: float
    expected_profit: float
    roi_percent: float | None
    sell_through_days: int | None
    average_days_to_sell: float | None
    lines_without_estimate: int
    sold_through_by: list[SoldThrough]


class RuleTally(BaseModel):
    rule: str = Field(description="a rule that failed, or no_market_data / not_a_book")
    lines: int
    share_percent: float = Field(description="of the lines with this recommendation")


class BestPick(BaseModel):
    item_no: int
    identifier: str
    title: str | None
    quantity: int
    expected_profit: float
    roi_percent: float | None
    days_to_sell: int
    profit_per_day: float = Field(description="expected profit over the days to sell every copy")


class RecurringRisk(BaseModel):
    risk: str = Field(
        description="a risk flag of the analyses, few_sales (under one sale a month) or seasonal"
    )
    lines: int
    buy_lines: int
    share_percent: float


class EarlierBatch(BaseModel):
    batch_id: uuid.UUID
    lines: int
    buy_rate_percent: float | None
    roi_percent: float | None


class EarlierComparison(BaseModel):
    batches: int = Field(description="your earlier finished batches compared with (at most 5)")
    buy_rate_percent: float | None
    earlier_buy_rate_percent: float | None = Field(description="the mean of the earlier batches'")
    buy_rate_change_points: float | None
    roi_percent: float | None = Field(description="of this batch's BUY lines together")
    earlier_roi_percent: float | None
    roi_change_points: float | None
    earlier: list[EarlierBatch]


class InsightFigures(BaseModel):
    lines_analysed: int
    lines_failed: int
    units: int
    totals: list[RecommendationTotals] = Field(description="BUY, WATCH and PASS, in that order")
    buy: BuyCashView
    passed_because: list[RuleTally] = Field(description="why lines were PASSed, by rule")
    watch_because: list[RuleTally] = Field(description="why lines are WATCH, not BUY")
    best_picks: list[BestPick] = Field(description="BUY lines, most profit per day first")
    risks: list[RecurringRisk]
    compared_with_earlier: EarlierComparison


class BatchInsights(BaseModel):
    batch_id: uuid.UUID
    status: BatchStatusName
    complete: bool = Field(description="false while the batch runs: figures so far")
    items_total: int
    items_processed: int
    note: str | None = Field(description="what the figures cover while the batch runs")
    figures: InsightFigures
    narrative: str | None = Field(
        description="a short written summary of the figures (when a summary endpoint is "
        "configured and answered)"
    )
    narrative_error: str | None = Field(description="why there is no summary")


@router.get(
    "/{batch_id}/insights", response_model=BatchInsights, responses=problems(*AUTHENTICATED, 404)
)
async def get_batch_insights(
    batch_id: uuid.UUID,
    user: CurrentUser,
    services: ServicesDep,
    session: SessionDep,
    request: Request,
    narrative: bool = True,
) -> BatchInsights:
    """The figures to act on: cash needed for the BUY lines, their expected profit, ROI and time
    to sell through, totals by recommendation, why lines were passed, the best picks, recurring
    risks, and how the batch compares with your earlier ones; with a written summary when one is
    configured (`narrative=false`: the figures alone). A running batch answers its figures so
    far (`complete` false)."""
    owner = None if user.is_admin else user.id
    batch = await services.batch(f"/internal/batches/{batch_id}", owner_param(owner))
    if batch is None:  # 404 unless accepted and not yet recorded
        batch = (await _accepted_not_yet_recorded(session, batch_id, owner)).model_dump(mode="json")
    earlier = await _earlier_batches(services, batch, owner)
    figures = await services.analysis(
        f"/internal/batches/{batch_id}/insights",
        {"earlier": ",".join(earlier) or None, **owner_param(owner)},
    )
    if figures is None:  # an analysis instance older than the route (a rolling upgrade)
        raise ProblemError(
            503,
            "dependency-unavailable",
            "Service unavailable",
            "the analysis service does not serve insights yet; try again shortly",
            headers={"Retry-After": "5"},
        )
    final = batch["status"] in TERMINAL_STATUSES
    text, error = await _narrative(request.app.state.narrator, figures, final, narrative)
    return BatchInsights(
        batch_id=batch_id,
        status=batch["status"],
        complete=final,
        items_total=batch["items_total"],
        items_processed=batch["items_processed"],
        note=None if final else _running_note(batch, figures),
        figures=InsightFigures.model_validate(figures),
        narrative=text,
        narrative_error=error,
    )


async def _earlier_batches(
    services: InternalServices, batch: dict[str, Any], owner: uuid.UUID | None
) -> list[str]:
    """The owner's finished batches created before this one, newest first (an admin's view of
    another seller's batch is not compared: the batch does not say whose it is)."""
    if owner is None:
        return []
    page = await services.batch(
        "/internal/batches",
        {"status": "COMPLETED", "size": EARLIER_LOOKED_AT, **owner_param(owner)},
    )
    before = [
        b["id"]
        for b in (page or {}).get("items", [])
        if b["id"] != str(batch["id"]) and _when(b) < _when(batch)
    ]
    return before[:EARLIER_BATCHES]


def _when(batch: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(batch["created_at"]))


async def _narrative(
    narrator: Narrator | None, figures: dict[str, Any], final: bool, wanted: bool
) -> tuple[str | None, str | None]:
    if not wanted:
        return None, "not requested (narrative=false)"
    if narrator is None:
        return None, "not configured (INSIGHTS_LLM_BASE_URL, INSIGHTS_LLM_MODEL)"
    if not final:  # a summary of figures that change by the second would be stale at once
        return None, "the batch is still running: the summary is written once it finishes"
    written = await narrator.summarise(figures, final=True)
    return written.text, written.error


def _running_note(batch: dict[str, Any], figures: dict[str, Any]) -> str:
    return (
        f"the batch is {batch['status']}: figures over the {figures['lines_analysed']} of "
        f"{batch['items_total']} lines analysed so far"
    )
