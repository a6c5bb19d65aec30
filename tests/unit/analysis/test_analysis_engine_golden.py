"""Golden analyses of the recorded samples, worked out by hand from the raw JSON.

Book: product-0593655036-offers.json, package 599 g (1.3206 lb), 244 x 166 x 36 mm
(9.61 x 6.54 x 1.42 in: thicker than 0.75 in, so large standard; dimensional weight
9.61 x 6.54 x 1.42 / 139 = 0.64 lb < 1.32 lb, so billed at 1.32 lb, the 1.25-1.5 lb band).
Seller: $5.00 buy cost, $0.50/lb inbound, $0.25 prep, no sales tax; balanced strategy.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from analysis_testkit import AS_OF_2026_05, TYPICAL_COSTS, item, load_product, product_copy

from analysis_service.domain import (
    ENGINE_VERSION,
    InboundPlacement,
    ItemToAnalyse,
    Recommendation,
    SellerCosts,
    analyse,
    analysis_to_json,
    keepa_minutes_to_datetime,
    parse_keepa_product,
    strategy_preset,
)

D = Decimal
OFFERS = "product-0593655036-offers.json"
BALANCED = strategy_preset("balanced")


def test_used_copy_of_the_offers_sample() -> None:
    """Engine 2026.12.1 sold this copy at the lowest FBA used offer, $20.35, a BUY at +$3.95:
    above both what used copies have been selling for and what a new copy costs. Now:"""
    market = parse_keepa_product(load_product(OFFERS))
    a = analyse(item("0593655036", "5.00"), market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    assert a.outcome == "analysed"
    # No used buy box (stats.current[32] = -1); the lowest live FBA used offer is offers[542],
    # newest offerCSV triple [7792720, 2035, 0]: $20.35. The used buy box averaged
    # stats.avg30[32] = 1481 and avg90[32] = 1486 cents: the lower, $14.81, holds the one high
    # offer down. (New landed: min(buy box current[18] 1523, Amazon current[0] 1523, FBA new
    # current[10] 1521, FBM new with shipping current[7] 1522) = $15.21, above $14.81.)
    assert (a.sell_price, a.price_basis) == (D("14.81"), "avg30_buy_box_used")
    assert not a.priced_from_history  # 24 live used offers: a current offer, held down
    assert a.fee_schedule_id == "us-fba-2026-04-17-r2"  # 2026-05-01: fuel surcharge in force
    fees = a.fees
    assert fees is not None
    assert fees.referral_fee == D("2.22")  # 15% x 14.81 = 2.2215
    assert fees.closing_fee == D("1.80")
    # 2026 large standard 1.25-1.5 lb, $10-$50 band: $5.42 + 3.5% (0.19)
    assert fees.fulfillment_fee == D("5.61")
    assert fees.fuel_surcharge == D("0.19")
    assert fees.keepa_pick_and_pack_fee == D("5.68")  # fbaFees.pickAndPackFee, recorded beside
    # 0.0515 cu ft x $0.78 (May, off-peak) x 26/31 of a month
    assert (fees.storage_fee, fees.storage_days) == (D("0.03"), 26)
    assert fees.inbound_shipping == D("0.66")  # 1.3206 lb x $0.50
    assert (fees.prep, fees.sales_tax) == (D("0.25"), D("0.00"))
    # Amazon-optimized splits (the default placement option): no placement fee
    assert (fees.inbound_placement_fee, fees.inbound_placement) == (D("0.00"), "amazon_optimized")
    assert fees.total == D("10.57")  # 2.22 + 1.80 + 5.61 + 0.03 + 0.66 + 0.25
    assert a.profit == D("-0.76")  # 14.81 - 10.57 - 5.00
    assert a.roi_percent == D("-12.86")  # -0.76 / (5.00 + 0.66 + 0.25)
    assert a.margin_percent == D("-5.13")  # -0.76 / 14.81
    assert a.break_even_buy_cost == D("4.24")  # 14.81 - 9.66 Amazon fees - 0.91 inbound/prep
    # Rank 63: the balanced band rank <= 100,000 wants 25% ROI (engine 2026.12.5; 30% before)
    assert a.max_buy_cost_for_target_roi == D("3.21")  # (5.15 - 1.25 x 0.91) / 1.25
    # stats.salesRankDrops30 = 45 -> 45 sales/month; 38 used offers (current[12]) + ours share it
    assert (a.estimated_monthly_sales, a.sales_estimate_basis) == (D(45), "sales_rank_drops30")
    assert a.expected_days_to_sell == 26  # ceil(30 x 39 / 45)
    assert a.velocity_score == 55  # 100 x log10(46) / log10(1001)
    assert a.sales_rank == 63
    # Only 24 of the 38 used offers Keepa counts came in `offers` (Keepa returns the number
    # requested), so how many of the used offers are FBA is unknown: 3 among those that came.
    # All 38 would exceed the 15 limit, so the rule is not checked (None).
    assert a.competing_fba_offers is None
    assert a.recommendation is Recommendation.PASS  # it loses money
    # stats.buyBoxStats["ATVPDKIKX0DER"].percentageWon = 98.92593: Amazon held the new buy box
    # 98.93% of the window, above the balanced 50% limit (it would be a WATCH, were it not a PASS).
    # Engine 2026.12.5: the rank band comes first (rank 63: balanced's rank <= 100,000 band).
    assert [(r.rule, r.passed) for r in a.reasons] == [
        ("rank_band", True),
        ("min_profit", False), ("min_roi_percent", False), ("min_velocity_score", True),
        ("max_sales_rank", True), ("max_competing_fba_offers", None),
        ("max_amazon_buy_box_percent", False), ("current_offer", True),
        ("used_at_most_recent_buy_box", True),
    ]  # fmt: skip
    fba_rule, amazon, offered, held_down = a.reasons[5:9]
    assert (amazon.threshold, amazon.actual) == ("<= 50%", "98.93%")
    assert fba_rule.actual == "unknown" and "38 offers" in fba_rule.message
    assert offered.actual == "$20.35" and "lowest FBA used offer" in offered.message
    assert held_down.threshold == "<= $14.81 (the used buy box's 30-day average)"
    assert "not $20.35, the lowest FBA used offer" in held_down.message
    # Amazon sells it (current[0] 1523); 90-day used spread 0.81; data from October 2025.
    assert a.risk_flags == (
        "amazon_on_listing", "volatile_price", "stale_data", "competition_unknown"
    )  # fmt: skip
    assert a.engine_version == ENGINE_VERSION == "2026.12.5"


def test_used_copy_without_a_used_buy_box_history_is_held_to_the_new_price() -> None:
    """The issue's case: without the used buy box's averages the $20.35 FBA used offer is all
    there is, and a new copy sells for less."""
    product = product_copy(OFFERS)
    product["stats"]["avg30"][32] = product["stats"]["avg90"][32] = -1  # no used buy box history
    market = parse_keepa_product(product)
    a = analyse(item("0593655036", "5.00"), market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    # New landed: min(buy box new current[18] 1523, Amazon current[0] 1523, lowest landed new
    # min(current[7] 1522, current[10] 1521, current[0] 1523) 1521, FBA new current[10] 1521,
    # lowest new offer offers[722] [7793516, 1521, 0]) = $15.21
    assert (a.sell_price, a.price_basis) == (D("15.21"), "capped_at_new")
    fees = a.fees
    assert fees is not None
    # 15% x 15.21 = 2.2815; storage 0.0515 cu ft x $0.78 x 26/31; the rest as above
    assert (fees.referral_fee, fees.storage_fee, fees.total) == (D("2.28"), D("0.03"), D("10.63"))
    assert a.profit == D("-0.42")  # 15.21 - 10.63 - 5.00: the "about -$0.40"
    assert a.recommendation is Recommendation.PASS
    [cap] = [r for r in a.reasons if r.rule == "used_at_most_new"]
    assert (cap.passed, cap.actual) == (True, "$15.21")
    assert cap.threshold == "<= $15.21 (the lowest new offer with its shipping)"
    assert "not $20.35, the lowest FBA used offer" in cap.message
    assert "no one buys a used copy for more than a new one" in cap.message


def test_new_copy_of_the_offers_sample_loses_money() -> None:
    market = parse_keepa_product(load_product(OFFERS))
    a = analyse(
        item("0593655036", "5.00", "new"), market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05
    )
    assert (a.sell_price, a.price_basis) == (D("15.23"), "buy_box_new")  # stats.current[18]
    assert a.fees is not None and a.fees.referral_fee == D("2.28")  # 15% x 15.23 = 2.2845
    assert a.profit == D("-0.41")
    assert a.recommendation is Recommendation.PASS
    failed = [r.rule for r in a.reasons if not r.passed]
    # and Amazon held the buy box 98.93% of the time (see the used copy's test)
    assert failed == ["min_profit", "min_roi_percent", "max_amazon_buy_box_percent"]

    # --- in full, from the raw JSON ------------------------------------------------------
    # as_of 2026-05-01: us-fba-2026-04-17-r2. Package 244 x 166 x 36 mm, 599 g (as in the
    # envelope): 1.32 lb large standard, 1.25-1.5 lb, $10-$50: $5.42 + 0.19 (3.5%) = $5.61.
    # Sales stats.salesRankDrops30 = 45; score round(100 x log10(46) / log10(1001)) = 55.
    # Rank stats.current[3] = 63: band "rank <= 100,000" ($2.00, 25%). New offers
    # stats.current[11] = 41: days ceil(30 x 42 / 45) = 28. Storage 0.05165 cu ft x $0.78 x
    # 28/31 = 0.0364 -> 0.04. FBA new offers: stats.offerCountFBA 4 (the live isFBA new offers).
    fees = a.fees
    assert a.fee_schedule_id == "us-fba-2026-04-17-r2"
    assert (fees.closing_fee, fees.fulfillment_fee, fees.fuel_surcharge) == (
        D("1.80"), D("5.61"), D("0.19"))  # fmt: skip
    assert fees.keepa_pick_and_pack_fee == D("5.68")  # fbaFees.pickAndPackFee 568 (peak day)
    assert (fees.storage_fee, fees.storage_days) == (D("0.04"), 28)
    assert (fees.inbound_shipping, fees.prep, fees.sales_tax) == (D("0.66"), D("0.25"), D(0))
    assert (fees.inbound_placement_fee, fees.inbound_placement) == (D(0), "amazon_optimized")
    assert fees.total == D("10.64")  # 2.28 + 1.80 + 5.61 + 0.04 + 0.66 + 0.25
    # profit 15.23 - 10.64 - 5.00 = -0.41; cash per copy 5.00 + 0.66 + 0.25 = 5.91;
    # ROI -0.41 / 5.91 = -6.94%; margin -0.41 / 15.23 = -2.69%; break-even 15.23 - 10.64 =
    # 4.59; for the band's 25%: (4.59 - 0.2275) / 1.25 = 3.49.
    assert (a.roi_percent, a.margin_percent) == (D("-6.94"), D("-2.69"))
    assert (a.break_even_buy_cost, a.max_buy_cost_for_target_roi) == (D("4.59"), D("3.49"))
    assert (a.estimated_monthly_sales, a.sales_estimate_basis) == (D(45), "sales_rank_drops30")
    assert (a.velocity_score, a.expected_days_to_sell, a.sales_rank) == (55, 28, 63)
    assert (a.competing_offers, a.competing_fba_offers) == (41, 4)
    assert {r.band for r in a.reasons} == {"rank <= 100,000"}
    [fba] = [r for r in a.reasons if r.rule == "max_competing_fba_offers"]
    assert (fba.actual, fba.passed) == ("4", True)  # 4 <= 15


def test_amazon_holding_the_buy_box_makes_a_profitable_new_copy_a_watch() -> None:
    """Issue 12 item 4: at $1.00 the new copy makes money, but Amazon holds the buy box."""
    market = parse_keepa_product(load_product(OFFERS))
    # stats.buyBoxStats lists 9 sellers; "ATVPDKIKX0DER" (Amazon) has percentageWon 98.92593,
    # the next (A2M70HDXL9YHS) 0.39969137; stats.buyBoxIsAmazon true, buyBoxSellerId Amazon.
    assert market.amazon_buy_box_percent == D("98.93")
    a = analyse(
        item("0593655036", "1.00", "new"), market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05
    )
    assert a.profit == D("3.59")  # the $5.00 case's -0.41, $4.00 less paid
    assert [r.rule for r in a.reasons if r.passed is False] == ["max_amazon_buy_box_percent"]
    assert a.recommendation is Recommendation.WATCH
    [amazon] = [r for r in a.reasons if r.rule == "max_amazon_buy_box_percent"]
    assert (amazon.threshold, amazon.actual) == ("<= 50%", "98.93%")
    assert "exceeds the 50% limit" in amazon.message
    # With the limit off the same copy is a BUY: the rule is what held it back.
    off = replace(BALANCED, max_amazon_buy_box_percent=None)
    b = analyse(item("0593655036", "1.00", "new"), market, off, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    assert b.recommendation is Recommendation.BUY


def test_fee_schedule_follows_as_of() -> None:
    market = parse_keepa_product(load_product(OFFERS))
    when = datetime(2025, 10, 26, 4, 0, tzinfo=UTC)  # the day the sample was recorded
    a = analyse(item("0593655036", "5.00"), market, BALANCED, TYPICAL_COSTS, as_of=when)
    assert a.fee_schedule_id == "us-fba-peak-2025-10-15"
    assert a.fees is not None
    assert a.fees.fulfillment_fee == D("5.68")  # the holiday peak rate: see the next test
    assert "stale_data" not in a.risk_flags
    february = datetime(2026, 2, 1, tzinfo=UTC)  # 2026 card, before the fuel surcharge
    later = analyse(item("0593655036", "5.00"), market, BALANCED, TYPICAL_COSTS, as_of=february)
    assert later.fee_schedule_id == "us-fba-2026-01-15-r2"
    assert later.fees is not None and later.fees.fulfillment_fee == D("5.42")


@pytest.mark.parametrize(
    ("sample", "schedule_id", "fee"),
    [
        # fbaFees {lastUpdate 7775032, pickAndPackFee 537}: 2025-10-13 07:52 UTC, two days
        # before the peak: the 2024 card (in force through 2026-01-14), $5.37.
        ("envelope-0593655036.json", "us-fba-2025-02-20", "5.37"),
        # fbaFees {lastUpdate 7793508, pickAndPackFee 568}: 2025-10-26 03:48 UTC, in the
        # 2025-26 holiday peak: $5.37 + the 1.25-1.5 lb band's $0.31 peak increase = $5.68.
        ("product-0593655036-offers.json", "us-fba-peak-2025-10-15", "5.68"),
    ],
)
def test_engine_agrees_with_keepa_pick_and_pack_on_the_day_keepa_collected_it(
    sample: str, schedule_id: str, fee: str
) -> None:
    """Both samples: packageWeight 599 g = 1.3206 lb -> 1.32 lb; 244 x 166 x 36 mm = 9.61 x
    6.54 x 1.42 in. Thicker than 0.75 in: not small standard; within 18 x 14 x 8 in and 20 lb:
    large standard. Dimensional weight 9.61 x 6.54 x 1.42 / 139 = 0.64 lb < 1.32 lb, so billed
    at 1.32 lb = 21.12 oz, the 1.25-1.5 lb (20-24 oz) band. Price band $10-$50 (buy box new
    $16.98 in the envelope, used sale price $14.81 / new $15.23 in the offers sample). No fuel
    surcharge in 2025, no placement fee with Amazon-optimized splits."""
    product = load_product(sample)
    collected = keepa_minutes_to_datetime(product["fbaFees"]["lastUpdate"])
    market = parse_keepa_product(product)
    assert market.keepa_pick_and_pack_fee == D(product["fbaFees"]["pickAndPackFee"]) / 100
    for condition in ("new", "used"):
        a = analyse(item("0593655036", "5.00", condition), market, BALANCED, TYPICAL_COSTS,
                    as_of=collected)  # fmt: skip
        assert a.fee_schedule_id == schedule_id
        assert a.fees is not None
        assert (a.fees.size_tier, a.fees.billable_weight_lb) == ("large_standard", D("1.32"))
        assert a.fees.price_band == "10_to_50"
        assert a.fees.fulfillment_fee == D(fee) == a.fees.keepa_pick_and_pack_fee
        assert "fee_disagrees_with_keepa" not in a.risk_flags


MINIMAL_SPLIT_COSTS = SellerCosts(
    Decimal("0.50"), Decimal("0.25"), Decimal(0), InboundPlacement.MINIMAL_SPLIT
)


def test_minimal_split_placement_fee_is_in_the_breakdown_and_the_total() -> None:
    """The offers sample's used copy as in test_used_copy_of_the_offers_sample, shipped to one
    inbound location: Amazon charges the placement fee, large standard 12+ oz to 1.5 lb (1.32 lb
    billed, as for fulfillment), the top of its $0.22-$0.41 range."""
    market = parse_keepa_product(load_product(OFFERS))
    a = analyse(item("0593655036", "5.00"), market, BALANCED, MINIMAL_SPLIT_COSTS,
                as_of=AS_OF_2026_05)  # fmt: skip
    fees = a.fees
    assert fees is not None
    assert (fees.inbound_placement_fee, fees.inbound_placement) == (D("0.41"), "minimal_split")
    assert fees.fulfillment_fee == D("5.61")  # the 3.5% surcharge is not charged on placement
    assert fees.total == D("10.98")  # 10.57 + 0.41
    assert fees.amazon_fees == D("10.07")  # 2.22 + 1.80 + 5.61 + 0.03 + 0.41
    assert a.profit == D("-1.17")  # 14.81 - 10.98 - 5.00
    assert a.break_even_buy_cost == D("3.83")  # 14.81 - 10.07 - 0.91 inbound and prep
    data = analysis_to_json(a)
    assert (data["fees"]["inbound_placement_fee"], data["fees"]["inbound_placement"]) == (
        0.41, "minimal_split")  # fmt: skip
    assert data["seller_costs"]["inbound_placement"] == "minimal_split"
    # A partial split is not offered for a standard-size book since 2025-02-20: minimal.
    partial = SellerCosts(D("0.50"), D("0.25"), D(0), InboundPlacement.PARTIAL_SPLIT)
    b = analyse(item("0593655036", "5.00"), market, BALANCED, partial, as_of=AS_OF_2026_05)
    assert b.fees is not None and (b.fees.inbound_placement_fee, b.fees.inbound_placement) == (
        D("0.41"), "minimal_split")  # fmt: skip


def test_envelope_sample_without_offers() -> None:
    market = parse_keepa_product(load_product("envelope-0593655036.json"))
    a = analyse(item("0593655036", "5.00"), market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    # No used buy box, no offers, no landed used series (19-22 come with offers): the lowest
    # used price stats.current[2] = 1449, whose shipping Keepa does not say, and says so.
    assert (a.sell_price, a.price_basis) == (D("14.49"), "lowest_offer_excl_shipping")
    # No offers, so used FBA competition is unknown, and 32 used offers in all
    # (stats.current[12]) exceed the 15 limit: the rule is not checked.
    fba_rule = next(r for r in a.reasons if r.rule == "max_competing_fba_offers")
    assert (fba_rule.actual, fba_rule.passed) == ("unknown", None)
    assert "competition_unknown" in a.risk_flags
    assert a.estimated_monthly_sales == D(46)  # stats.salesRankDrops30
    new = analyse(
        item("0593655036", "5.00", "new"), market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05
    )
    # No buy box price without offers (stats.buyBoxPrice -2), but stats.buyBoxIsAmazon true and
    # buyBoxSellerId ATVPDKIKX0DER: the buy box is Amazon's price, stats.current[0] = 1698.
    assert (new.sell_price, new.price_basis) == (D("16.98"), "buy_box_new")

    # --- every figure of both copies, from the raw JSON -------------------------------------
    # as_of 2026-05-01: us-fba-2026-04-17-r2 (2026 card + 3.5% fuel surcharge).
    # packageLength/Width/Height/Weight 244 / 166 / 36 mm, 599 g: 9.61 x 6.54 x 1.42 in,
    # 1.3206 lb -> 1.32 lb large standard (thicker than 0.75 in), 1.25-1.5 lb band, $10-$50:
    # $5.42 + 3.5% (0.1897 -> 0.19) = $5.61, for both prices ($14.49 and $16.98).
    # Inbound 1.3206 lb x $0.50 = 0.6603 -> 0.66; prep 0.25; sales tax 0%; placement
    # Amazon-optimized: 0.00. Cash per copy: 5.00 + 0.66 + 0.25 = 5.91 (the ROI's basis).
    # Sales: stats.salesRankDrops30 = 46 (>= 4: not sparse). Velocity score
    # round(100 x log10(1 + 46) / log10(1 + 1000)) = round(55.73) = 56. Rank stats.current[3] 74:
    # band "rank <= 100,000" (balanced: min profit $2.00, min ROI 25%).
    # Days to sell: ceil(30 x (competing offers + 1) / 46); used offers stats.current[12] = 32:
    # ceil(30 x 33 / 46 = 21.52) = 22; new offers stats.current[11] = 39: ceil(26.09) = 27.
    # Storage: 9.61 x 6.54 x 1.42 = 89.25 cu in = 0.05165 cu ft x $0.78 (May) = 0.04029 a month,
    # x 22/31 = 0.0286 -> 0.03 (used); x 27/31 = 0.0351 -> 0.04 (new).
    assert (a.sales_rank, a.competing_offers, a.competing_fba_offers) == (74, 32, None)
    assert (new.sales_rank, new.competing_offers, new.competing_fba_offers) == (74, 39, None)
    assert (a.fee_schedule_id, new.fee_schedule_id) == ("us-fba-2026-04-17-r2",) * 2
    expected = {
        # used: referral 15% x 14.49 = 2.1735 -> 2.17;
        # total 2.17 + 1.80 + 5.61 + 0.03 + 0.66 + 0.25 = 10.52
        "used": (a, "2.17", "0.03", 22, "10.52"),
        # new: referral 15% x 16.98 = 2.547 -> 2.55;
        # total 2.55 + 1.80 + 5.61 + 0.04 + 0.66 + 0.25 = 10.91
        "new": (new, "2.55", "0.04", 27, "10.91"),
    }
    for copy_, referral, storage, days, total in expected.values():
        fees = copy_.fees
        assert fees is not None
        assert (fees.referral_fee, fees.closing_fee) == (D(referral), D("1.80"))
        assert (fees.fulfillment_fee, fees.fuel_surcharge) == (D("5.61"), D("0.19"))
        assert (fees.size_tier, fees.price_band, fees.billable_weight_lb) == (
            "large_standard", "10_to_50", D("1.32"))  # fmt: skip
        assert fees.keepa_pick_and_pack_fee == D("5.37")  # fbaFees.pickAndPackFee 537, beside
        assert (fees.storage_fee, fees.storage_days) == (D(storage), days)
        assert (fees.inbound_shipping, fees.prep, fees.sales_tax) == (D("0.66"), D("0.25"), D(0))
        assert (fees.inbound_placement_fee, fees.inbound_placement) == (D(0), "amazon_optimized")
        assert fees.total == D(total)
        assert (copy_.estimated_monthly_sales, copy_.sales_estimate_basis) == (
            D(46), "sales_rank_drops30")  # fmt: skip
        assert (copy_.velocity_score, copy_.expected_days_to_sell) == (56, days)
    # used: profit 14.49 - 10.52 - 5.00 = -1.03; ROI -1.03 / 5.91 = -17.43%; margin
    # -1.03 / 14.49 = -7.11%; break-even 14.49 - 10.52 = 3.97; the most to pay for the band's
    # 25%: (3.97 - x) = 0.25 (x + 0.91) -> x = (3.97 - 0.2275) / 1.25 = 2.994 -> 2.99.
    assert (a.profit, a.roi_percent, a.margin_percent) == (D("-1.03"), D("-17.43"), D("-7.11"))
    assert (a.break_even_buy_cost, a.max_buy_cost_for_target_roi) == (D("3.97"), D("2.99"))
    # new: profit 16.98 - 10.91 - 5.00 = 1.07; ROI 1.07 / 5.91 = 18.10%; margin 1.07 / 16.98
    # = 6.30%; break-even 16.98 - 10.91 = 6.07; (6.07 - 0.2275) / 1.25 = 4.674 -> 4.67.
    assert (new.profit, new.roi_percent, new.margin_percent) == (D("1.07"), D("18.10"), D("6.30"))
    assert (new.break_even_buy_cost, new.max_buy_cost_for_target_roi) == (D("6.07"), D("4.67"))
    # Both below the band's $2.00 and 25%: PASS, on exactly those two rules (FBA competition
    # and Amazon's buy box share unknown without offers: not checked, None).
    for copy_ in (a, new):
        assert copy_.recommendation is Recommendation.PASS
        assert [r.rule for r in copy_.reasons if r.passed is False] == [
            "min_profit", "min_roi_percent"]  # fmt: skip
        assert {r.band for r in copy_.reasons} == {"rank <= 100,000"}
        assert sorted(r.rule for r in copy_.reasons if r.passed is None) == [
            "max_amazon_buy_box_percent", "max_competing_fba_offers"]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "asin", "outcome"),
    [
        ("product-1492056200-untracked.json", "1492056200", "no_market_data"),
        ("envelope-B08N5WRWNW-nonbook.json", "B08N5WRWNW", "not_a_book"),
    ],
)
def test_unusable_samples_pass_with_a_reason(name: str, asin: str, outcome: str) -> None:
    market = parse_keepa_product(load_product(name))
    for condition in ("new", "used"):
        a = analyse(
            item(asin, "1.00", condition), market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05
        )
        assert a.outcome == outcome
        assert a.recommendation is Recommendation.PASS
        assert a.sell_price is None and a.profit is None and a.fees is None
        assert a.reasons[0].rule == "market_data" and not a.reasons[0].passed
        assert a.reasons[0].message
        assert analysis_to_json(a)["outcome"] == outcome


def test_an_untracked_979_isbn_is_no_market_data_not_a_non_book() -> None:
    """A 979 ISBN-13 has no ISBN-10: Keepa resolves it to a B0 ASIN. Untracked, that product
    has no category data, which alone reads as "not a book"; the seller typed an ISBN, though."""
    product = {**load_product("envelope-B08N5WRWNW-nonbook.json"), "asin": "B0D1ZZ9X2K"}
    market = parse_keepa_product(product)
    typed = ItemToAnalyse("979-10-90636-07-1", "B0D1ZZ9X2K", D("1.00"), "used")
    a = analyse(typed, market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    assert a.outcome == "no_market_data" and a.recommendation is Recommendation.PASS
    assert "979-10-90636-07-1" in a.reasons[0].message
    # The same product asked for by its ASIN stays "not a book": nothing says it is one.
    by_asin = analyse(
        item("B0D1ZZ9X2K", "1.00"), market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05
    )
    assert by_asin.outcome == "not_a_book"


def test_a_979_isbn_with_prices_but_no_category_data_is_analysed() -> None:
    product = {
        **load_product("envelope-0593655036.json"),
        "asin": "B0D1ZZ9X2K",
        "rootCategory": 0,
        "productGroup": None,
        "categoryTree": None,
        "type": None,
        "websiteDisplayGroup": None,
    }
    market = parse_keepa_product(product)
    assert market.usability.value == "not_a_book" and market.keepa_says_book is None
    typed = ItemToAnalyse("979-10-90636-07-1", "B0D1ZZ9X2K", D("1.00"), "used")
    a = analyse(typed, market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    assert a.outcome == "analysed" and a.sell_price == D("14.49")
    # Keepa saying "not a book" (a Kindle edition) stands, whatever the seller typed.
    kindle = parse_keepa_product({**product, "binding": "Kindle Edition"})
    assert analyse(typed, kindle, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05).outcome == (
        "not_a_book"
    )


def test_analysis_json_is_json_safe_and_in_cents() -> None:
    import json

    market = parse_keepa_product(load_product(OFFERS))
    a = analyse(item("0593655036", "5.00"), market, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    data = json.loads(json.dumps(analysis_to_json(a)))
    # Priced at the used buy box's 30-day average (see test_used_copy_of_the_offers_sample).
    assert data["recommendation"] == "PASS"
    assert data["sell_price"] == 14.81
    assert data["fees"]["total"] == 10.57
    assert data["fees"]["keepa_pick_and_pack_fee"] == 5.68
    assert data["price_basis"] == "avg30_buy_box_used"
    assert data["priced_from_history"] is False
    assert data["estimated_monthly_sales"] == 45.0
    assert data["fee_schedule"]["id"] == "us-fba-2026-04-17-r2"
    assert data["fees"]["inbound_placement_fee"] == 0.0
    assert data["strategy"]["name"] == "balanced"
    # Engine 2026.12.5: the rank band first, and every reason names it (rank 63: the fastest
    # balanced band, $2.00 and 25% instead of the strategy's $3.00 and 30%).
    band = "rank <= 100,000"
    assert data["reasons"][0]["rule"] == "rank_band" and data["reasons"][0]["band"] == band
    assert data["reasons"][1] == {
        "rule": "min_profit", "threshold": ">= $2.00", "actual": "-$0.76", "passed": False,
        "message": "Profit -$0.76 is below the $2.00 minimum (band rank <= 100,000).",
        "band": band,
    }  # fmt: skip
    assert all(r["band"] == band for r in data["reasons"])
    assert (data["quantity"], data["total_profit"], data["days_to_sell_all"]) == (1, -0.76, 26)
