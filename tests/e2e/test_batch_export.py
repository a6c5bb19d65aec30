"""A batch's lines and its spreadsheet export: every submitted line, in order, with its analysis
or the reason it failed; another seller's batch is a 404 like everywhere else."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from devstack.stack import Stack
from tests.e2e.conftest import Seller
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
