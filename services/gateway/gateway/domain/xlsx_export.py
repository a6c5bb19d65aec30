"""A batch as an Excel workbook: typed cells (numbers as numbers, money with 2 decimals,
percentages as percentages), a frozen header row, an autofilter and column widths on the lines'
sheet; the batch's totals and the config it was analysed with on a second sheet.

xlsxwriter in constant_memory mode: each row is written out as soon as the next begins, so
memory stays flat whatever the number of lines; the workbook is assembled into `path` on
`close` (the route then streams that file)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from .batch_export import COLUMNS, ExportTotals, flatten

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY = "#,##0.00"
PERCENT = "0.00%"
KINDS: dict[str, str] = {
    "item_no": "integer",
    "quantity": "integer",
    "velocity_score": "integer",
    "expected_days_to_sell": "integer",
    "sales_rank": "integer",
    "buy_cost": "money",
    "sell_price": "money",
    "fees_total": "money",
    "profit": "money",
    "max_buy_cost_for_target_roi": "money",
    "roi_percent": "percent",
    "margin_percent": "percent",
    "estimated_monthly_sales": "decimal",
}
WIDTHS: dict[str, int] = {
    "identifier": 15,
    "asin": 12,
    "title": 48,
    "price_basis": 20,
    "risk_flags": 24,
    "summary": 60,
    "failure_reason": 36,
    "analysis_id": 38,
    "note": 30,
}


class XlsxExport:
    """Write `add` blocks of rows (in order), then `close` with the batch's facts."""

    def __init__(self, path: Path) -> None:
        self.book = xlsxwriter.Workbook(
            str(path),
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
        )
        self.sheet = self.book.add_worksheet("Lines")
        self.summary_sheet = self.book.add_worksheet("Summary")
        bold = self.book.add_format({"bold": True})
        self.formats = {
            "money": self.book.add_format({"num_format": MONEY}),
            "percent": self.book.add_format({"num_format": PERCENT}),
            "decimal": self.book.add_format({"num_format": "0.0"}),
            "integer": self.book.add_format({"num_format": "0"}),
            "bold": bold,
        }
        for n, column in enumerate(COLUMNS):
            kind = KINDS.get(column)
            width = WIDTHS.get(column, 14 if kind == "money" else max(10, len(column) + 2))
            self.sheet.set_column(n, n, width, self.formats[kind] if kind else None)
        self.sheet.write_row(0, 0, COLUMNS, bold)
        self.sheet.freeze_panes(1, 0)
        # (column, write, format) once: the per-cell loop does no lookups by name.
        self._plan = [
            (n, column, self._writer(KINDS.get(column))) for n, column in enumerate(COLUMNS)
        ]
        self.row_no = 0

    def _writer(self, kind: str | None) -> Any:
        sheet = self.sheet
        if kind is None:
            return lambda r, c, v: sheet.write_string(
                r, c, ";".join(v) if isinstance(v, list) else str(v)
            )
        fmt = self.formats[kind]
        if kind == "percent":
            return lambda r, c, v: sheet.write_number(r, c, v / 100, fmt)
        return lambda r, c, v: sheet.write_number(r, c, v, fmt)

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        plan = self._plan
        for row in rows:
            self.row_no += 1
            for n, column, write in plan:
                value = row.get(column)
                if value is not None and value != []:
                    write(self.row_no, n, value)

    def close(
        self,
        batch: Mapping[str, Any],
        totals: ExportTotals,
        config: Mapping[str, Any] | None,
        filters: Mapping[str, Any],
    ) -> None:
        self.sheet.autofilter(0, 0, max(self.row_no, 1), len(COLUMNS) - 1)
        self._summary(batch, totals, config, filters)
        self.book.close()

    def _summary(
        self,
        batch: Mapping[str, Any],
        totals: ExportTotals,
        config: Mapping[str, Any] | None,
        filters: Mapping[str, Any],
    ) -> None:
        sheet, bold, money = self.summary_sheet, self.formats["bold"], self.formats["money"]
        sheet.set_column(0, 0, 40)
        sheet.set_column(1, 1, 40)
        facts: list[tuple[str, Any, Any]] = [
            ("Batch", batch.get("name"), None),
            ("Batch id", str(batch.get("id")), None),
            ("Status", batch.get("status"), None),
            ("Submitted", str(batch.get("created_at") or ""), None),
            ("Lines submitted", batch.get("items_total"), None),
            ("Lines analysed", batch.get("items_processed"), None),
            ("Lines failed", batch.get("items_failed"), None),
            ("Filters", ", ".join(f"{k}={v}" for k, v in filters.items()) or "none", None),
            ("Lines in this export", totals.rows, None),
            *((f"{name} lines", totals.by_recommendation[name], None) for name in _VERDICTS),
            ("BUY copies (quantity)", totals.buy_copies, None),
            ("BUY total buy cost", round(totals.buy_cost, 2), money),
            ("BUY expected profit", round(totals.buy_profit, 2), money),
        ]
        average = totals.buy_average_roi_percent
        if average is not None:
            facts.append(("BUY average ROI", average / 100, self.formats["percent"]))
        sheet.write_row(0, 0, ("Totals", ""), bold)
        row = 1
        for label, value, fmt in facts:
            sheet.write_string(row, 0, label)
            _write(sheet, row, 1, value, fmt)
            row += 1
        row += 1
        sheet.write_row(row, 0, ("Config it was analysed with", ""), bold)
        for key, value in flatten(config or {}):
            row += 1
            sheet.write_string(row, 0, key)
            _write(sheet, row, 1, value, None)


_VERDICTS: Sequence[str] = ("BUY", "WATCH", "PASS")


def _write(sheet: Any, row: int, column: int, value: Any, fmt: Any) -> None:
    if value is None:
        sheet.write_blank(row, column, None)
    elif isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value, fmt)
    else:
        sheet.write_string(row, column, str(value))
