"""The seller's strategy and costs, snapshotted into every batch when it is submitted."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

StrategyName = Literal["balanced", "textbook", "velocity"]
# Send to Amazon's inbound placement options: Amazon-optimized splits (five or more locations,
# at least five identical cartons per item) are free; a minimal split (one location) costs a fee
# per unit by size and weight; a partial split (two or three) less, but from 2025-02-20 Amazon
# offers it only for bulky products (a standard-size book is then charged the minimal split).
InboundPlacementName = Literal["amazon_optimized", "minimal_split", "partial_split"]


# Which price a rank band sells against (ScoutIQ's "offer to analyze"): the buy box (and, when
# there is none, the engine's usual order: lowest FBA, lowest offer + shipping, ...), the lowest
# FBA offer of the condition, its n-th lowest FBA offer (``fba_offer_slot``), or the used buy box.
# A price the market lacks falls back to the usual order, and the reason says so.
SellAgainst = Literal["buy_box", "lowest_fba", "nth_lowest_fba", "used_buy_box"]


class RankBand(BaseModel):
    """Thresholds for books up to a sales rank: a fast seller needs less margin than a book that
    sells once a quarter (the money waits, storage accrues, the price may fall meanwhile)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    up_to_rank: int | None = Field(ge=1, le=100_000_000)  # None: every rank above the band before
    min_profit: Decimal = Field(ge=0, le=100_000, max_digits=9, decimal_places=2)
    min_roi_percent: Decimal = Field(ge=0, le=10_000, max_digits=9, decimal_places=2)
    sell_against: SellAgainst = "buy_box"
    fba_offer_slot: int = Field(1, ge=1, le=20)  # nth_lowest_fba: 1 the lowest, 2 the second...


def _band(up_to: int | None, profit: str, roi: int, against: SellAgainst = "buy_box") -> RankBand:
    return RankBand(
        up_to_rank=up_to, min_profit=Decimal(profit), min_roi_percent=Decimal(roi),
        sell_against=against,
    )  # fmt: skip


# Defaults modelled on ScoutIQ's trigger ranges (rank 1-50k sells within a day, 125k-250k in 1-2
# days, 500k-900k in 4-7 days, 1.4M-2.1M in 2-4 weeks, 3M-6M in 3-6 months): the slower the book,
# the more profit and ROI it must promise. Each preset's own thresholds sit in its middle band.
BALANCED_BANDS: tuple[RankBand, ...] = (
    _band(100_000, "2.00", 25),
    _band(500_000, "3.00", 30),
    _band(1_000_000, "4.00", 40),
    _band(2_000_000, "6.00", 50),
    _band(None, "10.00", 75),
)
TEXTBOOK_BANDS: tuple[RankBand, ...] = (
    _band(250_000, "8.00", 35),
    _band(1_000_000, "10.00", 40),
    _band(2_000_000, "15.00", 50),
    _band(None, "20.00", 75),
)
VELOCITY_BANDS: tuple[RankBand, ...] = (
    _band(50_000, "1.50", 15),
    _band(200_000, "2.00", 20),
    _band(None, "4.00", 35),
)
DEFAULT_SELL_WITHIN_DAYS = 180  # Amazon's aged-inventory surcharge starts at 181 days


class StrategyThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrategyName = "balanced"
    min_roi_percent: Decimal = Field(Decimal("30"), ge=0, le=10_000, max_digits=9, decimal_places=2)
    min_profit: Decimal = Field(Decimal("3.00"), ge=0, le=100_000, max_digits=9, decimal_places=2)
    min_velocity_score: int = Field(40, ge=0, le=100)
    max_sales_rank: int | None = Field(1_000_000, ge=1, le=100_000_000)
    max_competing_fba_offers: int | None = Field(15, ge=0, le=10_000)
    # Most of Amazon's share of the new buy box (percent of Keepa's stats window) a BUY allows;
    # None: no limit. Added in engine 2026.12.4: configs serialized before it parse with 50.
    max_amazon_buy_box_percent: int | None = Field(50, ge=0, le=100)
    # Sales-rank bands (ascending ``up_to_rank``, only the last open): the band of a book's rank
    # replaces min_profit/min_roi_percent and says which price to sell against. None: one band,
    # min_profit/min_roi_percent at every rank against the buy box, as before engine 2026.12.5
    # (configs serialized before it parse so and decide as they did).
    rank_bands: tuple[RankBand, ...] | None = Field(None, min_length=1, max_length=20)
    # How long the seller will wait for copies to sell: a line with more copies than sell in this
    # time is flagged, and a seasonal book may be held until its peak within it.
    sell_within_days: int = Field(DEFAULT_SELL_WITHIN_DAYS, ge=1, le=730)

    @model_validator(mode="after")
    def _bands_ascend(self) -> StrategyThresholds:
        bands = self.rank_bands or ()
        for i, band in enumerate(bands):
            if band.up_to_rank is None and i != len(bands) - 1:
                raise ValueError(
                    f"rank_bands[{i}]: only the last band may be open (up_to_rank null)"
                )
            previous = bands[i - 1].up_to_rank if i else None
            if (
                i
                and band.up_to_rank is not None
                and previous is not None
                and band.up_to_rank <= previous
            ):
                raise ValueError(
                    f"rank_bands[{i}].up_to_rank: must be above the band before ({previous})"
                )
        return self


class SellerCosts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    inbound_shipping_per_lb: Decimal = Field(
        Decimal("0.50"), ge=0, le=1_000, max_digits=9, decimal_places=2
    )
    prep_per_unit: Decimal = Field(Decimal("0.35"), ge=0, le=1_000, max_digits=9, decimal_places=2)
    sales_tax_percent: Decimal = Field(Decimal("0"), ge=0, le=100, max_digits=6, decimal_places=3)
    # Added in engine 2026.12.3; configs serialized before it parse with the free default.
    inbound_placement: InboundPlacementName = "amazon_optimized"


class BusinessConfigSnapshot(BaseModel):
    """What a batch was analysed with; later config changes never alter it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config_version: int = Field(0, ge=0)
    strategy: StrategyThresholds = Field(default_factory=StrategyThresholds)
    seller_costs: SellerCosts = Field(default_factory=SellerCosts)


# The named strategies (the same presets as the analysis engine's domain; a test keeps them equal).
STRATEGY_PRESETS: dict[str, StrategyThresholds] = {
    "balanced": StrategyThresholds(rank_bands=BALANCED_BANDS),
    "textbook": StrategyThresholds(
        name="textbook",
        min_roi_percent=Decimal(40),
        min_profit=Decimal("10.00"),
        min_velocity_score=20,
        max_sales_rank=2_000_000,
        max_competing_fba_offers=10,
        rank_bands=TEXTBOOK_BANDS,
    ),
    "velocity": StrategyThresholds(
        name="velocity",
        min_roi_percent=Decimal(20),
        min_profit=Decimal("2.00"),
        min_velocity_score=60,
        max_sales_rank=200_000,
        max_competing_fba_offers=25,
        rank_bands=VELOCITY_BANDS,
    ),
}
