"""The engine's input and output types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from .strategy import SellerCosts, Strategy

# 2026.12.2: rank drops counted from csv[3] without stats; a used copy held to new's landed price
# and, without a used buy box, to its recent average; no current offer: priced from the lowest
# average, flagged no_current_offers, at most WATCH.
# 2026.12.3: holiday peak fulfillment fees (Oct 15 - Jan 14) as dated schedules; the inbound
# placement fee by the seller's placement option; the small bulky tier and the bulky tiers' 2-inch
# minimum side; Keepa's NEW price landed from 2026-02-16; Amazon's delayed offer on the listing.
# 2026.12.4: a new copy held to Amazon's own price (new_at_most_amazon); Amazon's share of the buy
# box (stats.buyBoxStats) a rule with its threshold in the strategy (max_amazon_buy_box_percent).
# 2026.12.5: rank bands (the strategy's thresholds and the price sold against by sales rank,
# named in every reason); quantity per line (totals, cash needed, days to sell every copy at our
# share of sales, flagged beyond sell_within_days); textbook seasons (next peak, its price) that
# can make a PASS a WATCH to hold until the peak.
ENGINE_VERSION = "2026.12.5"


@dataclass(frozen=True)
class ItemToAnalyse:
    identifier: str  # what the seller typed (ISBN-10, ISBN-13 or ASIN)
    asin: str
    buy_cost: Decimal
    condition: str  # "new" | "used"
    quantity: int = 1  # copies of this line


class Recommendation(StrEnum):
    BUY = "BUY"
    WATCH = "WATCH"
    PASS = "PASS"


class Outcome(StrEnum):
    ANALYSED = "analysed"
    NO_MARKET_DATA = "no_market_data"
    NOT_A_BOOK = "not_a_book"


@dataclass(frozen=True)
class FeeBreakdown:
    """Every amount taken from the sale price, in dollars and cents."""

    referral_fee: Decimal
    closing_fee: Decimal
    fulfillment_fee: Decimal  # including fuel_surcharge (and the holiday peak rate in season)
    storage_fee: Decimal
    inbound_shipping: Decimal
    prep: Decimal
    sales_tax: Decimal
    total: Decimal
    keepa_pick_and_pack_fee: Decimal | None  # Keepa's figure, beside ours, never used in total
    fuel_surcharge: Decimal = Decimal("0.00")
    fulfillment_basis: str = "rate_card"  # | "keepa_pick_and_pack" | "assumed_package"
    size_tier: str | None = None
    price_band: str | None = None
    billable_weight_lb: Decimal | None = None
    storage_days: int | None = None
    # Amazon's inbound placement service fee for the option charged (in the total; 0.00 and
    # "amazon_optimized" in analyses made before the fee was modelled).
    inbound_placement_fee: Decimal = Decimal("0.00")
    inbound_placement: str = "amazon_optimized"  # | "minimal_split" | "partial_split"

    @property
    def amazon_fees(self) -> Decimal:
        """Taken by Amazon: like storage, placement is charged before the sale but is a fee of
        selling through FBA, not part of what the seller pays to buy the book."""
        return (
            self.referral_fee + self.closing_fee + self.fulfillment_fee + self.storage_fee
            + self.inbound_placement_fee
        )  # fmt: skip

    @property
    def seller_costs(self) -> Decimal:
        return self.inbound_shipping + self.prep + self.sales_tax


@dataclass(frozen=True)
class RuleCheck:
    rule: str
    threshold: str
    actual: str
    passed: bool | None  # None: not checked, its input is unknown (see rules.py)
    message: str = ""
    band: str | None = None  # the rank band whose thresholds applied (bands.py)


@dataclass(frozen=True)
class Analysis:
    outcome: str  # Outcome value
    recommendation: Recommendation
    sell_price: Decimal | None
    price_basis: str | None
    fees: FeeBreakdown | None
    profit: Decimal | None
    roi_percent: Decimal | None
    margin_percent: Decimal | None
    break_even_buy_cost: Decimal | None
    max_buy_cost_for_target_roi: Decimal | None
    velocity_score: int | None
    estimated_monthly_sales: Decimal | None
    expected_days_to_sell: int | None
    sales_rank: int | None
    risk_flags: tuple[str, ...]
    reasons: tuple[RuleCheck, ...]
    engine_version: str
    fee_schedule_id: str
    # What is needed to reproduce this analysis (with the market snapshot it was given).
    asin: str = ""
    identifier: str = ""
    condition: str = ""
    buy_cost: Decimal | None = None
    as_of: datetime | None = None
    strategy: Strategy | None = None
    seller_costs: SellerCosts | None = None
    sales_estimate_basis: str | None = None
    competing_offers: int | None = None
    competing_fba_offers: int | None = None
    summary: str = ""
    # No current offer of the condition: sell_price is an average (see pricing.py). False in
    # analyses stored before the field existed, as they were priced then.
    priced_from_history: bool = False
    quantity: int = 1
    totals: QuantityTotals | None = None  # None when not priced
    season: SeasonView | None = None  # None when the history shows no yearly peak


@dataclass(frozen=True)
class QuantityTotals:
    """The line's copies together (quantity.py)."""

    total_profit: Decimal
    total_cash_needed: Decimal  # paid before any copy sells: cost, tax, prep, inbound, placement
    monthly_sales_share: Decimal | None  # our copies' sales a month: sales / (offers + 1)
    days_to_sell_all: int | None  # None: sales unknown
    sellable_within_horizon: int | None  # copies that sell within sell_within_days


@dataclass(frozen=True)
class SeasonView:
    """A yearly peak the rank history shows (seasonality.py), as of the analysis."""

    peaks: tuple[str, ...]  # "aug-sep", "january"
    next_peak: str  # the next peak's window
    next_peak_starts: date
    days_to_next_peak: int
    expected_peak_price: Decimal | None  # the condition's price in past peaks
    off_peak_price: Decimal | None
    years_observed: int
