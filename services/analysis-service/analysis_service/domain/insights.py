"""A batch's figures a seller acts on: the cash the BUY lines need, what they should earn and
when, why lines were passed, the risks that recur, the best picks, and how the batch compares
with the seller's earlier ones.

Pure: the service sums the rows in SQL (a batch may hold 100,000 lines) and hands the sums here;
every derived figure, its rounding and its order is decided here, so the same rows always give
the same answer. Money is summed as Decimal and shown as dollars with cents; a line with
`quantity` copies counts its cost and profit once per copy, and its days to sell are the days to
sell all of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

RECOMMENDATIONS = ("BUY", "WATCH", "PASS")
# "Sold through by day N": the cost and profit of the BUY lines whose copies should all have sold.
HORIZON_DAYS = (30, 90, 180, 365)
MAX_PICKS = 10
# Derived risks, beside the engine's flags: demand too thin to count on, a seasonal book.
FEW_SALES = "few_sales"  # fewer than one sale a month expected
SEASONAL = "seasonal"
FEW_SALES_PER_MONTH = Decimal(1)
# Lines PASSed without rules (nothing to check them against) are counted by their outcome.
OUTCOME_REASONS = ("no_market_data", "not_a_book")


@dataclass(frozen=True)
class GroupSums:
    """The lines of one recommendation, summed."""

    recommendation: str
    lines: int
    units: int
    cash: Decimal  # sum of buy_cost x quantity
    profit: Decimal  # sum of profit x quantity (lines without a profit count 0)
    dated_cash: Decimal  # cash of the lines with a days-to-sell estimate
    cash_days: Decimal  # sum of cash x days to sell all copies, over those lines
    max_days: int | None
    undated_lines: int
    few_sales_lines: int = 0
    seasonal_lines: int = 0
    # Aligned with HORIZON_DAYS: cash and profit of the lines that sell through within it.
    cash_by_horizon: tuple[Decimal, ...] = ()
    profit_by_horizon: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class RuleCount:
    recommendation: str
    rule: str  # a failed rule, or an outcome in OUTCOME_REASONS
    lines: int


@dataclass(frozen=True)
class RiskCount:
    risk: str
    lines: int
    buy_lines: int


@dataclass(frozen=True)
class Pick:
    item_no: int
    identifier: str
    title: str | None
    quantity: int
    profit: Decimal  # all copies
    roi_percent: Decimal | None
    days_to_sell: int  # all copies


@dataclass(frozen=True)
class BatchSums:
    """What a batch is compared by."""

    batch_id: uuid.UUID
    lines: int
    buy_lines: int
    buy_cash: Decimal
    buy_profit: Decimal


def empty_group(recommendation: str) -> GroupSums:
    zero = Decimal(0)
    return GroupSums(
        recommendation, 0, 0, zero, zero, zero, zero, None, 0, 0, 0,
        (zero,) * len(HORIZON_DAYS), (zero,) * len(HORIZON_DAYS),
    )  # fmt: skip


def batch_insights(
    groups: Iterable[GroupSums],
    *,
    rules: Iterable[RuleCount] = (),
    risks: Iterable[RiskCount] = (),
    picks: Iterable[Pick] = (),
    earlier: Sequence[BatchSums] = (),
    failed_lines: int = 0,
) -> dict[str, Any]:
    """The batch's figures as the API shows them (JSON-ready, deterministic)."""
    by_rec = {g.recommendation: g for g in groups}
    ordered = [by_rec.get(r) or empty_group(r) for r in RECOMMENDATIONS]
    analysed = sum(g.lines for g in ordered)
    buy = ordered[0]
    return {
        "lines_analysed": analysed,
        "lines_failed": failed_lines,
        "units": sum(g.units for g in ordered),
        "totals": [_totals(g, analysed) for g in ordered],
        "buy": _buy(buy),
        "passed_because": _because(rules, "PASS", by_rec),
        "watch_because": _because(rules, "WATCH", by_rec),
        "best_picks": _picks(picks),
        "risks": _risks(risks, ordered, analysed),
        "compared_with_earlier": _compared(this_batch_sums(ordered), earlier),
    }


def this_batch_sums(groups: Sequence[GroupSums], batch_id: uuid.UUID | None = None) -> BatchSums:
    buy = next((g for g in groups if g.recommendation == "BUY"), empty_group("BUY"))
    return BatchSums(
        batch_id or uuid.UUID(int=0), sum(g.lines for g in groups), buy.lines, buy.cash, buy.profit
    )


def _totals(g: GroupSums, analysed: int) -> dict[str, Any]:
    return {
        "recommendation": g.recommendation,
        "lines": g.lines,
        "share_percent": _share(g.lines, analysed),
        "units": g.units,
        "cash_needed": money(g.cash),
        "expected_profit": money(g.profit),
        "roi_percent": roi(g.profit, g.cash),
        "sell_through_days": g.max_days,
        "average_days_to_sell": _average_days(g),
        "lines_without_estimate": g.undated_lines,
    }


def _buy(g: GroupSums) -> dict[str, Any]:
    """The cash view of the buy: what it costs, earns, and when the money comes back."""
    totals = _totals(g, g.lines)
    del totals["recommendation"], totals["share_percent"]
    cash = g.cash_by_horizon or (Decimal(0),) * len(HORIZON_DAYS)
    profit = g.profit_by_horizon or (Decimal(0),) * len(HORIZON_DAYS)
    totals["sold_through_by"] = [
        {
            "days": days,
            "cash_share_percent": _share_money(c, g.cash),
            "expected_profit": money(p),
            "payout": money(c + p),
        }
        for days, c, p in zip(HORIZON_DAYS, cash, profit, strict=True)
    ]
    return totals


def _because(
    rules: Iterable[RuleCount], recommendation: str, groups: dict[str, GroupSums]
) -> list[dict[str, Any]]:
    """Why lines got this recommendation, by rule: a line failing two rules counts under both."""
    total = groups[recommendation].lines if recommendation in groups else 0
    counts: dict[str, int] = {}
    for r in rules:
        if r.recommendation == recommendation and r.lines > 0:
            counts[r.rule] = counts.get(r.rule, 0) + r.lines
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"rule": rule, "lines": n, "share_percent": _share(n, total)} for rule, n in ordered]


def _picks(picks: Iterable[Pick]) -> list[dict[str, Any]]:
    """The BUY lines earning the most per day until they sell through."""
    ranked = sorted(picks, key=lambda p: (-profit_per_day(p), p.item_no))[:MAX_PICKS]
    return [
        {
            "item_no": p.item_no,
            "identifier": p.identifier,
            "title": p.title,
            "quantity": p.quantity,
            "expected_profit": money(p.profit),
            "roi_percent": money(p.roi_percent),
            "days_to_sell": p.days_to_sell,
            "profit_per_day": money(profit_per_day(p)),
        }
        for p in ranked
    ]


def profit_per_day(p: Pick) -> Decimal:
    # A book expected to sell today still takes a day to be paid for.
    return p.profit / max(p.days_to_sell, 1)


def _risks(
    flags: Iterable[RiskCount], groups: Sequence[GroupSums], analysed: int
) -> list[dict[str, Any]]:
    buy = groups[0]
    derived = [
        RiskCount(FEW_SALES, sum(g.few_sales_lines for g in groups), buy.few_sales_lines),
        RiskCount(SEASONAL, sum(g.seasonal_lines for g in groups), buy.seasonal_lines),
    ]
    seen = [r for r in (*flags, *derived) if r.lines > 0]
    return [
        {
            "risk": r.risk,
            "lines": r.lines,
            "buy_lines": r.buy_lines,
            "share_percent": _share(r.lines, analysed),
        }
        for r in sorted(seen, key=lambda r: (-r.lines, r.risk))
    ]


def _compared(this: BatchSums, earlier: Sequence[BatchSums]) -> dict[str, Any]:
    """This batch against the mean of the earlier ones (each batch weighs the same)."""
    rate, ret = buy_rate(this), roi(this.buy_profit, this.buy_cash)
    rates = [r for b in earlier if (r := buy_rate(b)) is not None]
    rois = [r for b in earlier if (r := roi(b.buy_profit, b.buy_cash)) is not None]
    earlier_rate, earlier_roi = _mean(rates), _mean(rois)
    return {
        "batches": len(earlier),
        "buy_rate_percent": rate,
        "earlier_buy_rate_percent": earlier_rate,
        "buy_rate_change_points": _difference(rate, earlier_rate),
        "roi_percent": ret,
        "earlier_roi_percent": earlier_roi,
        "roi_change_points": _difference(ret, earlier_roi),
        "earlier": [
            {
                "batch_id": str(b.batch_id),
                "lines": b.lines,
                "buy_rate_percent": buy_rate(b),
                "roi_percent": roi(b.buy_profit, b.buy_cash),
            }
            for b in earlier
        ],
    }


def buy_rate(b: BatchSums) -> float | None:
    return _share(b.buy_lines, b.lines) if b.lines else None


def roi(profit: Decimal, cash: Decimal) -> float | None:
    """The return of the whole group: its profit over what it costs (not a mean of the lines')."""
    return money(profit * 100 / cash) if cash > 0 else None


def money(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


def _average_days(g: GroupSums) -> float | None:
    """Days a dollar of the group is tied up, on average (weighted by cost)."""
    if g.dated_cash <= 0:
        return None
    return float((g.cash_days / g.dated_cash).quantize(Decimal("0.1"), ROUND_HALF_UP))


def _share(part: int, whole: int) -> float:
    return _share_money(Decimal(part), Decimal(whole))


def _share_money(part: Decimal, whole: Decimal) -> float:
    if whole <= 0:
        return 0.0
    return float((part * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP))


def _mean(values: Sequence[float]) -> float | None:
    if not values:
        return None
    return money(sum((Decimal(str(v)) for v in values), Decimal(0)) / len(values))


def _difference(this: float | None, before: float | None) -> float | None:
    if this is None or before is None:
        return None
    return money(Decimal(str(this)) - Decimal(str(before)))
