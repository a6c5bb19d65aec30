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
