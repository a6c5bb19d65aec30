"""A batch's insights, derived from the sums the service takes in SQL, against a hand computation
on a small batch (every figure worked out in the comments)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from analysis_service.domain.insights import (
    MAX_PICKS,
    BatchSums,
    GroupSums,
    Pick,
    RiskCount,
    RuleCount,
    batch_insights,
)

D = Decimal
# The batch, one line each (cost and profit a copy; days: to sell every copy):
#   0 BUY   2 x $4.00, profit $6.50 a copy, 20 days, 10 sales/month, amazon_on_listing
#   1 BUY   1 x $10.00, profit $5.00, 100 days, 0.5 sales/month (few sales),
#           amazon_on_listing + volatile_price
#   2 WATCH 1 x $3.00, profit $4.00, 200 days, failed min_velocity_score
#   3 PASS  1 x $5.00, profit -$1.00, 40 days, failed min_profit and min_roi_percent
#   4 PASS  3 x $2.00, profit $0.50 a copy, days unknown, failed min_profit
#   5 PASS  1 x $1.00, no market data (no profit, no days)
# BUY:   cash 2*4 + 10 = 18.00, profit 2*6.50 + 5 = 18.00, cash x days 8*20 + 10*100 = 1160
#        sold through by day 30 and 90: line 0 (cash 8, profit 13); by 180 and 365: both.
# WATCH: cash 3.00, profit 4.00, cash x days 3*200 = 600.
# PASS:  units 1 + 3 + 1 = 5, cash 5 + 6 + 1 = 12.00, profit -1 + 1.50 + 0 = 0.50,
#        dated cash 5 (line 3 only), cash x days 5*40 = 200, two lines without days.
GROUPS = [
    GroupSums(
        "BUY", lines=2, units=3, cash=D("18.00"), profit=D("18.00"), dated_cash=D("18.00"),
        cash_days=D(1160), max_days=100, undated_lines=0, few_sales_lines=1, seasonal_lines=0,
        cash_by_horizon=(D(8), D(8), D(18), D(18)),
        profit_by_horizon=(D(13), D(13), D(18), D(18)),
    ),
    GroupSums(
        "PASS", lines=3, units=5, cash=D("12.00"), profit=D("0.50"), dated_cash=D(5),
        cash_days=D(200), max_days=40, undated_lines=2,
        cash_by_horizon=(D(0), D(5), D(5), D(5)), profit_by_horizon=(D(0), D(-1), D(-1), D(-1)),
    ),
    GroupSums(
        "WATCH", lines=1, units=1, cash=D(3), profit=D(4), dated_cash=D(3), cash_days=D(600),
        max_days=200, undated_lines=0,
        cash_by_horizon=(D(0), D(0), D(0), D(3)), profit_by_horizon=(D(0), D(0), D(0), D(4)),
    ),
]  # fmt: skip
RULES = [
    RuleCount("PASS", "min_profit", 2),
    RuleCount("PASS", "min_roi_percent", 1),
    RuleCount("PASS", "no_market_data", 1),
    RuleCount("WATCH", "min_velocity_score", 1),
]
RISKS = [RiskCount("volatile_price", 1, 1), RiskCount("amazon_on_listing", 2, 2)]
PICKS = [
    Pick(1, "0000000001", "Slow", 1, D(5), D(50), 100),
    Pick(0, "0593655036", "Fast", 2, D(13), D("162.50"), 20),
]
# Earlier batches: A 5 BUY of 10 lines, $25 on $50 (50.0 %, ROI 50 %);
#                  B 1 BUY of 4 lines, $30 on $10 (25.0 %, ROI 300 %).
A, B = uuid.UUID(int=1), uuid.UUID(int=2)
EARLIER = [BatchSums(A, 10, 5, D(50), D(25)), BatchSums(B, 4, 1, D(10), D(30))]


def figures() -> dict[str, object]:
    return batch_insights(
        GROUPS, rules=RULES, risks=RISKS, picks=PICKS, earlier=EARLIER, failed_lines=2
    )


def test_totals_by_recommendation_in_fixed_order() -> None:
    f = figures()
    assert (f["lines_analysed"], f["lines_failed"], f["units"]) == (6, 2, 9)
    assert f["totals"] == [
        # 2 of 6 lines; ROI 18/18; 1160 / 18 = 64.44 days a dollar is tied up on average
        {
            "recommendation": "BUY", "lines": 2, "share_percent": 33.3, "units": 3,
            "cash_needed": 18.0, "expected_profit": 18.0, "roi_percent": 100.0,
            "sell_through_days": 100, "average_days_to_sell": 64.4, "lines_without_estimate": 0,
        },
        {
            "recommendation": "WATCH", "lines": 1, "share_percent": 16.7, "units": 1,
            "cash_needed": 3.0, "expected_profit": 4.0, "roi_percent": 133.33,
            "sell_through_days": 200, "average_days_to_sell": 200.0, "lines_without_estimate": 0,
        },
        # ROI 0.50 / 12 = 4.1667 %; 200 / 5 = 40 days over the lines with an estimate
        {
            "recommendation": "PASS", "lines": 3, "share_percent": 50.0, "units": 5,
            "cash_needed": 12.0, "expected_profit": 0.5, "roi_percent": 4.17,
            "sell_through_days": 40, "average_days_to_sell": 40.0, "lines_without_estimate": 2,
        },
    ]  # fmt: skip


def test_cash_view_of_the_buy() -> None:
    buy = figures()["buy"]
    assert isinstance(buy, dict)
    assert (buy["cash_needed"], buy["expected_profit"], buy["roi_percent"]) == (18.0, 18.0, 100.0)
    assert (buy["sell_through_days"], buy["average_days_to_sell"]) == (100, 64.4)
    # by day 30: line 0 sold through, 8 of 18 dollars (44.4 %) back with $13 profit: $21 payout
    assert buy["sold_through_by"] == [
        {"days": 30, "cash_share_percent": 44.4, "expected_profit": 13.0, "payout": 21.0},
        {"days": 90, "cash_share_percent": 44.4, "expected_profit": 13.0, "payout": 21.0},
        {"days": 180, "cash_share_percent": 100.0, "expected_profit": 18.0, "payout": 36.0},
        {"days": 365, "cash_share_percent": 100.0, "expected_profit": 18.0, "payout": 36.0},
    ]


def test_why_lines_were_passed_or_held_by_rule() -> None:
    f = figures()
    # of 3 PASS lines: 2 failed min_profit (66.7 %); ties in name order
    assert f["passed_because"] == [
        {"rule": "min_profit", "lines": 2, "share_percent": 66.7},
        {"rule": "min_roi_percent", "lines": 1, "share_percent": 33.3},
        {"rule": "no_market_data", "lines": 1, "share_percent": 33.3},
    ]
    assert f["watch_because"] == [
        {"rule": "min_velocity_score", "lines": 1, "share_percent": 100.0}
    ]


def test_best_picks_by_profit_per_day() -> None:
    # line 0: $13 over 20 days = $0.65 a day; line 1: $5 over 100 days = $0.05
    picks = figures()["best_picks"]
    assert picks == [
        {
            "item_no": 0, "identifier": "0593655036", "title": "Fast", "quantity": 2,
            "expected_profit": 13.0, "roi_percent": 162.5, "days_to_sell": 20,
            "profit_per_day": 0.65,
        },
        {
            "item_no": 1, "identifier": "0000000001", "title": "Slow", "quantity": 1,
            "expected_profit": 5.0, "roi_percent": 50.0, "days_to_sell": 100,
            "profit_per_day": 0.05,
        },
    ]  # fmt: skip


def test_recurring_risks_with_the_derived_few_sales() -> None:
    assert figures()["risks"] == [
        {"risk": "amazon_on_listing", "lines": 2, "buy_lines": 2, "share_percent": 33.3},
        {"risk": "few_sales", "lines": 1, "buy_lines": 1, "share_percent": 16.7},
        {"risk": "volatile_price", "lines": 1, "buy_lines": 1, "share_percent": 16.7},
    ]


def test_compared_with_earlier_batches() -> None:
    # this: 2 BUY of 6 = 33.3 %, ROI 100 %; earlier means: (50 + 25) / 2 = 37.5 %,
    # (50 + 300) / 2 = 175 %
    assert figures()["compared_with_earlier"] == {
        "batches": 2,
        "buy_rate_percent": 33.3,
        "earlier_buy_rate_percent": 37.5,
        "buy_rate_change_points": -4.2,
        "roi_percent": 100.0,
        "earlier_roi_percent": 175.0,
        "roi_change_points": -75.0,
        "earlier": [
            {"batch_id": str(A), "lines": 10, "buy_rate_percent": 50.0, "roi_percent": 50.0},
            {"batch_id": str(B), "lines": 4, "buy_rate_percent": 25.0, "roi_percent": 300.0},
        ],
    }


def test_a_batch_with_no_line_analysed_yet() -> None:
    f = batch_insights([])
    assert [t["lines"] for t in f["totals"]] == [0, 0, 0]
    assert f["buy"]["cash_needed"] == 0.0 and f["buy"]["roi_percent"] is None
    assert f["buy"]["average_days_to_sell"] is None and f["buy"]["sell_through_days"] is None
    assert f["passed_because"] == f["best_picks"] == f["risks"] == []
    compared = f["compared_with_earlier"]
    assert (compared["batches"], compared["buy_rate_percent"], compared["roi_change_points"]) == (
        0,
        None,
        None,
    )


def test_at_most_ten_picks_ties_by_position() -> None:
    picks = [Pick(n, f"{n:010d}", None, 1, D(10), None, 10) for n in range(15, 0, -1)]
    shown = batch_insights(GROUPS, picks=picks)["best_picks"]
    assert [p["item_no"] for p in shown] == list(range(1, MAX_PICKS + 1))


def test_same_sums_same_figures() -> None:
    assert figures() == batch_insights(
        list(reversed(GROUPS)),
        rules=list(reversed(RULES)),
        risks=list(reversed(RISKS)),
        picks=list(reversed(PICKS)),
        earlier=EARLIER,
        failed_lines=2,
    )
