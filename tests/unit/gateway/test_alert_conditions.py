"""The alert conditions of watchlists (gateway.watchlists.conditions): pure comparisons of a
watched book's previous analysis with its new one.

Each condition at its boundary (strictly above / below), with missing data (no previous analysis,
a missing field, a previous analysis without market data), and edge-triggered: it fires when it
starts to hold, not again while it stays true (docs/architecture.md, "Alert evaluation")."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.watchlists.conditions import (
    AMAZON_FLAG,
    LEVELS,
    NEEDS_VALUE,
    competing_offers,
    triggered,
    triggers,
    usable,
)


def analysis(**fields: Any) -> dict[str, Any]:
    """An analysis view as GET /api/v1/analyses answers it (only what the conditions read)."""
    base: dict[str, Any] = {
        "outcome": "analysed",
        "recommendation": "WATCH",
        "sell_price": "20.00",
        "profit": "5.00",
        "roi_percent": "50.0",
        "sales_rank": 100_000,
        "risk_flags": [],
        "reasons": [],
    }
    return {**base, **fields}


def offers(actual: str) -> dict[str, Any]:
    return analysis(reasons=[{"rule": "max_competing_fba_offers", "actual": actual}])


FAILED = {"outcome": "failed", "error": "no market data"}


# --- each level condition at its boundary ----------------------------------------------------

# (kind, value, field, a value just holding, the boundary itself, a value not holding)
BOUNDARIES = [
    ("profit_above", 10.0, "profit", "10.01", "10.00", "9.99"),
    ("roi_above", 30.0, "roi_percent", "30.1", "30.0", "12.5"),
    ("sell_price_above", 25.0, "sell_price", "25.01", "25.00", "24.99"),
    ("sell_price_below", 15.0, "sell_price", "14.99", "15.00", "15.01"),
    ("sales_rank_below", 50_000, "sales_rank", 49_999, 50_000, 50_001),
]


@pytest.mark.parametrize(("kind", "value", "field", "holds", "boundary", "not_holds"), BOUNDARIES)
def test_threshold_is_strict(
    kind: str, value: float, field: str, holds: Any, boundary: Any, not_holds: Any
) -> None:
    before = analysis(**{field: not_holds})
    assert triggers(kind, value, before, analysis(**{field: holds}))
    assert not triggers(kind, value, before, analysis(**{field: boundary}))
    assert not triggers(kind, value, before, analysis(**{field: not_holds}))


@pytest.mark.parametrize(("kind", "value", "field", "holds", "boundary", "not_holds"), BOUNDARIES)
def test_threshold_fires_on_the_transition_only(
    kind: str, value: float, field: str, holds: Any, boundary: Any, not_holds: Any
) -> None:
    assert triggers(kind, value, analysis(**{field: boundary}), analysis(**{field: holds}))
    # Still true at the next run: no second alert.
    assert not triggers(kind, value, analysis(**{field: holds}), analysis(**{field: holds}))
    # False again, then true again: a new alert.
    assert not triggers(kind, value, analysis(**{field: holds}), analysis(**{field: not_holds}))
    assert triggers(kind, value, analysis(**{field: not_holds}), analysis(**{field: holds}))


@pytest.mark.parametrize(("kind", "value", "field", "holds", "boundary", "not_holds"), BOUNDARIES)
def test_threshold_with_missing_data(
    kind: str, value: float, field: str, holds: Any, boundary: Any, not_holds: Any
) -> None:
    after = analysis(**{field: holds})
    # Nothing before (a book just added), or before without market data: it counts as not holding.
    assert triggers(kind, value, None, after)
    assert triggers(kind, value, FAILED, after)
    # The field missing before (null): not holding then, so holding now is a change.
    assert triggers(kind, value, analysis(**{field: None}), after)
    # The field missing now: nothing to compare, never an alert.
    assert not triggers(kind, value, None, analysis(**{field: None}))
    missing = analysis()
    del missing[field]
    assert not triggers(kind, value, None, missing)
    # A condition without its value never holds (rather than comparing with nothing).
    assert not triggers(kind, None, None, after)


def test_profit_and_roi_above_a_negative_value() -> None:
    assert triggers("profit_above", -1.0, analysis(profit="-2.00"), analysis(profit="-0.50"))
    assert not triggers("roi_above", 0.0, analysis(roi_percent="-5"), analysis(roi_percent="0"))


# --- recommendation becomes BUY --------------------------------------------------------------


def test_becomes_buy_on_the_transition_only() -> None:
    buy, watch = analysis(recommendation="BUY"), analysis(recommendation="WATCH")
    assert triggers("becomes_buy", None, watch, buy)
    assert triggers("becomes_buy", None, analysis(recommendation="PASS"), buy)
    assert not triggers("becomes_buy", None, buy, buy)  # stays BUY: no second alert
    assert not triggers("becomes_buy", None, buy, watch)  # leaves BUY: not this condition
    assert not triggers("becomes_buy", None, watch, watch)


def test_becomes_buy_with_missing_data() -> None:
    buy = analysis(recommendation="BUY")
    assert triggers("becomes_buy", None, None, buy)  # first analysis already BUY
    assert triggers("becomes_buy", None, FAILED, buy)
    assert triggers("becomes_buy", None, analysis(recommendation=None), buy)
    assert not triggers("becomes_buy", None, None, analysis(recommendation=None))
    assert not triggers("becomes_buy", None, None, analysis(recommendation="buy"))  # exact value


# --- competing offers below n ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "count"),
    [("3", 3), ("0", 0), ("1,234", 1234), ("<= 2", 2), ("unknown", None), ("", None)],
)
def test_competing_offers_as_the_engine_writes_them(actual: str, count: int | None) -> None:
    assert competing_offers(offers(actual)) == count


def test_competing_offers_missing() -> None:
    assert competing_offers(analysis(reasons=[])) is None
    assert competing_offers(analysis(reasons=None)) is None
    assert competing_offers({"outcome": "analysed"}) is None
    other_rule = analysis(reasons=[{"rule": "max_sales_rank", "actual": "3"}])
    assert competing_offers(other_rule) is None


def test_offers_below_at_its_boundary_and_on_the_transition_only() -> None:
    assert triggers("offers_below", 3, offers("3"), offers("2"))
    assert not triggers("offers_below", 3, offers("4"), offers("3"))  # 3 is not below 3
    assert not triggers("offers_below", 3, offers("2"), offers("1"))  # already below
    assert triggers("offers_below", 3, offers("5"), offers("<= 2"))  # at most 2: below 3
    assert not triggers("offers_below", 3, offers("5"), offers("1,200"))
    # Unknown now: no alert; unknown before: counts as not holding.
    assert not triggers("offers_below", 3, offers("5"), offers("unknown"))
    assert triggers("offers_below", 3, offers("unknown"), offers("0"))
    assert triggers("offers_below", 3, None, offers("0"))


# --- Amazon leaves / joins the listing -------------------------------------------------------

ON = analysis(risk_flags=[AMAZON_FLAG, "low_sales"])
OFF = analysis(risk_flags=["low_sales"])


def test_amazon_leaves_and_joins() -> None:
    assert triggers("amazon_leaves", None, ON, OFF)
    assert not triggers("amazon_leaves", None, OFF, ON)
    assert triggers("amazon_joins", None, OFF, ON)
    assert not triggers("amazon_joins", None, ON, OFF)


def test_amazon_staying_is_no_alert() -> None:
    for kind in ("amazon_leaves", "amazon_joins"):
        assert not triggers(kind, None, ON, ON)
        assert not triggers(kind, None, OFF, OFF)


def test_amazon_needs_a_previous_analysis_to_leave_or_join_from() -> None:
    for kind in ("amazon_leaves", "amazon_joins"):
        for after in (ON, OFF):
            assert not triggers(kind, None, None, after)
            assert not triggers(kind, None, FAILED, after)


def test_amazon_with_missing_flags() -> None:
    # No risk_flags (null or absent): Amazon is not on the listing.
    no_flags = analysis(risk_flags=None)
    absent = analysis()
    del absent["risk_flags"]
    assert triggers("amazon_leaves", None, ON, no_flags)
    assert triggers("amazon_leaves", None, ON, absent)
    assert triggers("amazon_joins", None, no_flags, ON)


# --- the whole evaluation --------------------------------------------------------------------


def test_triggered_lists_the_conditions_that_fire() -> None:
    alert_on: list[dict[str, Any]] = [
        {"kind": "becomes_buy"},
        {"kind": "profit_above", "value": 8},
        {"kind": "sales_rank_below", "value": 10_000},
        {"kind": "amazon_leaves"},
    ]
    before = analysis(recommendation="WATCH", profit="5.00", risk_flags=[AMAZON_FLAG])
    after = analysis(recommendation="BUY", profit="9.00", sales_rank=20_000, risk_flags=[])
    fired = [c["kind"] for c in triggered(alert_on, before, after)]
    assert fired == ["becomes_buy", "profit_above", "amazon_leaves"]
    # The next run, nothing changed: nothing fires again.
    assert triggered(alert_on, after, after) == []


def test_an_analysis_without_market_data_triggers_nothing() -> None:
    alert_on = [{"kind": k, "value": 1} for k in LEVELS] + [
        {"kind": "amazon_leaves"},
        {"kind": "amazon_joins"},
    ]
    assert triggered(alert_on, ON, FAILED) == []
    assert triggered(alert_on, None, {"outcome": "skipped"}) == []
    assert triggered([], None, analysis(recommendation="BUY")) == []


def test_usable() -> None:
    assert usable(analysis())
    assert usable({"recommendation": "BUY"})  # a view without `outcome`: analysed
    assert not usable(None)
    assert not usable(FAILED)


def test_every_kind_is_covered() -> None:
    kinds = set(LEVELS) | {"amazon_leaves", "amazon_joins"}
    assert kinds - {"becomes_buy", "amazon_leaves", "amazon_joins"} == NEEDS_VALUE
    assert kinds == {"becomes_buy", *NEEDS_VALUE, "amazon_leaves", "amazon_joins"}
