"""What the public API answers about batches and analyses: one model, used by the owning service
to answer the gateway and by the gateway's OpenAPI schema, so the two never drift apart."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from .events.chunk_item import Condition

BatchStatusName = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]
RecommendationName = Literal["BUY", "WATCH", "PASS"]
ItemStatusName = Literal["PENDING", "DONE", "FAILED"]
AnalysisOutcomeName = Literal["analysed", "no_market_data", "not_a_book"]


class FeesView(BaseModel):
    """Every amount taken from the sale price, in dollars with cents."""

    referral_fee: float
    closing_fee: float
    fulfillment_fee: float
    storage_fee: float
    inbound_shipping: float
    prep: float
    sales_tax: float
    total: float
    keepa_pick_and_pack_fee: float | None = Field(
        None, description="Keepa's own FBA pick&pack figure, shown beside ours; not in the total"
    )
    fuel_surcharge: float | None = None
    inbound_placement_fee: float | None = Field(
        None,
        description="Amazon's inbound placement fee for the config's placement option "
        "(in the total); None in analyses made before engine 2026.12.3",
    )
    inbound_placement: str | None = Field(
        None, description="the placement option charged (amazon_optimized, minimal_split...)"
    )
    size_tier: str | None = None
    price_band: str | None = None
    billable_weight_lb: float | None = None
    storage_days: int | None = None


class RuleCheckView(BaseModel):
    rule: str
    threshold: str
    actual: str
    passed: bool | None = Field(
        description="true: met; false: not met; null: not checked because its input is unknown "
        "(e.g. FBA competition Keepa did not count), which does not hold back a BUY"
    )
    message: str = ""
    band: str | None = Field(
        None, description="The sales-rank band whose thresholds applied (engine 2026.12.5 on)"
    )


class SeasonView(BaseModel):
    """Yearly peaks the book's rank history shows (textbooks: August-September, January)."""

    peaks: list[str] = Field(description="The windows it peaks in: aug-sep, january")
    next_peak: str
    next_peak_starts: str = Field(description="ISO date the next peak window starts")
    days_to_next_peak: int
    expected_peak_price: float | None = Field(description="What the condition sold at in peaks")
    off_peak_price: float | None
    years_observed: int


class AnalysisView(BaseModel):
    id: uuid.UUID
    batch_id: uuid.UUID | None = Field(None, description="None for an instant analysis")
    item_no: int | None = Field(None, description="Position of the item in its batch (0-based)")
    identifier: str
    asin: str | None
    title: str | None
    condition: Condition
    buy_cost: float
    outcome: AnalysisOutcomeName
    recommendation: RecommendationName
    sell_price: float | None
    price_basis: str | None
    fees: FeesView | None
    profit: float | None
    roi_percent: float | None
    margin_percent: float | None
    break_even_buy_cost: float | None
    max_buy_cost_for_target_roi: float | None
    velocity_score: int | None = Field(None, ge=0, le=100)
    estimated_monthly_sales: float | None
    expected_days_to_sell: int | None
    sales_rank: int | None
    risk_flags: list[str]
    reasons: list[RuleCheckView]
    summary: str = ""
    fee_schedule: str | None
    engine_version: str
    market_snapshot_id: int | None
    created_at: datetime
    quantity: int = Field(1, description="Copies of this line")
    note: str | None = Field(None, description="Your note on the line")
    total_profit: float | None = Field(
        None, description="Profit of every copy, later copies paying storage for longer"
    )
    total_cash_needed: float | None = Field(
        None, description="Paid before any copy sells: cost, tax, prep, inbound, placement"
    )
    days_to_sell_all: int | None = Field(
        None, description="Days until every copy sold at your share: sales / (offers + 1)"
    )
    monthly_sales_share: float | None = Field(None, description="sales a month / (offers + 1)")
    sellable_within_horizon: int | None = Field(
        None, description="Copies that sell within your config's sell_within_days"
    )
    season: SeasonView | None = Field(None, description="null: no yearly peak found")


class BatchView(BaseModel):
    id: uuid.UUID
    name: str
    status: BatchStatusName
    items_total: int
    items_processed: int
    items_failed: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    eta_seconds: float | None = Field(
        None, description="Estimated seconds to completion from the queue and Keepa's refill"
    )
    queued_items: int | None = None


class BatchItemView(BaseModel):
    """One line of a batch as submitted, and what became of it."""

    item_no: int = Field(description="Position of the line in the batch (0-based)")
    identifier: str
    asin: str | None
    buy_cost: float
    condition: Condition
    status: ItemStatusName = Field(description="PENDING until analysed; FAILED with the reason")
    failure_reason: str | None
