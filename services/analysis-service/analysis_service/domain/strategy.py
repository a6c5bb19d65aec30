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

Rank bands (``rank_bands``, as ScoutIQ's triggers): each preset's money thresholds by sales rank,
the preset's own in its middle band, less for faster sellers, more for slower ones (see
``bands.py``); ``sell_within_days`` (180: Amazon's aged-inventory surcharge starts at 181 days)
is how long the seller waits for a line's copies to sell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from .fees import InboundPlacement


@dataclass(frozen=True)
class RankBand:
    """Money thresholds for books up to ``up_to_rank`` (None: every rank above the band before),
    and the price they are sold against (``SellAgainst``)."""

    up_to_rank: int | None
    min_profit: Decimal
    min_roi_percent: Decimal
    sell_against: str = "buy_box"  # | "lowest_fba" | "nth_lowest_fba" | "used_buy_box"
    fba_offer_slot: int = 1  # nth_lowest_fba: 1 = the lowest FBA offer, 2 = the second...


def _band(up_to: int | None, profit: str, roi: int) -> RankBand:
    return RankBand(up_to, Decimal(profit), Decimal(roi))


BALANCED_BANDS = (
    _band(100_000, "2.00", 25),
    _band(500_000, "3.00", 30),
    _band(1_000_000, "4.00", 40),
    _band(2_000_000, "6.00", 50),
    _band(None, "10.00", 75),
)
TEXTBOOK_BANDS = (
    _band(250_000, "8.00", 35),
    _band(1_000_000, "10.00", 40),
    _band(2_000_000, "15.00", 50),
    _band(None, "20.00", 75),
)
VELOCITY_BANDS = (_band(50_000, "1.50", 15), _band(200_000, "2.00", 20), _band(None, "4.00", 35))


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
    # None: one band, min_profit/min_roi_percent at every rank against the buy box (as strategies
    # recorded before engine 2026.12.5 decided).
    rank_bands: tuple[RankBand, ...] | None = None
    sell_within_days: int = 180


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
        "balanced": Strategy(
            "balanced", Decimal(30), Decimal("3.00"), 40, 1_000_000, 15, 50, BALANCED_BANDS
        ),
        "textbook": Strategy(
            "textbook", Decimal(40), Decimal("10.00"), 20, 2_000_000, 10, 50, TEXTBOOK_BANDS
        ),
        "velocity": Strategy(
            "velocity", Decimal(20), Decimal("2.00"), 60, 200_000, 25, 50, VELOCITY_BANDS
        ),
    }
)


def strategy_preset(name: str) -> Strategy:
    try:
        return STRATEGY_PRESETS[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(STRATEGY_PRESETS))
        raise ValueError(f"unknown strategy {name!r}; choose one of: {known}") from None
