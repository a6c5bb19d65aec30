"""A batch's lines and its exports: every submitted line, in order, with its analysis or the
reason it failed, as CSV or an Excel workbook (opened with openpyxl: typed cells, frozen header,
autofilter, the summary sheet); the BUY lines as an InventoryLab Buy List; the filters of the
analyses list; another seller's batch is a 404 like everywhere else."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import openpyxl
import pytest

from devstack.stack import Stack
from tests.e2e.conftest import Seller, register
from tests.helpers import isbn10s, items_for

SAMPLE_BOOK = "0593655036"  # recorded Keepa product
# What a seller reads when Keepa failed; what Keepa said is in the analysis service's log.
UNAVAILABLE = "market data unavailable; try again later"


async def test_lines_and_csv_export_of_a_completed_batch(seller: Seller) -> None:
    lines = [
        {"identifier": SAMPLE_BOOK, "buy_cost": 3.5},
        *items_for(isbn10s(11, seed=31)),
        {"identifier": SAMPLE_BOOK, "buy_cost": 9.0, "condition": "new"},
    ]
    batch = await seller.submit(lines, name="thrift haul")
    assert (await seller.wait_terminal(batch["id"]))["status"] == "COMPLETED"

    first = (await seller.get(f"/api/v1/batches/{batch['id']}/items", params={"size": 5})).json()
    second = (
        await seller.get(f"/api/v1/batches/{batch['id']}/items", params={"size": 5, "page": 2})
    ).json()
    assert first["total"] == len(lines)
    assert [i["item_no"] for i in first["items"] + second["items"]] == list(range(10))
    assert all(i["status"] == "DONE" and i["failure_reason"] is None for i in first["items"])
    none_failed = await seller.get(
        f"/api/v1/batches/{batch['id']}/items", params={"status": "FAILED"}
    )
    assert none_failed.json()["total"] == 0

    export = await seller.get(f"/api/v1/batches/{batch['id']}/export")
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    assert f"batch-{batch['id']}.csv" in export.headers["content-disposition"]
    rows = _rows(export)
    analyses = {a["item_no"]: a for a in await seller.all_analyses(batch["id"])}
    assert [int(r["item_no"]) for r in rows] == list(range(len(lines)))
    for row, line in zip(rows, lines, strict=True):
        analysis = analyses[int(row["item_no"])]
        assert row["identifier"] == line["identifier"]
        assert float(row["buy_cost"]) == line["buy_cost"]
        assert row["status"] == "DONE" and row["failure_reason"] == ""
        assert row["analysis_id"] == analysis["id"]
        assert row["recommendation"] == analysis["recommendation"]
        assert _number(row["profit"]) == analysis["profit"]
        assert _number(row["roi_percent"]) == analysis["roi_percent"]
        assert _number(row["fees_total"]) == (analysis["fees"] or {}).get("total")
    assert rows[-1]["condition"] == "new"


async def test_failed_lines_are_exported_with_their_reason(seller: Seller, stack: Stack) -> None:
    """Keepa answers 503 until the client gives up: the lines fail with the stored reason."""
    async with httpx.AsyncClient(base_url=stack.keepa_base_url) as sim:
        (await sim.post("/_sim/faults", json={"status": 503, "count": 50})).raise_for_status()
        try:
            batch = await seller.submit(items_for(isbn10s(3, seed=32)))
            done = await seller.wait_terminal(batch["id"])
        finally:
            await sim.delete("/_sim/faults")
    assert (done["status"], done["items_failed"]) == ("FAILED", 3)
    failed = (
        await seller.get(f"/api/v1/batches/{batch['id']}/items", params={"status": "FAILED"})
    ).json()
    assert failed["total"] == 3
    assert [i["failure_reason"] for i in failed["items"]] == [UNAVAILABLE] * 3
    rows = _rows(await seller.get(f"/api/v1/batches/{batch['id']}/export"))
    assert [
        (r["status"], r["recommendation"], r["analysis_id"], r["failure_reason"]) for r in rows
    ] == [("FAILED", "", "", UNAVAILABLE)] * 3


async def test_keepa_refusing_the_account_is_not_told_to_the_seller(
    seller: Seller, stack: Stack
) -> None:
    """402 (the operator's Keepa subscription lapsed) for an instant analysis: a 503 that says
    to try again later, not what Keepa said about the account."""
    async with httpx.AsyncClient(base_url=stack.keepa_base_url) as sim:
        (await sim.post("/_sim/faults", json={"status": 402, "count": 1})).raise_for_status()
        try:
            answer = await seller.post(
                "/api/v1/analyses", json={"identifier": isbn10s(1, seed=33)[0], "buy_cost": 2.0}
            )
        finally:
            await sim.delete("/_sim/faults")
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == UNAVAILABLE
    assert "402" not in answer.text and "simulatedFault" not in answer.text


async def test_another_sellers_lines_and_export_are_404(
    seller: Seller, other_seller: Seller
) -> None:
    batch = await seller.submit(items_for([SAMPLE_BOOK]))
    await seller.wait_terminal(batch["id"])
    for path in (f"/api/v1/batches/{batch['id']}/items", f"/api/v1/batches/{batch['id']}/export"):
        theirs = await other_seller.get(path)
        assert theirs.status_code == 404, (path, theirs.text)
        assert theirs.headers["content-type"] == "application/problem+json"
        assert (await seller.get(path)).status_code == 200


def _rows(export: httpx.Response) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(export.text)))


def _number(cell: str) -> float | None:
    return float(cell) if cell else None


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = [
    "item_no", "identifier", "asin", "condition", "buy_cost", "quantity", "note", "status",
    "recommendation", "title", "sell_price", "price_basis", "fees_total", "profit", "roi_percent",
    "margin_percent", "max_buy_cost_for_target_roi", "velocity_score", "estimated_monthly_sales",
    "expected_days_to_sell", "sales_rank", "risk_flags", "summary", "failure_reason",
    "analysis_id",
]  # fmt: skip
INVENTORYLAB_COLUMNS = [
    "ASIN", "Title", "Cost/Unit", "List Price", "Quantity", "Purchased Date", "Supplier",
    "Condition", "Condition Notes",
]  # fmt: skip


@pytest.fixture(scope="module")
async def finished(stack: Stack) -> AsyncIterator[tuple[Seller, dict[str, Any], list[Any]]]:
    """One seller's finished batch (cheap copies, so that some lines are BUY), its lines with
    quantities and notes, and its analyses, shared by the format tests."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=120) as http:
        seller = await register(http)
        lines = [
            {"identifier": SAMPLE_BOOK, "buy_cost": 0.25, "quantity": 3, "note": "shelf 2, signed"},
            *items_for(isbn10s(24, seed=41), cost=0.5),
            {"identifier": SAMPLE_BOOK, "buy_cost": 9.0, "condition": "new"},
        ]
        batch = await seller.submit(lines, name="estate sale")
        assert (await seller.wait_terminal(batch["id"]))["status"] == "COMPLETED"
        analyses = sorted(await seller.all_analyses(batch["id"]), key=lambda a: a["item_no"])
        yield seller, batch, analyses


async def test_xlsx_export_is_typed_frozen_filtered_and_has_a_summary(
    finished: tuple[Seller, dict[str, Any], list[Any]],
) -> None:
    seller, batch, analyses = finished
    answer = await seller.get(f"/api/v1/batches/{batch['id']}/export", params={"format": "xlsx"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX
    assert f"batch-{batch['id']}.xlsx" in answer.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["Lines", "Summary"]
    sheet = book["Lines"]
    assert [c.value for c in sheet[1]] == COLUMNS
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:Y{len(analyses) + 1}"
    assert sheet.column_dimensions["J"].width >= 40  # title
    at = {name: n + 1 for n, name in enumerate(COLUMNS)}
    for row_no, analysis in enumerate(analyses, start=2):
        assert sheet.cell(row_no, at["item_no"]).value == analysis["item_no"]
        assert sheet.cell(row_no, at["status"]).value == "DONE"
        assert sheet.cell(row_no, at["recommendation"]).value == analysis["recommendation"]
        buy_cost = sheet.cell(row_no, at["buy_cost"])
        assert buy_cost.value == analysis["buy_cost"] and buy_cost.number_format == "#,##0.00"
        profit = sheet.cell(row_no, at["profit"])
        assert profit.value == analysis["profit"]
        if analysis["profit"] is not None:
            assert isinstance(profit.value, float | int)
            assert profit.number_format == "#,##0.00"
        roi = sheet.cell(row_no, at["roi_percent"])
        if analysis["roi_percent"] is None:
            assert roi.value is None
        else:
            assert roi.value == pytest.approx(analysis["roi_percent"] / 100)
            assert roi.number_format == "0.00%"
        rank = sheet.cell(row_no, at["sales_rank"]).value
        assert rank == analysis["sales_rank"] and not isinstance(rank, str)
    assert sheet.cell(2, at["quantity"]).value == 3
    assert sheet.cell(2, at["note"]).value == "shelf 2, signed"
    facts = {r[0].value: r[1].value for r in book["Summary"].iter_rows() if r[0].value}
    assert facts["Batch"] == "estate sale" and facts["Status"] == "COMPLETED"
    assert facts["Lines submitted"] == len(analyses)
    buys = [a for a in analyses if a["recommendation"] == "BUY"]
    assert facts["BUY lines"] == len(buys)
    assert facts["PASS lines"] == sum(a["recommendation"] == "PASS" for a in analyses)
    # The config the batch was analysed with (the defaults: version 0, balanced).
    assert facts["config_version"] == batch["config_version"]
    assert facts["strategy.name"] == "balanced"
    assert isinstance(facts["strategy.min_roi_percent"], float | int | str)


async def test_accept_header_chooses_the_format(
    finished: tuple[Seller, dict[str, Any], list[Any]],
) -> None:
    seller, batch, analyses = finished
    path = f"/api/v1/batches/{batch['id']}/export"
    as_xlsx = await seller.get(path, headers={"Accept": f"text/csv;q=0.4, {XLSX}"})
    assert as_xlsx.headers["content-type"] == XLSX
    assert openpyxl.load_workbook(io.BytesIO(as_xlsx.content))["Lines"].max_row == len(analyses) + 1
    as_csv = await seller.get(path, headers={"Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert len(_rows(as_csv)) == len(analyses)
    # `format` wins over Accept.
    both = await seller.get(path, params={"format": "csv"}, headers={"Accept": XLSX})
    assert both.headers["content-type"].startswith("text/csv")


async def test_filters_are_those_of_the_analyses_list(
    finished: tuple[Seller, dict[str, Any], list[Any]],
) -> None:
    seller, batch, analyses = finished
    path = f"/api/v1/batches/{batch['id']}/export"
    buys = [a["id"] for a in analyses if a["recommendation"] == "BUY"]
    assert buys, "the cheap copies should give some BUY lines"
    assert len(buys) < len(analyses)
    rows = _rows(await seller.get(path, params={"recommendation": "BUY"}))
    assert [r["analysis_id"] for r in rows] == buys
    assert {r["recommendation"] for r in rows} == {"BUY"}
    rois = sorted(a["roi_percent"] for a in analyses if a["roi_percent"] is not None)
    cut = rois[len(rois) // 2]
    listed = await seller.get(
        "/api/v1/analyses", params={"batch_id": batch["id"], "min_roi": cut, "size": 500}
    )
    expected = sorted(a["item_no"] for a in listed.json()["items"])
    rows = _rows(await seller.get(path, params={"min_roi": cut}))
    assert [int(r["item_no"]) for r in rows] == expected
    assert all(float(r["roi_percent"]) >= cut for r in rows)
    bad = await seller.get(path, params={"recommendation": "MAYBE"})
    assert bad.status_code == 422 and "recommendation" in bad.json()["detail"]
    unknown = await seller.get(path, params={"format": "pdf"})
    assert unknown.status_code == 422 and "format" in unknown.json()["detail"]
    misspelt = await seller.get(path, params={"min_roii": 5})
    assert misspelt.status_code == 422 and "min_roii" in misspelt.json()["detail"]


async def test_inventorylab_buy_list_of_the_buy_lines(
    finished: tuple[Seller, dict[str, Any], list[Any]],
) -> None:
    seller, batch, analyses = finished
    answer = await seller.get(
        f"/api/v1/batches/{batch['id']}/export", params={"format": "inventorylab"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "inventorylab" in answer.headers["content-disposition"]
    assert answer.text.splitlines()[0] == ",".join(INVENTORYLAB_COLUMNS)
    rows = _rows(answer)
    buys = [a for a in analyses if a["recommendation"] == "BUY"]
    assert [r["ASIN"] for r in rows] == [a["asin"] for a in buys]
    day = datetime.fromisoformat(batch["created_at"]).strftime("%m/%d/%Y")
    for row, analysis in zip(rows, buys, strict=True):
        assert row["Cost/Unit"] == f"{analysis['buy_cost']:.2f}"
        assert row["List Price"] == f"{analysis['sell_price']:.2f}"
        assert float(row["List Price"]) > 0
        assert (row["Purchased Date"], row["Supplier"]) == (day, "estate sale")
        assert row["Condition"] == ("New" if analysis["condition"] == "new" else "Used - Good")
        copies, note = (3, "shelf 2, signed") if analysis["item_no"] == 0 else (1, "")
        assert (row["Quantity"], row["Condition Notes"]) == (str(copies), note)
