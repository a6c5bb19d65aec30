"""The export's CSV formatting: one row per line, unknowns empty (never 0), formulas defused."""

from __future__ import annotations

import csv
import io

from gateway.domain import batch_export

ITEM = {
    "item_no": 4,
    "identifier": "0593655036",
    "asin": "0593655036",
    "buy_cost": 3.5,
    "condition": "used",
    "status": "DONE",
    "failure_reason": None,
}


def _parse(line: str) -> dict[str, str]:
    return next(csv.DictReader(io.StringIO(batch_export.header() + line)))


def test_an_analysed_line() -> None:
    analysis = {
        "id": "a1",
        "asin": "0593655036",
        "recommendation": "BUY",
        "profit": -1.25,
        "roi_percent": 66.84,
        "fees": {"total": 11.4},
        "risk_flags": ["hazmat", "amazon"],
        "title": 'A, "quoted" title',
        "sales_rank": None,
    }
    row = _parse(batch_export.row(ITEM, analysis))
    assert (row["item_no"], row["recommendation"], row["profit"]) == ("4", "BUY", "-1.25")
    assert (row["fees_total"], row["risk_flags"]) == ("11.4", "hazmat;amazon")
    assert row["title"] == 'A, "quoted" title'
    assert row["sales_rank"] == "" and row["failure_reason"] == ""  # unknown: empty, not 0


def test_a_failed_line_keeps_its_reason() -> None:
    failed = ITEM | {"status": "FAILED", "failure_reason": "market data unavailable: 503"}
    row = _parse(batch_export.row(failed, None))
    assert (row["status"], row["failure_reason"], row["analysis_id"]) == (
        "FAILED",
        "market data unavailable: 503",
        "",
    )


def test_text_a_spreadsheet_would_run_as_a_formula_is_defused() -> None:
    analysis = {"id": "a1", "title": '=HYPERLINK("http://x")', "summary": "+1", "profit": -2}
    row = _parse(batch_export.row(ITEM, analysis))
    assert row["title"] == '\'=HYPERLINK("http://x")' and row["summary"] == "'+1"
    assert row["profit"] == "-2"  # numbers stay numbers
