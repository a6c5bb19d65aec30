"""The seller's strategy and costs, snapshotted into every batch when it is submitted."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StrategyName = Literal["balanced", "textbook", "velocity"]
# Send to Amazon's inbound placement options: Amazon-optimized splits (five or more locations,
# at least five identical cartons per item) are free; a minimal split (one location) costs a fee
# per unit by size and weight; a partial split (two or three) less, but from 2025-02-20 Amazon
# offers it only for bulky products (a standard-size book is then charged the minimal split).
InboundPlacementName = Literal["amazon_optimized", "minimal_split", "partial_split"]


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
    "balanced": StrategyThresholds(),
    "textbook": StrategyThresholds(
        name="textbook",
        min_roi_percent=Decimal(40),
        min_profit=Decimal("10.00"),
        min_velocity_score=20,
        max_sales_rank=2_000_000,
        max_competing_fba_offers=10,
    ),
    "velocity": StrategyThresholds(
        name="velocity",
        min_roi_percent=Decimal(20),
        min_profit=Decimal("2.00"),
        min_velocity_score=60,
        max_sales_rank=200_000,
        max_competing_fba_offers=25,
    ),
}
