"""Quantity per line, end to end: a batch line with 5 copies reads back with its quantity, note
and totals (profit of every copy, the cash they need, the days until all are sold), as stored by
the analysis service; a line without a quantity is one copy."""

from __future__ import annotations

import math

from tests.e2e.conftest import Seller

SAMPLE_BOOK = "0593655036"  # recorded Keepa product


async def test_a_line_of_five_copies_reads_back_with_its_totals(seller: Seller) -> None:
    lines = [
        {"identifier": SAMPLE_BOOK, "buy_cost": 2.0, "quantity": 5, "note": "shelf B, box 3"},
        {"identifier": SAMPLE_BOOK, "buy_cost": 2.0},
    ]
    batch = await seller.submit(lines, name="five of a kind")
    assert (await seller.wait_terminal(batch["id"]))["status"] == "COMPLETED"
    five, one = sorted(await seller.all_analyses(batch["id"]), key=lambda a: a["item_no"])

    assert (five["quantity"], five["note"]) == (5, "shelf B, box 3")
    assert (one["quantity"], one["note"]) == (1, None)
    assert five["profit"] == one["profit"]  # per copy: the same book at the same cost
    assert one["total_profit"] == one["profit"]
    # Later copies of the five wait longer for a buyer: at most their extra storage less.
    assert 5 * five["profit"] - 0.5 <= five["total_profit"] <= 5 * five["profit"] + 0.005
    # Cash before any sale: cost, tax, prep, inbound shipping and placement, five times.
    fees = five["fees"]
    per_copy = 2.0 + fees["sales_tax"] + fees["prep"] + fees["inbound_shipping"]
    per_copy += fees["inbound_placement_fee"]
    assert math.isclose(five["total_cash_needed"], round(5 * per_copy, 2), abs_tol=0.005)
    # Our share of sales: monthly sales / (competing offers + 1); all five sell in 5x the time
    # one copy takes (to the day, rounded up).
    share = five["monthly_sales_share"]
    assert share is not None and share > 0
    assert abs(five["days_to_sell_all"] - 30 * 5 / share) <= 1  # the share is shown rounded
    assert one["days_to_sell_all"] == one["expected_days_to_sell"]
    assert any(r["rule"] == "quantity_within_horizon" for r in five["reasons"])
    assert all(r["rule"] != "quantity_within_horizon" for r in one["reasons"])
    single = await seller.get(f"/api/v1/analyses/{five['id']}")
    assert single.status_code == 200
    assert (single.json()["quantity"], single.json()["total_profit"]) == (5, five["total_profit"])


async def test_an_instant_analysis_of_three_copies_has_per_unit_and_total_figures(
    seller: Seller,
) -> None:
    """POST /api/v1/analyses with `quantity`: the per-copy figures are those of one copy, the
    totals are for all three, and the stored analysis reads back the same."""
    book = {"identifier": SAMPLE_BOOK, "buy_cost": 2.0}
    one_r = await seller.post("/api/v1/analyses", json=book)
    three_r = await seller.post("/api/v1/analyses", json={**book, "quantity": 3, "note": "till"})
    assert one_r.status_code == 201, one_r.text
    assert three_r.status_code == 201, three_r.text
    one, three = one_r.json(), three_r.json()
    assert (one["batch_id"], three["batch_id"]) == (None, None)
    assert (one["quantity"], three["quantity"], three["note"]) == (1, 3, "till")

    # Per copy: the same book, cost and market, so the same price, fees, profit and ROI.
    for field in ("sell_price", "profit", "roi_percent", "expected_days_to_sell", "fees"):
        assert three[field] == one[field], field
    assert three["profit"] is not None
    # One copy: its totals are its own figures.
    assert one["total_profit"] == one["profit"]
    assert one["days_to_sell_all"] == one["expected_days_to_sell"]
    # Three: at most three times one copy's profit, less only the later copies' extra storage.
    assert 3 * three["profit"] - 0.5 <= three["total_profit"] <= 3 * three["profit"] + 0.005
    # Cash paid before any sale, per copy: cost, tax, prep, inbound shipping, placement.
    fees = three["fees"]
    per_copy = 2.0 + fees["sales_tax"] + fees["prep"] + fees["inbound_shipping"]
    per_copy += fees["inbound_placement_fee"]
    assert math.isclose(one["total_cash_needed"], round(per_copy, 2), abs_tol=0.005)
    assert math.isclose(three["total_cash_needed"], round(3 * per_copy, 2), abs_tol=0.005)
    # All three sell at our share of monthly sales (sales / (offers + 1)): 3 x 30 / share days.
    share = three["monthly_sales_share"]
    assert share is not None and share > 0 and share == one["monthly_sales_share"]
    assert abs(three["days_to_sell_all"] - 30 * 3 / share) <= 1  # the share is shown rounded
    assert three["days_to_sell_all"] >= one["days_to_sell_all"]

    stored = await seller.get(f"/api/v1/analyses/{three['id']}")
    assert stored.status_code == 200
    for field in ("quantity", "note", "total_profit", "total_cash_needed", "days_to_sell_all"):
        assert stored.json()[field] == three[field], field


async def test_an_instant_analysis_refuses_a_quantity_below_one(seller: Seller) -> None:
    answer = await seller.post(
        "/api/v1/analyses", json={"identifier": SAMPLE_BOOK, "buy_cost": 2.0, "quantity": 0}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "quantity" in answer.text
