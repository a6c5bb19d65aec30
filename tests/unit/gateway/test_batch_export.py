"""The export's formatting: one CSV row per line, unknowns empty (never 0), formulas defused;
the InventoryLab Buy List; the workbook's typed cells; Accept negotiation."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl

from gateway.api.exports import negotiate
from gateway.domain import batch_export
from gateway.domain.batch_export import ExportTotals
from gateway.domain.xlsx_export import MEDIA_TYPE, XlsxExport

FIELDS = ["item_no", "id", "asin", "recommendation", "profit", "roi_percent", "fees_total"]
FIELDS += ["risk_flags", "title", "sales_rank", "buy_cost", "condition", "identifier"]
FIELDS += ["sell_price", "quantity", "note", "summary"]
FAILED_LINE = {
    "item_no": 3,
    "identifier": "0593655036",
    "asin": "0593655036",
    "buy_cost": 3.5,
    "condition": "used",
    "status": "FAILED",
    "failure_reason": "market data unavailable; try again later",
}


def _analysis(**changes: object) -> batch_export.Row:
    values = {
        "item_no": 4,
        "id": "a1",
        "asin": "0593655036",
        "recommendation": "BUY",
        "profit": -1.25,
        "roi_percent": 66.84,
        "fees_total": 11.4,
        "risk_flags": ["hazmat", "amazon"],
        "title": 'A, "quoted" title',
        "sales_rank": None,
        "buy_cost": 3.5,
        "condition": "used",
        "identifier": "0593655036",
        "sell_price": 19.99,
        "quantity": None,
        "note": None,
        "summary": "BUY: ROI 66.84%",
    }
    values.update(changes)
    return batch_export.analysed(FIELDS, [values[f] for f in FIELDS])


def _parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_analysed_line() -> None:
    [row] = _parse(batch_export.header() + batch_export.csv_rows([_analysis()]))
    assert (row["item_no"], row["status"], row["recommendation"]) == ("4", "DONE", "BUY")
    assert (row["profit"], row["fees_total"], row["risk_flags"]) == (
        "-1.25",
        "11.4",
        "hazmat;amazon",
    )
    assert row["title"] == 'A, "quoted" title' and row["analysis_id"] == "a1"
    assert row["sales_rank"] == "" and row["failure_reason"] == ""  # unknown: empty, not 0


def test_a_failed_line_keeps_its_reason_and_rows_keep_their_order() -> None:
    rows = _parse(
        batch_export.header() + batch_export.csv_rows([batch_export.line(FAILED_LINE), _analysis()])
    )
    assert [r["item_no"] for r in rows] == ["3", "4"]
    assert (rows[0]["status"], rows[0]["failure_reason"], rows[0]["analysis_id"]) == (
        "FAILED",
        "market data unavailable; try again later",
        "",
    )


def test_text_a_spreadsheet_would_run_as_a_formula_is_defused() -> None:
    analysis = _analysis(title='=HYPERLINK("http://x")', summary="+1", note="@me", profit=-2)
    [row] = _parse(batch_export.header() + batch_export.csv_rows([analysis]))
    assert row["title"] == '\'=HYPERLINK("http://x")' and row["summary"] == "'+1"
    assert row["note"] == "'@me"
    assert row["profit"] == "-2"  # numbers stay numbers


def test_inventorylab_buy_list_has_the_import_columns_and_defaults() -> None:
    rows = [
        _analysis(quantity=3, note="shelf 2, signed"),
        _analysis(item_no=5, condition="new", sell_price=7.5, buy_cost=2),
        _analysis(item_no=6, sell_price=None),  # no list price: the import would refuse it
    ]
    text = batch_export.inventorylab_header() + batch_export.inventorylab_rows(
        rows, date(2026, 3, 7), "library sale"
    )
    parsed = _parse(text)
    assert list(parsed[0]) == [
        "ASIN",
        "Title",
        "Cost/Unit",
        "List Price",
        "Quantity",
        "Purchased Date",
        "Supplier",
        "Condition",
        "Condition Notes",
    ]
    assert len(parsed) == 2
    first, second = parsed
    assert (first["ASIN"], first["Cost/Unit"], first["List Price"], first["Quantity"]) == (
        "0593655036",
        "3.50",
        "19.99",
        "3",
    )
    assert (first["Purchased Date"], first["Supplier"], first["Condition"]) == (
        "03/07/2026",
        "library sale",
        "Used - Good",
    )
    assert first["Condition Notes"] == "shelf 2, signed"
    assert (second["Quantity"], second["Condition"], second["Condition Notes"]) == ("1", "New", "")
    assert second["Cost/Unit"] == "2.00"


def test_totals_count_copies_of_buy_lines() -> None:
    totals = ExportTotals()
    totals.add(
        [
            _analysis(quantity=2, profit=5.0, roi_percent=100.0, buy_cost=5.0),
            _analysis(profit=1.0, roi_percent=50.0, buy_cost=2.0),
            _analysis(recommendation="PASS", profit=-3.0),
            batch_export.line(FAILED_LINE),
        ]
    )
    assert (totals.rows, totals.by_recommendation["BUY"], totals.buy_copies) == (4, 2, 3)
    assert (totals.buy_cost, totals.buy_profit) == (12.0, 11.0)
    assert totals.buy_average_roi_percent == 75.0
    assert totals.by_status == {"DONE": 3, "FAILED": 1}


def test_workbook_cells_are_typed_and_the_summary_has_totals_and_config(tmp_path: Path) -> None:
    path = tmp_path / "batch.xlsx"
    export = XlsxExport(path)
    rows = [batch_export.line(FAILED_LINE), _analysis(quantity=2)]
    export.add(rows)
    totals = ExportTotals()
    totals.add(rows)
    config = {"strategy": "balanced", "thresholds": {"min_roi_percent": 30}}
    batch = {"id": "b1", "name": "haul", "status": "COMPLETED", "items_total": 2}
    export.close(batch, totals, config, {"min_roi": 10})
    book = openpyxl.load_workbook(path)
    lines, summary = book["Lines"], book["Summary"]
    header = [c.value for c in lines[1]]
    assert header == list(batch_export.COLUMNS)
    at = {name: n + 1 for n, name in enumerate(header)}
    assert lines.freeze_panes == "A2" and lines.auto_filter.ref == "A1:Y3"
    assert lines.cell(2, at["status"]).value == "FAILED"
    assert lines.cell(2, at["profit"]).value is None
    profit = lines.cell(3, at["profit"])
    assert profit.value == -1.25 and profit.number_format == "#,##0.00"
    roi = lines.cell(3, at["roi_percent"])
    assert abs(roi.value - 0.6684) < 1e-9 and roi.number_format == "0.00%"
    assert lines.cell(3, at["quantity"]).value == 2
    assert lines.cell(3, at["risk_flags"]).value == "hazmat;amazon"
    assert lines.column_dimensions["J"].width > 40  # the title column is wide
    facts = {r[0].value: r[1].value for r in summary.iter_rows() if r[0].value}
    assert facts["Batch"] == "haul" and facts["BUY lines"] == 1
    assert facts["BUY copies (quantity)"] == 2 and facts["BUY total buy cost"] == 7.0
    assert facts["Filters"] == "min_roi=10"
    assert facts["thresholds.min_roi_percent"] == 30 and facts["strategy"] == "balanced"


def test_accept_negotiation_prefers_the_highest_quality_and_defaults_to_csv() -> None:
    assert negotiate(None) == "csv"
    assert negotiate("*/*") == "csv"
    assert negotiate(MEDIA_TYPE) == "xlsx"
    assert negotiate(f"text/csv;q=0.5, {MEDIA_TYPE}") == "xlsx"
    assert negotiate(f"text/csv, {MEDIA_TYPE};q=0.2") == "csv"
    assert negotiate(f"{MEDIA_TYPE};q=0") == "csv"
    assert negotiate("application/json") == "csv"
