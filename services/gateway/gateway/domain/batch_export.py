"""A batch as a spreadsheet: one CSV row per submitted line, in submission order, with its
analysis (or why it failed). Pure formatting; the route streams the rows it is given."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS: Sequence[str] = (
    "item_no",
    "identifier",
    "asin",
    "condition",
    "buy_cost",
    "status",
    "recommendation",
    "title",
    "sell_price",
    "price_basis",
    "fees_total",
    "profit",
    "roi_percent",
    "margin_percent",
    "max_buy_cost_for_target_roi",
    "velocity_score",
    "estimated_monthly_sales",
    "expected_days_to_sell",
    "sales_rank",
    "risk_flags",
    "summary",
    "failure_reason",
    "analysis_id",
)
# Free text a spreadsheet would run as a formula (CSV injection): shown as text instead.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_TEXT_COLUMNS = frozenset({"identifier", "title", "price_basis", "summary", "failure_reason"})


def header() -> str:
    return _line(COLUMNS)


def row(item: Mapping[str, Any], analysis: Mapping[str, Any] | None) -> str:
    """`item` as the batch service lists it; `analysis` as the analysis service does (or None:
    failed or still pending)."""
    found = analysis or {}
    fees = found.get("fees") or {}
    values: dict[str, Any] = {
        **{column: found.get(column) for column in COLUMNS},
        "item_no": item["item_no"],
        "identifier": item["identifier"],
        "asin": found.get("asin") or item.get("asin"),
        "condition": item["condition"],
        "buy_cost": item["buy_cost"],
        "status": item["status"],
        "fees_total": fees.get("total"),
        "risk_flags": ";".join(found.get("risk_flags") or ()),
        "failure_reason": item.get("failure_reason"),
        "analysis_id": found.get("id"),
    }
    return _line([_cell(column, values[column]) for column in COLUMNS])


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if column in _TEXT_COLUMNS and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def _line(cells: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()
