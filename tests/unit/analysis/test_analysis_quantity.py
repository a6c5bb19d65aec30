"""Quantity per line (quantity.py): totals, cash needed, days to sell every copy, the horizon."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from analysis_testkit import AS_OF_2026_05, TYPICAL_COSTS

from analysis_service.domain import (
    ItemToAnalyse,
    MarketSnapshot,
    MarketUsability,
    Recommendation,
    analyse,
    analysis_to_json,
    strategy_preset,
)
from analysis_service.domain.quantity import pace

D = Decimal
BALANCED = strategy_preset("balanced")
# 30 sales a month shared by 5 used offers and ours: 5 a month for us.
MARKET = MarketSnapshot(
    asin="0593655036", usability=MarketUsability.USABLE, buy_box_used_with_shipping=D("40.00"),
    used_offer_count=5, used_fba_offer_count=2, sales_rank=50_000, sales_rank_drops30=30,
    package_weight_g=500, package_length_mm=230, package_width_mm=150, package_height_mm=25,
    last_update=datetime(2026, 4, 30, tzinfo=UTC), sales_rank_points=500,
    amazon_buy_box_percent=D("0.00"),
)  # fmt: skip


def copies(n: int, buy: str = "5.00") -> ItemToAnalyse:
    return ItemToAnalyse("0593655036", "0593655036", D(buy), "used", quantity=n)


def test_the_pace_of_our_copies_is_our_share_of_sales() -> None:
    """share = 30 / (5 + 1) = 5 a month: 5 copies take 30 days, 40 take 240; within 180 days
    30 sell; the copies wait on average 30 x (n + 1) / 2 / 5 days."""
    five = pace(5, D(30), 5, 180)
    assert (five.share, five.days_to_sell_all, five.sellable_within_horizon) == (D(5), 30, 5)
    assert five.mean_holding_days == 18  # 15 x 6 x 6 / 30
    forty = pace(40, D(30), 5, 180)
    assert (forty.days_to_sell_all, forty.sellable_within_horizon) == (240, 30)
    assert pace(3, None, 5, 180).share is None  # no sales estimate: unknown
    never = pace(3, D(0), 5, 180)
    assert (never.days_to_sell_all, never.sellable_within_horizon) == (None, 0)


def test_one_copy_is_as_before() -> None:
    one = analyse(copies(1), MARKET, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    assert one.totals is not None and one.profit is not None
    assert one.totals.total_profit == one.profit
    assert one.totals.days_to_sell_all == one.expected_days_to_sell == 6  # ceil(30 x 6 / 30)
    assert "quantity_within_horizon" not in {r.rule for r in one.reasons}


def test_five_copies_total_their_profit_and_cash() -> None:
    one = analyse(copies(1), MARKET, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    five = analyse(copies(5), MARKET, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    assert one.fees is not None and five.totals is not None and one.profit is not None
    assert five.profit == one.profit  # per unit: the first copy, as for one
    fees = one.fees
    cash = (
        D("5.00") + fees.sales_tax + fees.prep + fees.inbound_shipping + fees.inbound_placement_fee
    )
    assert five.totals.total_cash_needed == 5 * cash
    # Later copies wait longer (18 days on average against 6): a little more storage each.
    assert 5 * one.profit - D("0.50") <= five.totals.total_profit <= 5 * one.profit
    assert five.totals.days_to_sell_all == 30 and five.recommendation is Recommendation.BUY
    rule = next(r for r in five.reasons if r.rule == "quantity_within_horizon")
    assert rule.passed is True and rule.actual == "30 days"
    data = analysis_to_json(five)
    assert (data["quantity"], data["days_to_sell_all"]) == (5, 30)
    assert data["total_profit"] == float(five.totals.total_profit)


def test_more_copies_than_sell_within_the_horizon_are_flagged() -> None:
    many = analyse(copies(40), MARKET, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    rule = next(r for r in many.reasons if r.rule == "quantity_within_horizon")
    assert rule.passed is False and rule.actual == "240 days"
    assert "only 30 sell within 180 days" in rule.message
    assert "quantity_beyond_horizon" in many.risk_flags
    assert many.recommendation is Recommendation.WATCH  # the money is right, the count is not
    patient = replace(BALANCED, sell_within_days=365)
    later = analyse(copies(40), MARKET, patient, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    assert later.recommendation is Recommendation.BUY and not later.risk_flags


def test_unknown_sales_do_not_judge_the_quantity() -> None:
    unknown = replace(MARKET, sales_rank_drops30=None, sales_rank=None)
    a = analyse(copies(5), unknown, BALANCED, TYPICAL_COSTS, as_of=AS_OF_2026_05)
    rule = next(r for r in a.reasons if r.rule == "quantity_within_horizon")
    assert rule.passed is None and a.totals is not None and a.totals.days_to_sell_all is None
