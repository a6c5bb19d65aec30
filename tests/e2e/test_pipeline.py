"""The pipeline end to end: gateway → Kafka → batch and analysis services → results over HTTP."""

from __future__ import annotations

import asyncio
import uuid

from av_shared.identifiers import isbn10_to_isbn13
from devstack.stack import Stack
from tests.e2e.conftest import Seller
from tests.helpers import admin_fetch, admin_value, isbn10s, items_for

SAMPLE_BOOK = "0593655036"  # recorded Keepa product (The Anxious Generation)


async def test_batch_completes_with_one_analysis_per_line(seller: Seller) -> None:
    lines = [
        {"identifier": SAMPLE_BOOK, "buy_cost": 3.5},
        {"identifier": isbn10_to_isbn13(SAMPLE_BOOK), "buy_cost": 2.0, "condition": "new"},
        {"identifier": SAMPLE_BOOK, "buy_cost": 9.0},  # a second copy, bought dearer
        *items_for(isbn10s(20, seed=1)),
    ]
    batch = await seller.submit(lines, name="library sale")
    assert batch["status"] == "PENDING" and batch["items_total"] == len(lines)
    done = await seller.wait_terminal(batch["id"])
    assert done["status"] == "COMPLETED"
    assert done["items_processed"] + done["items_failed"] == len(lines)
    assert done["finished_at"] is not None and done["started_at"] is not None
    analyses = await seller.all_analyses(batch["id"])
    assert sorted(a["item_no"] for a in analyses) == list(range(len(lines)))
    by_line = {a["item_no"]: a for a in analyses}
    # The same book costs the same to sell; a dearer copy earns exactly the difference less.
    assert by_line[0]["asin"] == by_line[2]["asin"] == SAMPLE_BOOK
    assert round(by_line[0]["profit"] - by_line[2]["profit"], 2) == 5.5
    assert by_line[1]["condition"] == "new"
    for analysis in analyses:
        assert analysis["recommendation"] in ("BUY", "WATCH", "PASS")
        assert analysis["reasons"], analysis


async def test_rejected_batch_leaves_no_trace(seller: Seller, stack: Stack) -> None:
    count_sql = (
        "SELECT (SELECT count(*) FROM gateway.submissions) + (SELECT count(*) FROM gateway.outbox)"
    )
    before = await admin_value(stack.admin_url, count_sql)
    response = await seller.post(
        "/api/v1/batches",
        json={
            "name": "bad",
            "items": [
                {"identifier": SAMPLE_BOOK, "buy_cost": 1},
                {"identifier": "0593655037", "buy_cost": 1},
            ],
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["field"] == "items[1].identifier"
    assert "check digit" in problem["errors"][0]["message"]
    assert await admin_value(stack.admin_url, count_sql) == before


async def test_cancel_mid_batch_then_conflict(seller: Seller, stack: Stack) -> None:
    batch = await seller.submit(items_for(isbn10s(3000, seed=2)), name="big haul")
    cancel = await seller.patch(
        f"/api/v1/batches/{batch['id']}/status", json={"status": "CANCELLED"}
    )
    assert cancel.status_code == 202, cancel.text
    done = await seller.wait_terminal(batch["id"])
    assert done["status"] == "CANCELLED"
    again = await seller.patch(
        f"/api/v1/batches/{batch['id']}/status", json={"status": "CANCELLED"}
    )
    assert again.status_code == 409
    # The analysis service skips the chunks it had not started: far fewer than 3,000 analyses.
    await asyncio.sleep(3)
    stored = await admin_value(
        stack.admin_url,
        "SELECT count(*) FROM analysis.analyses WHERE batch_id = $1",
        uuid.UUID(batch["id"]),
    )
    assert stored < 3000


async def test_ten_thousand_items_complete_shared_by_two_instances(
    seller: Seller, stack: Stack
) -> None:
    batch = await seller.submit(items_for(isbn10s(10_000, seed=3)), name="wholesale list")
    done = await seller.wait_terminal(batch["id"], timeout=300)
    assert done["status"] == "COMPLETED"
    assert done["items_processed"] + done["items_failed"] == 10_000
    rows = await admin_fetch(
        stack.admin_url,
        "SELECT processed_by, count(*) AS n, count(DISTINCT item_no) AS distinct_items "
        "FROM analysis.analyses WHERE batch_id = $1 GROUP BY processed_by",
        uuid.UUID(batch["id"]),
    )
    assert sum(r["n"] for r in rows) == done["items_processed"]
    assert sum(r["distinct_items"] for r in rows) == done["items_processed"]  # each once
    assert {r["processed_by"] for r in rows} == {"analysis-0", "analysis-1"}


async def test_other_sellers_batches_and_analyses_are_invisible(
    seller: Seller, other_seller: Seller
) -> None:
    batch = await seller.submit(items_for([SAMPLE_BOOK]))
    await seller.wait_terminal(batch["id"])
    [analysis] = await seller.all_analyses(batch["id"])
    assert (await other_seller.get(f"/api/v1/batches/{batch['id']}")).status_code == 404
    assert (await other_seller.get(f"/api/v1/analyses/{analysis['id']}")).status_code == 404
    cancel = await other_seller.patch(
        f"/api/v1/batches/{batch['id']}/status", json={"status": "CANCELLED"}
    )
    assert cancel.status_code == 404
    listed = (await other_seller.get("/api/v1/analyses", params={"batch_id": batch["id"]})).json()
    assert listed["total"] == 0
    ids = [b["id"] for b in (await other_seller.get("/api/v1/batches")).json()["items"]]
    assert batch["id"] not in ids


async def test_instant_analysis_answers_with_the_stored_result(seller: Seller) -> None:
    response = await seller.post(
        "/api/v1/analyses", json={"identifier": SAMPLE_BOOK, "buy_cost": 4.0, "condition": "used"}
    )
    assert response.status_code == 201, response.text
    analysis = response.json()
    assert analysis["batch_id"] is None and analysis["asin"] == SAMPLE_BOOK
    stored = await seller.get(f"/api/v1/analyses/{analysis['id']}")
    assert stored.json() == analysis
