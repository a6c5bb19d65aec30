"""Textbook seasons (seasonality.py): yearly peaks from the rank history, the next one, its price,
and the rules holding a copy for it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from analysis_testkit import NO_COSTS, item, load_product, sample_files

from analysis_service.domain import (
    MarketSnapshot,
    MarketUsability,
    Recommendation,
    analyse,
    market_snapshot_from_json,
    market_snapshot_to_json,
    parse_keepa_product,
    strategy_preset,
)
from analysis_service.domain.keepa_format import datetime_to_keepa_minutes
from analysis_service.domain.seasonality import daily, next_peak, season_profile

D = Decimal
TEXTBOOK = strategy_preset("textbook")


def minute(day: date) -> int:
    return int(datetime_to_keepa_minutes(datetime(day.year, day.month, day.day, 12, tzinfo=UTC)))


def textbook_series(
    first: date, last: date, *, peak: int, off: int, peak_months: tuple[int, ...] = (1, 8, 9)
) -> list[tuple[int, int | None]]:
    """One point a day: ``peak`` in the peak months, ``off`` otherwise."""
    days = (last - first).days + 1
    points: list[tuple[int, int | None]] = []
    for n in range(days):
        day = first + timedelta(days=n)
        points.append((minute(day), peak if day.month in peak_months else off))
    return points


THREE_YEARS = (date(2023, 6, 1), date(2026, 6, 30))
RANKS = textbook_series(*THREE_YEARS, peak=40_000, off=1_000_000)
USED_PRICES = textbook_series(*THREE_YEARS, peak=6_000, off=3_000)  # cents: $60 in season


def test_daily_values_carry_forward_and_skip_unknown() -> None:
    d0 = date(2024, 3, 1)
    points = [(minute(d0), 500), (minute(d0 + timedelta(days=2)), -1),
              (minute(d0 + timedelta(days=3)), 700)]  # fmt: skip
    assert daily(points) == {d0: 500, d0 + timedelta(days=1): 500, d0 + timedelta(days=3): 700}


def test_a_textbook_peaks_in_august_september_and_january() -> None:
    profile = season_profile(RANKS, (), USED_PRICES)
    assert profile is not None
    assert [w.name for w in profile.windows] == ["aug-sep", "january"]
    fall, spring = profile.windows
    assert (fall.years_peaked, spring.years_peaked) == (3, 3)  # 2023-25 and 2024-26
    assert (fall.peak_rank, fall.off_peak_rank) == (40_000, 1_000_000)
    assert (spring.peak_price_used, spring.off_peak_price_used) == (D("60.00"), D("30.00"))
    assert spring.peak_price_new is None  # no new series given
    # Bought in October: the next peak is January.
    view = next_peak(profile, datetime(2026, 10, 15, tzinfo=UTC), used=True)
    assert view is not None
    assert (view.next_peak, view.next_peak_starts, view.days_to_next_peak) == (
        "january", date(2027, 1, 1), 78,
    )  # fmt: skip
    assert view.expected_peak_price == D("60.00") and view.peaks == ("aug-sep", "january")
    # In August the peak under way counts from today.
    during = next_peak(profile, datetime(2026, 8, 20, tzinfo=UTC), used=True)
    assert during is not None and (during.next_peak, during.days_to_next_peak) == ("aug-sep", 0)


def test_flat_noisy_and_one_off_histories_have_no_season() -> None:
    flat = textbook_series(*THREE_YEARS, peak=500_000, off=500_000)
    assert season_profile(flat) is None
    # Mild: 30% lower in season is not a halved rank.
    assert season_profile(textbook_series(*THREE_YEARS, peak=700_000, off=1_000_000)) is None
    # One year of history: a single peak may be chance.
    one_year = textbook_series(date(2025, 6, 1), date(2026, 6, 30), peak=40_000, off=1_000_000)
    assert season_profile(one_year) is None
    # Peaks in one year of three only (a course adopted the book once).
    once = [
        (m, 40_000 if date(2024, 8, 1) <= (datetime(2011, 1, 1) + timedelta(minutes=m)).date()
         <= date(2024, 9, 30) else 1_000_000)
        for m, _ in RANKS
    ]  # fmt: skip
    assert season_profile(once) is None


def test_the_recorded_samples_are_not_seasonal() -> None:
    """The Anxious Generation (a bestseller, ranks 8-138 over 2023-06..2025-10) sells all year;
    the untracked product has no rank history."""
    for name in sample_files():
        snapshot = parse_keepa_product(load_product(name))
        assert snapshot.season is None, name


def seasonal_market(price: str) -> MarketSnapshot:
    return MarketSnapshot(
        asin="0593655036", usability=MarketUsability.USABLE,
        buy_box_used_with_shipping=D(price), used_offer_count=2, used_fba_offer_count=1,
        sales_rank=900_000, sales_rank_drops30=6, package_weight_g=500, package_length_mm=230,
        package_width_mm=150, package_height_mm=25, sales_rank_points=900,
        last_update=datetime(2026, 10, 14, tzinfo=UTC), amazon_buy_box_percent=D("0.00"),
        season=season_profile(RANKS, (), USED_PRICES),
    )  # fmt: skip


def test_a_book_bought_in_october_for_january_is_worth_holding() -> None:
    """$30 now makes too little on a $15 copy (textbook band rank 250,001-1,000,000: $10, 40%);
    at January's past $60 it would: WATCH, with the season's reason."""
    october = datetime(2026, 10, 15, tzinfo=UTC)
    a = analyse(item("0593655036", "15.00"), seasonal_market("30.00"), TEXTBOOK, NO_COSTS,
                as_of=october)  # fmt: skip
    money = [r for r in a.reasons if r.rule in ("min_profit", "min_roi_percent")]
    assert any(r.passed is False for r in money)  # a PASS on today's price alone
    season = next(r for r in a.reasons if r.rule == "season")
    assert season.passed is True and season.actual == "78 days"
    assert "january peak from 2027-01-01" in season.message and "$60.00" in season.message
    assert a.recommendation is Recommendation.WATCH
    assert a.season is not None and a.season.expected_peak_price == D("60.00")
    # A horizon shorter than the wait: the season is shown, not counted; PASS stays.
    hurried = replace(TEXTBOOK, sell_within_days=30)
    b = analyse(item("0593655036", "15.00"), seasonal_market("30.00"), hurried, NO_COSTS,
                as_of=october)  # fmt: skip
    assert b.recommendation is Recommendation.PASS
    assert next(r for r in b.reasons if r.rule == "season").passed is None


def test_the_season_survives_the_snapshot_store() -> None:
    s = replace(seasonal_market("30.00"), fba_offer_prices_used=(D("29.50"), D("31.25")))
    assert market_snapshot_from_json(market_snapshot_to_json(s)) == s
    old = market_snapshot_to_json(s)
    del old["season"], old["fba_offer_prices_used"], old["fba_offer_prices_new"]
    before = market_snapshot_from_json(old)  # stored before engine 2026.12.5
    assert before.season is None and before.fba_offer_prices_used is None


def test_parsing_a_product_finds_its_season() -> None:
    flat: list[int] = []
    for m, v in RANKS:
        flat += [m, v if v is not None else -1]
    used: list[int] = []
    for m, v in USED_PRICES:
        used += [m, v if v is not None else -1, 0]
    csv: list[list[int] | None] = [None] * 33
    csv[3], csv[32] = flat, used
    product = {"asin": "0593655036", "productType": 0, "rootCategory": 283155, "csv": csv,
               "title": "Calculus", "binding": "Hardcover"}  # fmt: skip
    snapshot = parse_keepa_product(product)
    assert snapshot.season is not None and snapshot.sources["season"] == "csv"
    assert [w.name for w in snapshot.season.windows] == ["aug-sep", "january"]
