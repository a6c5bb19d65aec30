"""Buying strategies and the seller's own costs.

Presets (a seller picks one; thresholds are what a BUY must meet):
- ``balanced``: 30% ROI, $3.00 profit, velocity 40 (about 15 sales a month), rank <= 1,000,000,
  at most 15 competing FBA offers. The default for general book sourcing.
- ``textbook``: 40% ROI, $10.00 profit, velocity 20 (about 3 a month), rank <= 2,000,000, at most
  10 competing FBA offers. Textbooks sell slowly and seasonally but for much more money.
- ``velocity``: 20% ROI, $2.00 profit, velocity 60 (about 60 a month), rank <= 200,000, at most
  25 competing FBA offers. Thin margins, fast turnover.
Every preset holds back a BUY when Amazon held the new buy box more than half of Keepa's stats
window (``max_amazon_buy_box_percent`` 50): a third-party seller then rarely gets the sale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from .fees import InboundPlacement


@dataclass(frozen=True)
class Strategy:
    name: str
    min_roi_percent: Decimal
    min_profit: Decimal
    min_velocity_score: int
    max_sales_rank: int | None
    max_competing_fba_offers: int | None
    # Amazon's share of the buy box over Keepa's stats window, percent; None: no limit. A default
    # so strategies recorded before engine 2026.12.4 (without it) still load.
    max_amazon_buy_box_percent: int | None = 50


@dataclass(frozen=True)
class SellerCosts:
    inbound_shipping_per_lb: Decimal  # shipping the book to Amazon's warehouse
    prep_per_unit: Decimal  # labels, bags, the seller's time
    sales_tax_percent: Decimal  # applied to the buy cost; 0 = none
    # How the seller splits shipments to Amazon: Amazon charges a placement fee per unit unless
    # the units go to the locations it picks (see fees.inbound_placement_fee).
    inbound_placement: InboundPlacement = InboundPlacement.AMAZON_OPTIMIZED


STRATEGY_PRESETS: Mapping[str, Strategy] = MappingProxyType(
    {
        "balanced": Strategy("balanced", Decimal(30), Decimal("3.00"), 40, 1_000_000, 15, 50),
        "textbook": Strategy("textbook", Decimal(40), Decimal("10.00"), 20, 2_000_000, 10, 50),
        "velocity": Strategy("velocity", Decimal(20), Decimal("2.00"), 60, 200_000, 25, 50),
    }
)


def strategy_preset(name: str) -> Strategy:
    try:
        return STRATEGY_PRESETS[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(STRATEGY_PRESETS))
        raise ValueError(f"unknown strategy {name!r}; choose one of: {known}") from None
