"""A batch as a spreadsheet: one row per submitted line, in submission order, with its analysis
(or why it failed); and the BUY lines as an InventoryLab Buy List. Pure formatting: the route
streams the rows it is given, many at a time (one `csv` writer call per block of rows)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

Row = dict[str, Any]

COLUMNS: Sequence[str] = (
    "item_no",
    "identifier",
    "asin",
    "condition",
    "buy_cost",
    "quantity",
    "note",
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
TEXT_COLUMNS = frozenset(
    {"identifier", "title", "price_basis", "summary", "failure_reason", "note"}
)

# InventoryLab's Buy List import (List > List & Prep): ASIN, List Price (> 0) and Quantity are
# required; dates MM/DD/YYYY; no comma in a heading. A line without a condition would be New.
INVENTORYLAB_COLUMNS: Sequence[str] = (
    "ASIN",
    "Title",
    "Cost/Unit",
    "List Price",
    "Quantity",
    "Purchased Date",
    "Supplier",
    "Condition",
    "Condition Notes",
)
# Only `new` or `used` is known of a line; a used copy is listed at Amazon's middle grade.
INVENTORYLAB_CONDITIONS = {"new": "New", "used": "Used - Good"}


def analysed(fields: Sequence[str], values: Sequence[Any]) -> Row:
    """An analysis as the analysis service streams it (field names once, then arrays)."""
    row = dict(zip(fields, values, strict=True))
    row["analysis_id"] = row.get("id")
    row["status"] = "DONE"
    return row


def line(item: Mapping[str, Any]) -> Row:
    """A line without an analysis (failed, or still pending), as the batch service lists it."""
    return {
        "item_no": item["item_no"],
        "identifier": item["identifier"],
        "asin": item.get("asin"),
        "condition": item["condition"],
        "buy_cost": item["buy_cost"],
        "quantity": item.get("quantity"),
        "note": item.get("note"),
        "status": item["status"],
        "failure_reason": item.get("failure_reason"),
    }


def header() -> str:
    return _lines([COLUMNS])


def csv_rows(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as CSV lines (unknown values empty, never 0; risk flags `;`-separated)."""
    return _lines([_cell(column, row.get(column)) for column in COLUMNS] for row in rows)


def inventorylab_header() -> str:
    return _lines([INVENTORYLAB_COLUMNS])


def inventorylab_rows(rows: Iterable[Mapping[str, Any]], purchased: date, supplier: str) -> str:
    """BUY lines as Buy List lines; a line without an ASIN or a list price is left out (the
    import refuses them)."""
    day = purchased.strftime("%m/%d/%Y")
    out = []
    for row in rows:
        asin, price = row.get("asin"), row.get("sell_price")
        if not asin or not price or price <= 0:
            continue
        out.append(
            (
                asin,
                _text(row.get("title")),
                _money(row["buy_cost"]),
                _money(price),
                row.get("quantity") or 1,
                day,
                _text(supplier),
                INVENTORYLAB_CONDITIONS.get(row.get("condition") or "", "New"),
                _text(row.get("note")),
            )
        )
    return _lines(out)


@dataclass
class ExportTotals:
    """What the exported rows add up to (XLSX summary sheet): copies and money count each
    line's quantity."""

    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_recommendation: Counter[str] = field(default_factory=Counter)
    buy_copies: int = 0
    buy_cost: float = 0.0
    buy_profit: float = 0.0
    buy_roi_sum: float = 0.0
    buy_roi_count: int = 0

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.rows += 1
            self.by_status[row.get("status") or ""] += 1
            recommendation = row.get("recommendation")
            if recommendation:
                self.by_recommendation[recommendation] += 1
            if recommendation != "BUY":
                continue
            copies = row.get("quantity") or 1
            self.buy_copies += copies
            self.buy_cost += float(row.get("buy_cost") or 0) * copies
            self.buy_profit += float(row.get("profit") or 0) * copies
            if row.get("roi_percent") is not None:
                self.buy_roi_sum += row["roi_percent"]
                self.buy_roi_count += 1

    @property
    def buy_average_roi_percent(self) -> float | None:
        return self.buy_roi_sum / self.buy_roi_count if self.buy_roi_count else None


def flatten(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """A config document as `section.key` / value pairs (lists joined), for a sheet."""
    pairs: list[tuple[str, Any]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            pairs += flatten(value, name + ".")
        elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            for n, member in enumerate(value):
                pairs += flatten(member, f"{name}[{n}].") if isinstance(member, Mapping) else []
        elif isinstance(value, list):
            pairs.append((name, ", ".join(str(v) for v in value)))
        else:
            pairs.append((name, value))
    return pairs


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if column == "risk_flags":
        return ";".join(value)
    if column in TEXT_COLUMNS:
        return _text(value)
    return value


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _money(value: Any) -> str:
    return f"{float(value):.2f}"


def _lines(rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()
