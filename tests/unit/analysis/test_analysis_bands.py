"""Rank bands (bands.py, pricing.band_price): the thresholds and the price of a book's rank."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from analysis_testkit import AS_OF_2026_05, NO_COSTS, item
from pydantic import ValidationError

from analysis_service.application import strategy_of
from analysis_service.domain import (
    MarketSnapshot,
    MarketUsability,
    RankBand,
    Recommendation,
    analyse,
    strategy_preset,
)
from analysis_service.domain.bands import apply_band
from av_shared.events import BusinessConfigSnapshot, StrategyThresholds

D = Decimal
BALANCED = strategy_preset("balanced")


def market(**fields: Any) -> MarketSnapshot:
    base: dict[str, Any] = {
        "buy_box_used_with_shipping": D("40.00"), "used_offer_count": 5, "used_fba_offer_count": 2,
        "sales_rank": 50_000, "sales_rank_drops30": 30, "package_weight_g": 500,
        "package_length_mm": 230, "package_width_mm": 150, "package_height_mm": 25,
        "last_update": datetime(2026, 4, 30, tzinfo=UTC), "sales_rank_points": 500,
        "amazon_buy_box_percent": D("0.00"),
    }  # fmt: skip
    return MarketSnapshot(asin="0593655036", usability=MarketUsability.USABLE, **{**base, **fields})


@pytest.mark.parametrize(
    ("rank", "label", "profit", "roi", "passed"),
    [
        (1, "rank <= 100,000", "2.00", 25, True),
        (100_000, "rank <= 100,000", "2.00", 25, True),
        (100_001, "rank 100,001-500,000", "3.00", 30, True),
        (1_500_000, "rank 1,000,001-2,000,000", "6.00", 50, True),
        (9_000_000, "rank > 2,000,000", "10.00", 75, True),
        (None, "rank > 2,000,000", "10.00", 75, None),  # unknown: the slowest, not checked
    ],
)
def test_the_band_of_a_rank(
    rank: int | None, label: str, profit: str, roi: int, passed: bool | None
) -> None:
    applied = apply_band(BALANCED, rank)
    assert (applied.label, applied.band.min_profit, applied.band.min_roi_percent) == (
        label, D(profit), D(roi),
    )  # fmt: skip
    assert applied.check.rule == "rank_band" and applied.check.passed is passed


def test_a_rank_beyond_every_bounded_band_fails_and_takes_the_last() -> None:
    assert BALANCED.rank_bands is not None
    bounded = replace(BALANCED, rank_bands=BALANCED.rank_bands[:2])  # up to 500,000
    applied = apply_band(bounded, 600_000)
    assert applied.check.passed is False and applied.label == "rank 100,001-500,000"


def test_a_fast_seller_needs_less_margin_than_a_slow_one() -> None:
    """$2.50 profit: a BUY at rank 50,000 (band: $2.00, 25%), a PASS at rank 800,000 ($4.00)."""
    cheap = market(buy_box_used_with_shipping=D("16.00"))
    probe = analyse(item("0593655036", "0"), cheap, BALANCED, NO_COSTS, as_of=AS_OF_2026_05)
    assert probe.profit is not None
    buy = str(probe.profit - D("2.50"))  # the buy cost that leaves $2.50
    fast = analyse(item("0593655036", buy), cheap, BALANCED, NO_COSTS, as_of=AS_OF_2026_05)
    assert fast.profit == D("2.50") and fast.recommendation is Recommendation.BUY
    slow_market = replace(cheap, sales_rank=800_000)
    slow = analyse(item("0593655036", buy), slow_market, BALANCED, NO_COSTS, as_of=AS_OF_2026_05)
    assert slow.recommendation is Recommendation.PASS
    failed = {r.rule: r for r in slow.reasons if r.passed is False}
    assert failed["min_profit"].threshold == ">= $4.00"
    assert "band rank 500,001-1,000,000" in failed["min_profit"].message
    # Every reason names the band that applied.
    assert {r.band for r in slow.reasons} == {"rank 500,001-1,000,000"}
    assert {r.band for r in fast.reasons} == {"rank <= 100,000"}


def test_without_bands_the_strategys_own_thresholds_apply_at_every_rank() -> None:
    """A config stored before engine 2026.12.5 has no rank_bands: one band, as it decided."""
    old = replace(BALANCED, rank_bands=None)
    a = analyse(item("0593655036", "5.00"), market(sales_rank=50_000), old, NO_COSTS,
                as_of=AS_OF_2026_05)  # fmt: skip
    rules = {r.rule: r for r in a.reasons}
    assert "rank_band" not in rules  # nothing new to check
    assert rules["min_profit"].threshold == ">= $3.00"
    assert rules["min_roi_percent"].threshold == ">= 30%"
    assert {r.band for r in a.reasons} == {"all ranks"}
    stored = BusinessConfigSnapshot.model_validate(
        {"strategy": {"name": "balanced", "min_profit": "3.00", "min_roi_percent": "30"}}
    )
    assert strategy_of(stored).rank_bands is None


def band(against: str, slot: int = 1) -> tuple[RankBand, ...]:
    return (RankBand(None, D("1.00"), D(10), against, slot),)


def test_sell_against_the_lowest_fba_or_the_nth_fba_offer() -> None:
    ladder = market(fba_offer_prices_used=(D("31.00"), D("33.50"), D("38.00")),
                    lowest_fba_used_with_shipping=D("31.00"))  # fmt: skip
    for against, slot, price, basis in [
        ("buy_box", 1, "40.00", "buy_box_used"),
        ("lowest_fba", 1, "31.00", "lowest_fba_used"),
        ("nth_lowest_fba", 2, "33.50", "fba_offer_2_used"),
        ("nth_lowest_fba", 5, "38.00", "fba_offer_3_used"),  # fewer offers: the highest shown
    ]:
        strategy = replace(BALANCED, rank_bands=band(against, slot))
        a = analyse(item("0593655036", "5.00"), ladder, strategy, NO_COSTS, as_of=AS_OF_2026_05)
        assert (a.sell_price, a.price_basis) == (D(price), basis), against


def test_a_missing_band_price_falls_back_to_the_usual_order_and_says_so() -> None:
    strategy = replace(BALANCED, rank_bands=band("lowest_fba"))
    a = analyse(item("0593655036", "5.00"), market(), strategy, NO_COSTS, as_of=AS_OF_2026_05)
    assert (a.sell_price, a.price_basis) == (D("40.00"), "buy_box_used")
    profit_rule = next(r for r in a.reasons if r.rule == "min_profit")
    assert "sells against lowest fba, which is not offered now" in profit_rule.message


def test_the_used_buy_box_band_and_the_caps_still_apply() -> None:
    """Selling against the used buy box still keeps a used copy at or below a new one."""
    strategy = replace(BALANCED, rank_bands=band("used_buy_box"))
    capped = market(new_offer_count=3, buy_box_new_with_shipping=D("35.00"))
    a = analyse(item("0593655036", "5.00"), capped, strategy, NO_COSTS, as_of=AS_OF_2026_05)
    assert (a.sell_price, a.price_basis) == (D("35.00"), "capped_at_new")


def test_the_config_contract_keeps_bands_ascending() -> None:
    good = {"up_to_rank": 100_000, "min_profit": "2", "min_roi_percent": "20"}
    open_band = {"up_to_rank": None, "min_profit": "5", "min_roi_percent": "50"}
    parsed = StrategyThresholds.model_validate({"rank_bands": [good, open_band]})
    assert parsed.rank_bands is not None and parsed.rank_bands[1].up_to_rank is None
    for bad in ([open_band, good], [good, good], [{**good, "sell_against": "median"}]):
        with pytest.raises(ValidationError):
            StrategyThresholds.model_validate({"rank_bands": bad})
    # The presets' bands reach the engine unchanged.
    preset = BusinessConfigSnapshot(strategy=StrategyThresholds.model_validate(
        {"rank_bands": [good, open_band], "sell_within_days": 90}
    ))  # fmt: skip
    strategy = strategy_of(preset)
    assert strategy.rank_bands == (
        RankBand(100_000, D(2), D(20)), RankBand(None, D(5), D(50))
    ) and strategy.sell_within_days == 90  # fmt: skip
