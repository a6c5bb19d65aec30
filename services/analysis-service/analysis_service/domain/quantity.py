"""A line of several copies: totals, the cash they tie up, and how long they take to sell.

Our share of the book's sales: ``monthly_sales / (competing_offers + 1)``, the sales shared
evenly by every offer of the condition and ours (the same assumption as the one-copy
``expected_days_to_sell``). Our copies sell one after another at that rate: copy k after
``30 * k / share`` days, all ``quantity`` after ``ceil(30 * quantity / share)`` days, and
``floor(sell_within_days * share / 30)`` of them within the strategy's horizon. A line with more
copies than that fails ``quantity_within_horizon`` (at most WATCH) and is flagged
``quantity_beyond_horizon``; a single copy is the velocity rules' business, so the rule is only
checked for two copies or more.

Cash needed: what the copies cost before any sells (buy cost, sales tax, prep, inbound shipping and
Amazon's placement fee, charged at check-in). Total profit: each copy's profit, later copies
paying storage for longer: the unit profit with the storage fee for the copies' mean holding time
(``30 * (quantity + 1) / 2 / share`` days), times the quantity; storage is linear in days within a
schedule, so this is the sum over the copies up to cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from .analysis import FeeBreakdown, QuantityTotals, RuleCheck

SHARE_QUANT = Decimal("0.01")
CENT = Decimal("0.01")
MAX_DAYS = 36_500  # a hundred years: "never" at this rate, kept an int


@dataclass(frozen=True)
class Pace:
    share: Decimal | None  # our copies' sales a month
    days_to_sell_all: int | None
    sellable_within_horizon: int | None
    mean_holding_days: int | None


def sales_share(monthly_sales: Decimal | None, competing_offers: int | None) -> Decimal | None:
    if monthly_sales is None:
        return None
    return (monthly_sales / ((competing_offers or 0) + 1)).quantize(SHARE_QUANT)


def pace(
    quantity: int, monthly_sales: Decimal | None, competing_offers: int | None, horizon_days: int
) -> Pace:
    """Exact arithmetic on sales and sellers (the share is rounded only to be shown): one copy
    takes exactly ``expected_days_to_sell``'s days, uncapped."""
    share = sales_share(monthly_sales, competing_offers)
    if monthly_sales is None or share is None:
        return Pace(None, None, None, None)
    if monthly_sales <= 0:
        return Pace(share, None, 0, None)
    sellers = (competing_offers or 0) + 1
    all_days = (Decimal(30) * quantity * sellers / monthly_sales).to_integral_value(ROUND_CEILING)
    within = (Decimal(horizon_days) * monthly_sales / sellers / 30).to_integral_value(ROUND_FLOOR)
    mean = (Decimal(15) * (quantity + 1) * sellers / monthly_sales).to_integral_value(ROUND_CEILING)
    cap = Decimal(MAX_DAYS)
    return Pace(share, int(min(all_days, cap)), min(int(within), quantity), int(min(mean, cap)))


def totals(
    quantity: int, unit_profit: Decimal, buy_cost: Decimal, fees: FeeBreakdown,
    mean_storage_fee: Decimal, steady: Pace,
) -> QuantityTotals:  # fmt: skip
    """``mean_storage_fee``: one copy's storage for ``steady.mean_holding_days`` (the unit
    profit's own storage when the pace is unknown)."""
    per_copy = unit_profit + fees.storage_fee - mean_storage_fee
    cash = buy_cost + fees.sales_tax + fees.prep + fees.inbound_shipping
    cash += fees.inbound_placement_fee
    return QuantityTotals(
        total_profit=(per_copy * quantity).quantize(CENT),
        total_cash_needed=(cash * quantity).quantize(CENT),
        monthly_sales_share=steady.share,
        days_to_sell_all=steady.days_to_sell_all,
        sellable_within_horizon=steady.sellable_within_horizon,
    )


def horizon_check(quantity: int, steady: Pace, horizon_days: int) -> RuleCheck | None:
    if quantity <= 1:
        return None
    rule, threshold = (
        "quantity_within_horizon",
        f"all {quantity:,} copies within {horizon_days} days",
    )
    if steady.share is None:
        return RuleCheck(
            rule, threshold, "unknown", None,
            f"How fast {quantity:,} copies sell is unknown: no sales estimate. Not checked.",
        )  # fmt: skip
    sellable = steady.sellable_within_horizon or 0
    days = steady.days_to_sell_all
    shown = "never at this rate" if days is None else f"{days:,} days"
    passed = days is not None and days <= horizon_days
    pace_text = (
        f"At your share of sales, {steady.share} a month (sales / (offers + 1)), "
        f"{quantity:,} copies take {shown}"
    )
    message = (
        f"{pace_text}: within your {horizon_days} days."
        if passed
        else f"{pace_text}; only {sellable:,} sell within {horizon_days} days: buy at most "
        f"{sellable:,}, or hold the rest longer."
    )
    return RuleCheck(rule, threshold, shown, passed, message)
