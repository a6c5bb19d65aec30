"""The strategy's rules, each checked and reported with its threshold and the actual value.

Recommendation: PASS when the money rules (profit, ROI) fail, because the book loses or makes too
little; BUY when every rule passes; WATCH when the money is right but demand or competition is
not (or demand is unknown, or Amazon holds the buy box too often), or no copy of the condition
is offered now (``current_offer``: the price is an average), so the seller may want to check
again later.

Competing FBA offers are the one input Keepa often cannot give: it counts FBA offers only when
the (token-expensive) offers parameter is requested, and then only among the offers it returned.
Without an exact count, the condition's whole offer count is an upper bound: within the limit,
the rule passes. Otherwise the rule is not checked (``passed`` None, shown with its reason and the
``competition_unknown`` risk flag) and does not hold back a BUY: a seller who wants it checked
requests offers. Amazon's share of the buy box (``max_amazon_buy_box_percent``) is the same:
Keepa sends ``buyBoxStats`` only with offers, and without it the rule is not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .analysis import Recommendation, RuleCheck
from .pricing import (
    NEW_AT_MOST_AMAZON,
    USED_AT_MOST_NEW,
    PriceCap,
    PriceFigure,
    SalePrice,
    describe,
)
from .strategy import Strategy

MONEY_RULES = frozenset({"min_profit", "min_roi_percent"})


def dollars(value: Decimal) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def check_rules(
    strategy: Strategy,
    *,
    profit: Decimal,
    roi_percent: Decimal | None,
    velocity: int | None,
    sales_rank: int | None,
    competing_fba: int | None,
    competing_offers: int | None,
    amazon_buy_box_percent: Decimal | None = None,
) -> tuple[RuleCheck, ...]:
    checks = [
        _at_least("min_profit", "Profit", profit, strategy.min_profit, dollars),
        _roi(roi_percent, profit, strategy.min_roi_percent),
        _at_least(
            "min_velocity_score", "Velocity score", velocity, strategy.min_velocity_score, str
        ),
        _at_most("max_sales_rank", "Sales rank", sales_rank, strategy.max_sales_rank),
        _competing_fba(competing_fba, competing_offers, strategy.max_competing_fba_offers),
        _amazon_buy_box(amazon_buy_box_percent, strategy.max_amazon_buy_box_percent),
    ]
    return tuple(checks)


def price_checks(sale: SalePrice, condition: str) -> tuple[RuleCheck, ...]:
    """How the sale price was found: from a current offer of the condition or not (a copy priced
    from history fails ``current_offer``, so it is at most WATCH), and each cap that lowered it
    (passed: the price now keeps to it; the message names the figure it replaced)."""
    return (_current_offer(sale, condition), *(_cap_check(cap) for cap in sale.caps))


def _current_offer(sale: SalePrice, condition: str) -> RuleCheck:
    rule, threshold = "current_offer", f"a current {condition} offer"
    if not sale.from_history:
        offered = sale.caps[0].replaced if sale.caps else PriceFigure(sale.amount, sale.basis)
        return RuleCheck(
            rule, threshold, dollars(offered.amount), True,
            f"A {condition} copy is offered now: {describe(offered.basis)}, "
            f"{dollars(offered.amount)}.",
        )  # fmt: skip
    averages = ", ".join(f"{describe(f.basis)} {dollars(f.amount)}" for f in sale.history)
    lowest = min(sale.history, key=lambda f: f.amount)
    return RuleCheck(
        rule, threshold, "none", False,
        f"No {condition} copy is offered now, so the price is historical: "
        f"{dollars(lowest.amount)}, the lowest of {averages}. An average says what copies sold "
        f"for, not that one sells now: at most WATCH until a {condition} copy is offered.",
    )  # fmt: skip


def _cap_check(cap: PriceCap) -> RuleCheck:
    limit, replaced = cap.limit, cap.replaced
    if cap.rule == USED_AT_MOST_NEW:
        why = "no one buys a used copy for more than a new one"
    elif cap.rule == NEW_AT_MOST_AMAZON:
        why = "a new copy offered above Amazon's own price does not sell, buyers take Amazon's"
    else:
        why = "one offer above what used copies have been selling for is not a sale price"
    return RuleCheck(
        cap.rule, f"<= {dollars(limit.amount)} ({describe(limit.basis)})",
        dollars(limit.amount), True,
        f"Priced at {dollars(limit.amount)}, {describe(limit.basis)}, not "
        f"{dollars(replaced.amount)}, {describe(replaced.basis)}: {why}.",
    )  # fmt: skip


def recommend(checks: tuple[RuleCheck, ...]) -> Recommendation:
    if any(c.passed is not True for c in checks if c.rule in MONEY_RULES):
        return Recommendation.PASS
    if all(c.passed is not False for c in checks):  # None: not checked (see the module doc)
        return Recommendation.BUY
    return Recommendation.WATCH


def _roi(roi_percent: Decimal | None, profit: Decimal, minimum: Decimal) -> RuleCheck:
    if roi_percent is None:
        # No ROI: nothing was paid for this copy (a free box, a donation), so the return on it
        # is unbounded: any profit is enough.
        passed = profit > 0
        message = (
            "Nothing was paid for this copy: any profit is an unbounded return."
            if passed else "Nothing was paid for this copy, but it makes no profit."
        )  # fmt: skip
        return RuleCheck("min_roi_percent", f">= {_pct(minimum)}", "unbounded", passed, message)
    return _at_least("min_roi_percent", "ROI", roi_percent, minimum, _pct)


def _competing_fba(exact: int | None, all_offers: int | None, maximum: int | None) -> RuleCheck:
    rule, label = "max_competing_fba_offers", "Competing FBA offers"
    if exact is not None or maximum is None:
        return _at_most(rule, label, exact, maximum)
    threshold = f"<= {maximum:,}"
    if all_offers is not None and all_offers <= maximum:
        return RuleCheck(
            rule, threshold, f"<= {all_offers:,}", True,
            f"{label}: Keepa gave no FBA count, but there are only {all_offers:,} offers of this "
            f"condition in all, within the {maximum:,} limit.",
        )  # fmt: skip
    known = "" if all_offers is None else f" ({all_offers:,} offers of this condition in all)"
    return RuleCheck(
        rule, threshold, "unknown", None,
        f"{label} are unknown{known}: Keepa counts FBA offers only when offers are requested. "
        "Not checked; check the listing's FBA offers before buying.",
    )  # fmt: skip


def _amazon_buy_box(share: Decimal | None, maximum: int | None) -> RuleCheck:
    """Amazon holding the buy box most of the time: Amazon wins it against almost any seller at
    the same price, so a copy waits (at most WATCH; the price rules already hold the price down
    to Amazon's). Unknown share: Keepa sends buyBoxStats only with offers; not checked."""
    rule, label = "max_amazon_buy_box_percent", "Amazon's share of the buy box"
    if maximum is None:
        shown = "unknown" if share is None else _pct(share)
        return RuleCheck(rule, "no limit", shown, True, f"{label}: no limit in this strategy.")
    threshold = f"<= {maximum}%"
    if share is None:
        return RuleCheck(
            rule, threshold, "unknown", None,
            f"{label} is unknown: Keepa sends buy box statistics only when offers are requested. "
            "Not checked; see who holds the buy box before buying.",
        )  # fmt: skip
    passed = share <= maximum
    verb = "is within" if passed else "exceeds"
    return RuleCheck(
        rule, threshold, _pct(share), passed,
        f"{label} over Keepa's stats window, {_pct(share)}, {verb} the {maximum}% limit.",
    )  # fmt: skip


def _pct(value: Decimal) -> str:
    return f"{value}%"


def _at_least(
    rule: str,
    label: str,
    actual: Decimal | int | None,
    minimum: Decimal | int,
    fmt: Callable[[Any], str],
) -> RuleCheck:
    threshold = f">= {fmt(minimum)}"
    if actual is None:
        return RuleCheck(rule, threshold, "unknown", False, f"{label} is unknown.")
    passed = actual >= minimum
    verb = "meets" if passed else "is below"
    message = f"{label} {fmt(actual)} {verb} the {fmt(minimum)} minimum."
    return RuleCheck(rule, threshold, fmt(actual), passed, message)


def _at_most(rule: str, label: str, actual: int | None, maximum: int | None) -> RuleCheck:
    if maximum is None:
        shown = "unknown" if actual is None else f"{actual:,}"
        return RuleCheck(rule, "no limit", shown, True, f"{label}: no limit in this strategy.")
    threshold = f"<= {maximum:,}"
    if actual is None:
        return RuleCheck(rule, threshold, "unknown", False, f"{label} is unknown.")
    passed = actual <= maximum
    verb = "is within" if passed else "exceeds"
    return RuleCheck(
        rule, threshold, f"{actual:,}", passed, f"{label} {actual:,} {verb} the {maximum:,} limit."
    )
