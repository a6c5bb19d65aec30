"""When a watched book raises an alert: pure comparisons of its previous analysis with its new
one (analysis views, as GET /api/v1/analyses answers them). No I/O.

A level condition (BUY, profit/ROI/price above or below, rank below, offers below) triggers when
it holds now and did not hold before (nothing before counts as not holding): an alert says that
something changed, once, not at every run while it stays true. Amazon leaving or joining the
listing needs a previous analysis to leave or join from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

AlertKind = Literal[
    "becomes_buy",
    "profit_above",
    "roi_above",
    "sell_price_above",
    "sell_price_below",
    "sales_rank_below",
    "amazon_leaves",
    "amazon_joins",
    "offers_below",
]
NEEDS_VALUE: frozenset[str] = frozenset(
    {
        "profit_above",
        "roi_above",
        "sell_price_above",
        "sell_price_below",
        "sales_rank_below",
        "offers_below",
    }
)
AMAZON_FLAG = "amazon_on_listing"
OFFERS_RULE = "max_competing_fba_offers"
Analysis = dict[str, Any]


def _number(analysis: Analysis, field: str) -> float | None:
    value = analysis.get(field)
    return None if value is None else float(value)


def competing_offers(analysis: Analysis) -> int | None:
    """The competing FBA offers the engine counted (its rule's `actual`: `3`, `1,234`, or
    `<= 3` when only all offers were counted, an upper bound that decides "below n" alike),
    None when unknown."""
    for reason in analysis.get("reasons") or ():
        if reason.get("rule") == OFFERS_RULE:
            found = re.search(r"\d[\d,]*", str(reason.get("actual", "")))
            return int(found.group().replace(",", "")) if found else None
    return None


def _above(field: str) -> Callable[[Analysis, float | None], bool]:
    def check(analysis: Analysis, value: float | None) -> bool:
        actual = _number(analysis, field)
        return actual is not None and value is not None and actual > value

    return check


def _below(get: Callable[[Analysis], float | None]) -> Callable[[Analysis, float | None], bool]:
    def check(analysis: Analysis, value: float | None) -> bool:
        actual = get(analysis)
        return actual is not None and value is not None and actual < value

    return check


LEVELS: dict[str, Callable[[Analysis, float | None], bool]] = {
    "becomes_buy": lambda a, _v: a.get("recommendation") == "BUY",
    "profit_above": _above("profit"),
    "roi_above": _above("roi_percent"),
    "sell_price_above": _above("sell_price"),
    "sell_price_below": _below(lambda a: _number(a, "sell_price")),
    "sales_rank_below": _below(lambda a: _number(a, "sales_rank")),
    "offers_below": _below(lambda a: competing_offers(a)),
}


def usable(analysis: Analysis | None) -> bool:
    """An analysis with market data (not one that failed for want of it)."""
    return analysis is not None and analysis.get("outcome", "analysed") == "analysed"


def _on_listing(analysis: Analysis) -> bool:
    return AMAZON_FLAG in (analysis.get("risk_flags") or ())


def triggers(kind: str, value: float | None, before: Analysis | None, after: Analysis) -> bool:
    if kind in ("amazon_leaves", "amazon_joins"):
        if not usable(before):
            return False
        assert before is not None
        joined = kind == "amazon_joins"
        return _on_listing(before) != joined and _on_listing(after) == joined
    holds = LEVELS[kind]
    return holds(after, value) and not (usable(before) and holds(before or {}, value))


def triggered(
    alert_on: Sequence[dict[str, Any]], before: Analysis | None, after: Analysis
) -> list[dict[str, Any]]:
    """The conditions of `alert_on` ({"kind", "value"}) that `after` triggers."""
    if not usable(after):
        return []
    return [c for c in alert_on if triggers(c["kind"], c.get("value"), before, after)]
