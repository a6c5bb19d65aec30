"""Analyses stored by older engines still read as the API shows them.

Rows written before engine 2026.12.5 (migration 0004_quantity_bands) have no quantity, note or
totals of their own: the migration gives `quantity` its server default 1 and leaves the totals
NULL, and their `result` documents have no `quantity`, `total_profit`, `total_cash_needed`,
`days_to_sell_all`, `monthly_sales_share`, `sellable_within_horizon` or `season`, and no `band`
in their reasons. Before 2026.12.3 the fee breakdown had no `inbound_placement_fee` or
`inbound_placement`, and the schedule ids were the retired `us-fba-2026-01-15` /
`us-fba-2026-04-17`. The documents below are written out as those engines wrote them
(analysis_to_json of the time; the changelog is in domain/analysis.py)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from analysis_testkit import AS_OF_2026_05, TYPICAL_COSTS, item, load_product

from analysis_service.api.views import analysis_view
from analysis_service.domain import analyse, parse_keepa_product, strategy_preset
from analysis_service.domain.fees import schedule_by_id
from analysis_service.domain.serialization import (
    analysis_to_json,
    market_snapshot_from_json,
    market_snapshot_to_json,
)
from av_shared.views import AnalysisView

D = Decimal
CREATED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)

# The fee breakdown of a used copy sold at $20.35 in May 2026 (engine 2026.12.1): referral 15%
# x 20.35 = 3.0525 -> 3.05; closing 1.80; 2026 large standard 1.25-1.5 lb $5.42 + 3.5% 0.19 =
# 5.61; storage 0.03; inbound 0.66; prep 0.25; total 3.05 + 1.80 + 5.61 + 0.03 + 0.66 + 0.25
# = 11.40; profit 20.35 - 11.40 - 5.00 = 3.95 (the "BUY at +$3.95").
FEES_2026_12_1: dict[str, Any] = {
    "referral_fee": 3.05, "closing_fee": 1.8, "fulfillment_fee": 5.61, "storage_fee": 0.03,
    "inbound_shipping": 0.66, "prep": 0.25, "sales_tax": 0.0, "total": 11.4,
    "keepa_pick_and_pack_fee": 5.68, "fuel_surcharge": 0.19, "amazon_fees": 10.49,
    "seller_costs": 0.91, "fulfillment_basis": "rate_card", "size_tier": "large_standard",
    "price_band": "10_to_50", "billable_weight_lb": 1.32, "storage_days": 26,
}  # fmt: skip
REASONS_2026_12_1: list[dict[str, Any]] = [
    {"rule": "min_profit", "threshold": ">= $3.00", "actual": "$3.95", "passed": True,
     "message": ""},
    {"rule": "min_roi", "threshold": ">= 35%", "actual": "79.0%", "passed": True, "message": ""},
]  # fmt: skip


def result_2026_12_1() -> dict[str, Any]:
    """A `result` as engine 2026.12.1 stored it: no placement, bands, quantity, totals, season."""
    return {
        "outcome": "analysed", "recommendation": "BUY", "summary": "BUY: +$3.95 (79.0% ROI)",
        "asin": "0593655036", "identifier": "0593655036", "condition": "used",
        "buy_cost": 5.0, "sell_price": 20.35, "price_basis": "lowest_fba_used",
        "fees": copy.deepcopy(FEES_2026_12_1), "profit": 3.95, "roi_percent": 79.0,
        "margin_percent": 19.41, "break_even_buy_cost": 8.95, "max_buy_cost_for_target_roi": 6.96,
        "velocity_score": 97, "estimated_monthly_sales": 45.0, "sales_estimate_basis": "stats",
        "expected_days_to_sell": 18, "sales_rank": 44, "competing_offers": 24,
        "competing_fba_offers": 9, "risk_flags": [], "reasons": copy.deepcopy(REASONS_2026_12_1),
        "engine_version": "2026.12.1", "fee_schedule_id": "us-fba-2026-04-17",
        "fee_schedule": {"id": "us-fba-2026-04-17", "effective_from": "2026-04-17",
                         "source": "2026-01-15 rate card plus the 3.5% fuel and logistics "
                                   "surcharge from 2026-04-17"},
        "as_of": "2026-05-01T00:00:00+00:00", "strategy": {}, "seller_costs": {},
    }  # fmt: skip


def result_2026_12_4() -> dict[str, Any]:
    """Engine 2026.12.3-.4: the placement fee and option in the fees, the -r2 schedule ids; still
    no band in the reasons, no quantity, totals or season. Placement: Amazon-optimized, $0.00."""
    result = result_2026_12_1()
    result["fees"].update(inbound_placement_fee=0.0, inbound_placement="amazon_optimized")
    result["engine_version"] = "2026.12.4"
    result["fee_schedule_id"] = result["fee_schedule"]["id"] = "us-fba-2026-04-17-r2"
    result["priced_from_history"] = False
    return result


def row(result: dict[str, Any], *, migrated: bool) -> dict[str, Any]:
    """An analyses row: `migrated` as read after 0004_quantity_bands (quantity 1 from the server
    default, note and totals NULL); otherwise as read before it (no such columns at all)."""
    stored: dict[str, Any] = {
        "id": uuid.UUID(int=7), "owner_id": uuid.UUID(int=1), "batch_id": uuid.UUID(int=2),
        "item_no": 3, "request_id": None, "identifier": result["identifier"],
        "asin": result["asin"], "buy_cost": D("5.00"), "condition": result["condition"],
        "outcome": result["outcome"], "recommendation": result["recommendation"],
        "sell_price": D(str(result["sell_price"])), "profit": D(str(result["profit"])),
        "roi_percent": D(str(result["roi_percent"])), "velocity_score": result["velocity_score"],
        "sales_rank": result["sales_rank"], "title": "The sample book", "result": result,
        "config": {}, "market_snapshot_id": 41, "engine_version": result["engine_version"],
        "fee_schedule_id": result["fee_schedule_id"], "processed_by": "analysis-1",
        "created_at": CREATED,
    }  # fmt: skip
    if migrated:
        stored.update(quantity=1, note=None, total_profit=None, total_cash_needed=None,
                      days_to_sell_all=None)  # fmt: skip
    return stored


OLD_RESULTS = [
    pytest.param(result_2026_12_1, id="2026.12.1"),
    pytest.param(result_2026_12_4, id="2026.12.4"),
]


@pytest.mark.parametrize("migrated", [True, False], ids=["after-0004", "before-0004"])
@pytest.mark.parametrize("make", OLD_RESULTS)
def test_an_old_analysis_reads_as_the_api_shows_it(make: Any, migrated: bool) -> None:
    result = make()
    view = analysis_view(row(result, migrated=migrated))
    AnalysisView.model_validate(view)  # the API's own model: what the gateway validates
    # One copy, no note, no totals, no season.
    assert view["quantity"] == 1
    assert view["note"] is None
    for total in ("total_profit", "total_cash_needed", "days_to_sell_all",
                  "monthly_sales_share", "sellable_within_horizon", "season"):  # fmt: skip
        assert view[total] is None, total
    # The figures the old engine decided, unchanged: the +$3.95 BUY at $20.35 stays what it was.
    assert (view["recommendation"], view["sell_price"], view["profit"]) == ("BUY", 20.35, 3.95)
    assert (view["roi_percent"], view["expected_days_to_sell"]) == (79.0, 18)
    assert (view["engine_version"], view["fee_schedule"]) == (
        result["engine_version"], result["fee_schedule_id"])  # fmt: skip
    assert view["buy_cost"] == 5.0 and view["created_at"] == "2026-11-20T09:30:00Z"
    # Reasons without a band: band null, the rest as stored.
    assert [r["band"] for r in view["reasons"]] == [None, None]
    assert [(r["rule"], r["actual"], r["passed"]) for r in view["reasons"]] == [
        ("min_profit", "$3.95", True), ("min_roi", "79.0%", True)]  # fmt: skip
    fees = view["fees"]
    assert (fees["total"], fees["fulfillment_fee"], fees["referral_fee"]) == (11.4, 5.61, 3.05)
    if result["engine_version"] == "2026.12.1":  # no placement fee modelled: null, not 0
        assert (fees["inbound_placement_fee"], fees["inbound_placement"]) == (None, None)
    else:
        assert (fees["inbound_placement_fee"], fees["inbound_placement"]) == (
            0.0, "amazon_optimized")  # fmt: skip


def test_an_old_analysis_without_fees_reads() -> None:
    """A no-market-data line of engine 2026.12.1: no fees, no price, no figures."""
    result = result_2026_12_1()
    result.update(outcome="no_market_data", recommendation="PASS", fees=None, sell_price=None,
                  price_basis=None, profit=None, roi_percent=None, margin_percent=None,
                  break_even_buy_cost=None, max_buy_cost_for_target_roi=None,
                  velocity_score=None, estimated_monthly_sales=None, expected_days_to_sell=None,
                  sales_rank=None, reasons=[], summary="")  # fmt: skip
    stored = row({**result, "sell_price": 0, "profit": 0, "roi_percent": 0}, migrated=True)
    stored["result"] = result
    view = analysis_view(stored)
    AnalysisView.model_validate(view)
    assert (view["outcome"], view["fees"], view["profit"], view["quantity"]) == (
        "no_market_data", None, None, 1)  # fmt: skip


def test_the_schedule_an_old_analysis_names_still_resolves() -> None:
    """The retired ids of engines before 2026.12.3 name the cards they used: the stored fees
    can still be checked against the schedule (5.42 + 3.5% = 5.61 above)."""
    old = schedule_by_id(result_2026_12_1()["fee_schedule_id"])
    assert (old.id, old.fuel_surcharge_percent, old.small_bulky, old.inbound_placement) == (
        "us-fba-2026-04-17", D("3.5"), None, None)  # fmt: skip
    assert [b.fees.from_10_to_50 for b in old.large_standard][5] == D("5.42")  # 1.25-1.5 lb
    assert schedule_by_id(result_2026_12_4()["fee_schedule_id"]).id == "us-fba-2026-04-17-r2"


# --- the engine's stored-document reader: market snapshots ---------------------------------
OFFERS = "product-0593655036-offers.json"


def test_a_snapshot_stored_before_the_ladders_and_season_reads_and_reruns() -> None:
    """market_snapshot_from_json on a snapshot of engine 2026.12.1-.4: no FBA offer ladders, no
    season (2026.12.5), no keepa_says_book. It reads with those as None / from the usability,
    and re-running the engine on it gives the same answer as the snapshot it came from with
    those fields empty."""
    snapshot = parse_keepa_product(load_product(OFFERS))
    stored = market_snapshot_to_json(snapshot)
    for newer in ("fba_offer_prices_new", "fba_offer_prices_used", "season", "keepa_says_book"):
        stored.pop(newer, None)
    old = market_snapshot_from_json(stored)
    assert (old.fba_offer_prices_new, old.fba_offer_prices_used, old.season) == (None, None, None)
    assert old.keepa_says_book is True  # usability "usable": decided a book then
    assert (old.asin, old.usability, old.lowest_offers) == (
        snapshot.asin, snapshot.usability, snapshot.lowest_offers)  # fmt: skip
    rerun = analyse(item("0593655036", "5.00"), old, strategy_preset("balanced"), TYPICAL_COSTS,
                    as_of=AS_OF_2026_05)  # fmt: skip
    document = analysis_to_json(rerun)
    assert document["quantity"] == 1 and document["outcome"] == "analysed"
    # A fresh document of today's engine reads through the same view as the old ones.
    fresh = row(document, migrated=True)
    AnalysisView.model_validate(analysis_view(fresh))


def test_a_not_a_book_snapshot_of_before_keepa_says_book_stays_not_a_book() -> None:
    stored = market_snapshot_to_json(parse_keepa_product(load_product(OFFERS)))
    stored.pop("keepa_says_book", None)
    stored["usability"] = "not_a_book"
    assert market_snapshot_from_json(stored).keepa_says_book is False
