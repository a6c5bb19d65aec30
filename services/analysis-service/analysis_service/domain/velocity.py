"""How fast a book sells: estimated monthly sales, a 0-100 score and expected days to sell.

Monthly sales, in order of preference:
1. ``salesRankDrops30``: each sales-rank drop is taken as a sale;
2. when that is sparse (unknown or fewer than ``SPARSE_DROPS30`` drops), ``salesRankDrops90 / 3``,
   which averages out a quiet month;
3. else the current (or 90-day average) sales rank through ``RANK_TO_MONTHLY_SALES``.
The drop counts are Keepa's (``stats``), or, for a product without them, counted from its own
rank history ``csv[3]`` by the same rule for every window (rank_drops.py); the basis then says
``rank_history_drops30``/``rank_history_drops90``: a book's own sales beat any rank curve.
Amazon's own "N+ bought in past month" (``monthlySold``), when known, is a floor: rank drops
undercount sales of fast sellers, whose rank barely moves.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from .market import MarketSnapshot

SPARSE_DROPS30 = 4  # fewer than one drop a week: use the 90-day count instead
MAX_DAYS_TO_SELL = 365
SCORE_FULL_AT_MONTHLY_SALES = 1000  # 1,000 sales a month or more scores 100
SALES_QUANT = Decimal("0.01")

# US Books, sales rank -> estimated sales per month. A documented rule of thumb (rank 1M is about
# one sale a month, each 10x in rank is roughly 8-10x fewer sales), interpolated log-log between
# anchors and clamped outside them. Only used when Keepa has no rank-drop counts.
RANK_TO_MONTHLY_SALES: tuple[tuple[int, float], ...] = (
    (1, 60_000.0),
    (10, 30_000.0),
    (100, 6_000.0),
    (1_000, 900.0),
    (10_000, 120.0),
    (100_000, 12.0),
    (1_000_000, 1.0),
    (5_000_000, 0.1),
)


def monthly_sales_from_rank(rank: int) -> Decimal:
    if rank <= RANK_TO_MONTHLY_SALES[0][0]:
        return _sales(RANK_TO_MONTHLY_SALES[0][1])
    for (r0, s0), (r1, s1) in itertools.pairwise(RANK_TO_MONTHLY_SALES):
        if rank <= r1:
            t = (math.log(rank) - math.log(r0)) / (math.log(r1) - math.log(r0))
            return _sales(math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0))))
    return _sales(RANK_TO_MONTHLY_SALES[-1][1])


def _sales(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(SALES_QUANT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SalesEstimate:
    monthly_sales: Decimal | None
    basis: str | None  # "sales_rank_drops30" | "rank_history_drops30" | "sales_rank_curve" | ...


def estimate_monthly_sales(market: MarketSnapshot) -> SalesEstimate:
    drops30, drops90 = market.sales_rank_drops30, market.sales_rank_drops90
    basis30, basis90 = _drops_basis(market, 30), _drops_basis(market, 90)
    estimate: SalesEstimate
    if drops30 is not None and drops30 >= SPARSE_DROPS30:
        estimate = SalesEstimate(Decimal(drops30), basis30)
    elif drops90 is not None:
        estimate = SalesEstimate((Decimal(drops90) / 3).quantize(SALES_QUANT), basis90)
    elif drops30 is not None:
        estimate = SalesEstimate(Decimal(drops30), basis30)
    elif (rank := market.sales_rank or market.sales_rank_avg90) is not None:
        estimate = SalesEstimate(monthly_sales_from_rank(rank), "sales_rank_curve")
    else:
        estimate = SalesEstimate(None, None)
    floor = market.monthly_sold
    if floor is not None and (estimate.monthly_sales is None or estimate.monthly_sales < floor):
        return SalesEstimate(Decimal(floor), "monthly_sold")
    return estimate


def _drops_basis(market: MarketSnapshot, days: int) -> str:
    """Keepa's own count, or the one made from the rank history (source "csv")."""
    from_history = market.sources.get(f"sales_rank_drops{days}") == "csv"
    return f"rank_history_drops{days}" if from_history else f"sales_rank_drops{days}"


def velocity_score(monthly_sales: Decimal | None) -> int | None:
    """0-100 on a log scale: 0 sales -> 0, 1/month -> 10, 10 -> 35, 100 -> 67, 1000+ -> 100."""
    if monthly_sales is None:
        return None
    ratio = math.log10(1 + float(monthly_sales)) / math.log10(1 + SCORE_FULL_AT_MONTHLY_SALES)
    return max(0, min(100, round(100 * ratio)))


def expected_days_to_sell(
    monthly_sales: Decimal | None, competing_offers: int | None
) -> int | None:
    """Days until our copy sells if sales are shared evenly by us and the competing offers."""
    if monthly_sales is None:
        return None
    if monthly_sales <= 0:
        return MAX_DAYS_TO_SELL
    sellers = (competing_offers or 0) + 1
    days = (Decimal(30) * sellers / monthly_sales).to_integral_value(ROUND_CEILING)
    return int(min(Decimal(MAX_DAYS_TO_SELL), max(Decimal(1), days)))
