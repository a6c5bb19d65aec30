"""The strategy's rules, each checked and reported with its threshold and the actual value.

Recommendation: PASS when the money rules (profit, ROI) fail, because the book loses or makes too
little; BUY when every rule passes; WATCH when the money is right but demand or competition is
not (or is unknown), so the seller may want to check again later.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .analysis import Recommendation, RuleCheck
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
) -> tuple[RuleCheck, ...]:
    checks = [
        _at_least("min_profit", "Profit", profit, strategy.min_profit, dollars),
        _at_least("min_roi_percent", "ROI", roi_percent, strategy.min_roi_percent, _pct),
        _at_least(
            "min_velocity_score", "Velocity score", velocity, strategy.min_velocity_score, str
        ),
        _at_most("max_sales_rank", "Sales rank", sales_rank, strategy.max_sales_rank),
        _at_most(
            "max_competing_fba_offers",
            "Competing FBA offers",
            competing_fba,
            strategy.max_competing_fba_offers,
        ),
    ]
    return tuple(checks)


def recommend(checks: tuple[RuleCheck, ...]) -> Recommendation:
    if any(not c.passed for c in checks if c.rule in MONEY_RULES):
        return Recommendation.PASS
    if all(c.passed for c in checks):
        return Recommendation.BUY
    return Recommendation.WATCH


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
