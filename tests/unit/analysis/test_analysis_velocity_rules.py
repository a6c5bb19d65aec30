"""Velocity estimates, strategy presets, rule checks and the recommendation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from analysis_testkit import AS_OF_2026_05, NO_COSTS, item
from hypothesis import given
from hypothesis import strategies as st

from analysis_service.domain import (
    MarketSnapshot,
    MarketUsability,
    Recommendation,
    analyse,
    estimate_monthly_sales,
    expected_days_to_sell,
    strategy_preset,
    velocity_score,
)
from analysis_service.domain.velocity import monthly_sales_from_rank

D = Decimal


def market(**fields: Any) -> MarketSnapshot:
    return MarketSnapshot(asin="0593655036", usability=MarketUsability.USABLE, **fields)


@pytest.mark.parametrize(
    ("fields", "sales", "basis"),
    [
        ({"sales_rank_drops30": 45, "sales_rank_drops90": 169}, D(45), "sales_rank_drops30"),
        ({"sales_rank_drops30": 4, "sales_rank_drops90": 3}, D(4), "sales_rank_drops30"),
        # sparse month (fewer than 4 drops): the 90-day count / 3
        ({"sales_rank_drops30": 2, "sales_rank_drops90": 30}, D(10), "sales_rank_drops90"),
        ({"sales_rank_drops90": 10}, D("3.33"), "sales_rank_drops90"),
        ({"sales_rank_drops30": 1}, D(1), "sales_rank_drops30"),
        ({"sales_rank": 100_000}, D(12), "sales_rank_curve"),
        ({"sales_rank_avg90": 1_000_000}, D(1), "sales_rank_curve"),
        # Amazon's "N+ bought in past month" is a floor under the rank-drop count
        ({"sales_rank_drops30": 45, "monthly_sold": 300}, D(300), "monthly_sold"),
        ({"sales_rank_drops30": 45, "monthly_sold": 10}, D(45), "sales_rank_drops30"),
        ({}, None, None),
    ],
)
def test_monthly_sales(fields: dict[str, int], sales: Decimal | None, basis: str | None) -> None:
    estimate = estimate_monthly_sales(market(**fields))
    assert (estimate.monthly_sales, estimate.basis) == (sales, basis)


@given(st.integers(1, 20_000_000), st.integers(1, 20_000_000))
def test_rank_curve_falls_as_rank_rises(r1: int, r2: int) -> None:
    better, worse = sorted((r1, r2))
    assert monthly_sales_from_rank(better) >= monthly_sales_from_rank(worse) >= 0


@pytest.mark.parametrize(
    ("sales", "score"),
    [(None, None), (D(0), 0), (D(1), 10), (D(10), 35), (D(45), 55), (D(100), 67),
     (D(1000), 100), (D(50_000), 100)],
)  # fmt: skip
def test_velocity_score_is_log_scaled(sales: Decimal | None, score: int | None) -> None:
    assert velocity_score(sales) == score


@given(st.decimals(0, 100_000, places=2), st.decimals(0, 100_000, places=2))
def test_velocity_score_is_monotonic(a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    low_score, high_score = velocity_score(low), velocity_score(high)
    assert low_score is not None and high_score is not None
    assert 0 <= low_score <= high_score <= 100


@pytest.mark.parametrize(
    ("sales", "competing", "days"),
    [(D(45), 38, 26), (D(30), 0, 1), (D(30), None, 1), (D(1), 0, 30), (D(1), 20, 365),
     (D(0), 5, 365), (None, 5, None), (D(1000), 0, 1)],
)  # fmt: skip
def test_expected_days_to_sell(sales: Decimal | None, competing: int | None, days: int) -> None:
    assert expected_days_to_sell(sales, competing) == days


def test_presets() -> None:
    balanced = strategy_preset("balanced")
    assert (balanced.min_roi_percent, balanced.min_profit, balanced.min_velocity_score) == (
        D(30), D("3.00"), 40,
    )  # fmt: skip
    assert (balanced.max_sales_rank, balanced.max_competing_fba_offers) == (1_000_000, 15)
    assert strategy_preset("Textbook").min_profit == D("10.00")
    assert strategy_preset("velocity").max_sales_rank == 200_000
    with pytest.raises(ValueError, match="unknown strategy"):
        strategy_preset("aggressive")


GOOD_MARKET = market(
    buy_box_used_with_shipping=D("40.00"),
    used_offer_count=5,
    used_fba_offer_count=2,
    sales_rank=50_000,
    sales_rank_drops30=30,
    package_weight_g=500,
    package_length_mm=230,
    package_width_mm=150,
    package_height_mm=25,
    last_update=datetime(2026, 4, 30, tzinfo=UTC),
    sales_rank_points=500,
    amazon_buy_box_percent=D("0.00"),  # buyBoxStats without Amazon: it never held the buy box
)


def test_buy_watch_pass() -> None:
    balanced = strategy_preset("balanced")
    buy = analyse(item("0593655036", "5.00"), GOOD_MARKET, balanced, NO_COSTS, as_of=AS_OF_2026_05)
    assert buy.recommendation is Recommendation.BUY
    assert buy.risk_flags == ()
    slow = replace(GOOD_MARKET, sales_rank_drops30=1)
    watch = analyse(item("0593655036", "5.00"), slow, balanced, NO_COSTS, as_of=AS_OF_2026_05)
    assert watch.recommendation is Recommendation.WATCH
    assert [r.rule for r in watch.reasons if not r.passed] == ["min_velocity_score"]
    dear = analyse(
        item("0593655036", "30.00"), GOOD_MARKET, balanced, NO_COSTS, as_of=AS_OF_2026_05
    )
    assert dear.recommendation is Recommendation.PASS


def test_unknown_rank_fails_its_rule() -> None:
    unknown = replace(GOOD_MARKET, sales_rank=None)
    a = analyse(
        item("0593655036", "5.00"), unknown, strategy_preset("balanced"), NO_COSTS,
        as_of=AS_OF_2026_05,
    )  # fmt: skip
    failed = {r.rule: r.actual for r in a.reasons if r.passed is False}
    assert failed == {"max_sales_rank": "unknown"}
    assert a.recommendation is Recommendation.WATCH


@pytest.mark.parametrize(
    ("used_offers", "passed", "actual", "flagged"),
    [
        (12, True, "<= 12", True),  # every used offer could be FBA and still be within 15
        (40, None, "unknown", True),  # could exceed 15: not checked, flagged
        (None, None, "unknown", True),
    ],
)
def test_unknown_fba_competition_is_bounded_by_all_offers_else_not_checked(
    used_offers: int | None, passed: bool | None, actual: str, flagged: bool
) -> None:
    unknown = replace(GOOD_MARKET, used_fba_offer_count=None, used_offer_count=used_offers)
    a = analyse(
        item("0593655036", "5.00"), unknown, strategy_preset("balanced"), NO_COSTS,
        as_of=AS_OF_2026_05,
    )  # fmt: skip
    [rule] = [r for r in a.reasons if r.rule == "max_competing_fba_offers"]
    assert (rule.passed, rule.actual) == (passed, actual)
    assert ("competition_unknown" in a.risk_flags) is flagged
    assert a.recommendation is Recommendation.BUY  # money and demand are right


def test_no_used_offer_at_all_is_no_competition_but_no_sale_now() -> None:
    """Keepa counts 0 used offers. Engine 2026.12.1 still sold this copy at the used buy box
    price left in the snapshot, a BUY; with nothing offered that price is not current, so the
    copy is priced from the used buy box's 90-day average and is at most a WATCH."""
    empty = replace(
        GOOD_MARKET, used_fba_offer_count=None, used_offer_count=0,
        avg90_buy_box_used=D("38.00"),
    )  # fmt: skip
    a = analyse(
        item("0593655036", "5.00"), empty, strategy_preset("balanced"), NO_COSTS,
        as_of=AS_OF_2026_05,
    )  # fmt: skip
    [rule] = [r for r in a.reasons if r.rule == "max_competing_fba_offers"]
    assert (rule.passed, rule.actual) == (True, "<= 0")  # no competition
    assert (a.sell_price, a.price_basis, a.priced_from_history) == (
        D("38.00"), "avg90_buy_box_used", True,
    )  # fmt: skip
    assert "no_current_offers" in a.risk_flags and "no_offers" in a.risk_flags
    assert "competition_unknown" not in a.risk_flags
    assert [r.rule for r in a.reasons if r.passed is False] == ["current_offer"]
    assert a.recommendation is Recommendation.WATCH


def test_known_fba_competition_over_the_limit_is_a_watch() -> None:
    crowded = replace(GOOD_MARKET, used_fba_offer_count=16)
    a = analyse(
        item("0593655036", "5.00"), crowded, strategy_preset("balanced"), NO_COSTS,
        as_of=AS_OF_2026_05,
    )  # fmt: skip
    assert [r.rule for r in a.reasons if r.passed is not True] == ["max_competing_fba_offers"]
    assert a.recommendation is Recommendation.WATCH


def test_a_free_copy_has_an_unbounded_return() -> None:
    a = analyse(
        item("0593655036", "0"), GOOD_MARKET, strategy_preset("balanced"), NO_COSTS,
        as_of=AS_OF_2026_05,
    )  # fmt: skip
    assert a.roi_percent is None and a.profit is not None and a.profit > 0
    [roi] = [r for r in a.reasons if r.rule == "min_roi_percent"]
    assert (roi.passed, roi.actual) == (True, "unbounded")
    assert a.recommendation is Recommendation.BUY


def test_condition_without_a_price_is_no_market_data() -> None:
    new_only = market(buy_box_new_with_shipping=D("20.00"))
    a = analyse(
        item("0593655036", "2.00", "used"), new_only, strategy_preset("balanced"), NO_COSTS,
        as_of=AS_OF_2026_05,
    )  # fmt: skip
    assert a.outcome == "no_market_data" and a.recommendation is Recommendation.PASS
    assert a.reasons[0].rule == "sell_price"


def test_unknown_condition_is_rejected() -> None:
    with pytest.raises(ValueError, match="condition"):
        analyse(
            item("0593655036", "2.00", "refurbished"), GOOD_MARKET, strategy_preset("balanced"),
            NO_COSTS, as_of=AS_OF_2026_05,
        )  # fmt: skip


def test_missing_dimensions_use_keepa_fee_then_an_assumed_package() -> None:
    bare = market(buy_box_used_with_shipping=D("40.00"), keepa_pick_and_pack_fee=D("5.00"))
    a = analyse(
        item("0593655036", "5.00"), bare, strategy_preset("balanced"), NO_COSTS,
        as_of=datetime(2026, 2, 1),  # naive: taken as UTC; before the fuel surcharge
    )  # fmt: skip
    assert a.fees is not None
    assert (a.fees.fulfillment_basis, a.fees.fulfillment_fee) == ("keepa_pick_and_pack", D("5.00"))
    assert "dimensions_unknown" in a.risk_flags
    assumed = analyse(
        item("0593655036", "5.00"), market(buy_box_used_with_shipping=D("40.00")),
        strategy_preset("balanced"), NO_COSTS, as_of=datetime(2026, 2, 1, tzinfo=UTC),
    )  # fmt: skip
    assert assumed.fees is not None
    # 9 x 6 x 1.5 in, 2 lb: large standard 1.75-2 lb band, $10-$50: $5.82
    assert (assumed.fees.fulfillment_basis, assumed.fees.fulfillment_fee) == (
        "assumed_package", D("5.82"),
    )  # fmt: skip
