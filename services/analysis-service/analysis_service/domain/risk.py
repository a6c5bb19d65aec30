"""Risk flags: reasons to look twice before buying, shown beside the numbers.

They do not change the recommendation by themselves; the strategy rules do that (the price rule
``current_offer`` stands behind ``no_current_offers``). Each flag is a stable string so the API
and the UI can key on it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from .fees import SizeTier
from .market import MarketSnapshot

VOLATILE_SPREAD = Decimal("0.5")  # 90-day (max - min) above half the average price
FEW_RANK_POINTS = 10  # fewer sales-rank history points than this: too little history
STALE_AFTER = timedelta(days=7)  # Keepa data older than this at analysis time
HEAVY_LB = Decimal(5)  # inbound shipping and handling get expensive
FEE_DISAGREEMENT = Decimal("1.00")  # our fulfillment fee vs Keepa's pickAndPackFee


class RiskFlag(StrEnum):
    AMAZON_ON_LISTING = "amazon_on_listing"
    AMAZON_DELAYED = "amazon_delayed"  # Amazon's offer exists, but ships late (availability 4)
    VOLATILE_PRICE = "volatile_price"
    FEW_DATA_POINTS = "few_data_points"
    STALE_DATA = "stale_data"
    HAZMAT = "hazmat"
    OVERSIZE_OR_HEAVY = "oversize_or_heavy"
    NO_OFFERS = "no_offers"
    DIMENSIONS_UNKNOWN = "dimensions_unknown"
    FEE_DISAGREES_WITH_KEEPA = "fee_disagrees_with_keepa"
    COMPETITION_UNKNOWN = "competition_unknown"  # no FBA offer count from Keepa
    NO_CURRENT_OFFERS = "no_current_offers"  # nothing of the condition offered: priced from history
    QUANTITY_BEYOND_HORIZON = "quantity_beyond_horizon"  # more copies than sell in the horizon


def risk_flags(
    market: MarketSnapshot,
    *,
    used: bool,
    as_of: datetime,
    size_tier: SizeTier | None,
    billable_weight_lb: Decimal | None,
    rate_card_fulfillment_fee: Decimal | None,
    competing_offers: int | None,
    competing_fba_offers: int | None,
    priced_from_history: bool = False,
) -> tuple[str, ...]:
    flags: list[RiskFlag] = []
    if priced_from_history:
        flags.append(RiskFlag.NO_CURRENT_OFFERS)
    if market.amazon_on_listing:
        flags.append(RiskFlag.AMAZON_ON_LISTING)
    if market.amazon_delayed:
        flags.append(RiskFlag.AMAZON_DELAYED)
    spread = market.price_spread90_used if used else market.price_spread90_new
    if spread is not None and spread > VOLATILE_SPREAD:
        flags.append(RiskFlag.VOLATILE_PRICE)
    points = market.sales_rank_points
    if (points is not None and points < FEW_RANK_POINTS) or (
        points is None and market.sales_rank_avg90 is None
    ):
        flags.append(RiskFlag.FEW_DATA_POINTS)
    if market.last_update is None or as_of - market.last_update > STALE_AFTER:
        flags.append(RiskFlag.STALE_DATA)
    if market.is_hazmat:
        flags.append(RiskFlag.HAZMAT)
    if (size_tier is not None and size_tier.is_bulky) or (
        billable_weight_lb is not None and billable_weight_lb > HEAVY_LB
    ):
        flags.append(RiskFlag.OVERSIZE_OR_HEAVY)
    if competing_offers == 0:
        flags.append(RiskFlag.NO_OFFERS)
    if competing_fba_offers is None and competing_offers != 0:
        flags.append(RiskFlag.COMPETITION_UNKNOWN)
    if size_tier is None:
        flags.append(RiskFlag.DIMENSIONS_UNKNOWN)
    keepa = market.keepa_pick_and_pack_fee
    if (
        keepa is not None
        and rate_card_fulfillment_fee is not None
        and abs(keepa - rate_card_fulfillment_fee) > FEE_DISAGREEMENT
    ):
        flags.append(RiskFlag.FEE_DISAGREES_WITH_KEEPA)
    return tuple(flag.value for flag in flags)
