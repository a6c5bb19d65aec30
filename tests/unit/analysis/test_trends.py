"""Rising, falling or flat over 30/90 days (domain/trends): the documented method on series
whose trend is known by construction, and on the recorded products against a plain recount."""

from __future__ import annotations

import math
import random
import statistics
from bisect import bisect_right

import pytest
from analysis_testkit import load_product

from analysis_service.domain.book_history import BookHistory, Point, history_from_product
from analysis_service.domain.rank_drops import MINUTES_PER_DAY
from analysis_service.domain.trends import (
    DEFAULT_THRESHOLD_PERCENT,
    THRESHOLD_PERCENT,
    Direction,
    book_trends,
    trend,
)

DAY = MINUTES_PER_DAY
AS_OF = 7_800_000


def daily(values: list[int | None], *, end: int = AS_OF) -> list[Point]:
    """One point a day, the last one at `end`."""
    first = end - (len(values) - 1) * DAY
    return [(first + n * DAY, v) for n, v in enumerate(values)]


def test_a_steady_rise_is_rising_with_its_size() -> None:
    points = daily([round(1000 * 1.01**d) for d in range(120)])
    found = trend(points, as_of=AS_OF, days=30, series="used")
    assert found.direction is Direction.RISING
    assert found.change_percent == pytest.approx((1.01**30 - 1) * 100, abs=0.2)  # 34.8%
    assert found.last == points[-1][1] and found.first == points[-31][1]
    assert found.fitted_end == pytest.approx(points[-1][1], rel=0.01)
    assert found.samples == 31


def test_noise_within_the_band_is_flat() -> None:
    rng = random.Random(3)
    points = daily([1500 + rng.randint(-40, 40) for _ in range(100)])  # +-2.7%
    for days in (30, 90):
        found = trend(points, as_of=AS_OF, days=days, series="new")
        assert found.direction is Direction.FLAT, found
        assert abs(found.change_percent or 0) <= DEFAULT_THRESHOLD_PERCENT


def test_a_rank_falling_by_half_is_falling_and_rank_noise_is_not() -> None:
    halving = daily([round(200_000 * 0.5 ** (d / 90)) for d in range(91)])
    found = trend(halving, as_of=AS_OF, days=90, series="sales_rank")
    assert found.direction is Direction.FALLING
    assert found.change_percent == pytest.approx(-50, abs=0.5)
    # A sale every few days then a slow climb: +-15% a day around a steady level.
    rng = random.Random(5)
    sawtooth = daily([round(50_000 * rng.uniform(0.85, 1.15)) for _ in range(91)])
    noisy = trend(sawtooth, as_of=AS_OF, days=90, series="sales_rank")
    assert noisy.direction is Direction.FLAT
    assert noisy.threshold_percent == THRESHOLD_PERCENT["sales_rank"]


def test_a_step_holds_until_the_next_point() -> None:
    # Two points only: $10 until 15 days ago, then $20 (Keepa records changes, not days).
    points: list[Point] = [(AS_OF - 100 * DAY, 1000), (AS_OF - 15 * DAY, 2000)]
    found = trend(points, as_of=AS_OF, days=30, series="buy_box")
    assert found.direction is Direction.RISING
    assert found.first == 1000 and found.last == 2000 and found.median in (1000, 2000)


def test_too_little_history_is_unknown_with_the_reason() -> None:
    short = daily([1000] * 20)  # tracked for 20 days
    assert trend(short, as_of=AS_OF, days=30, series="new").reason == "history too short"
    gaps = daily([1000 if d % 5 == 0 else None for d in range(60)])  # an offer one day in five
    found = trend(gaps, as_of=AS_OF, days=30, series="used")
    assert found.direction is Direction.UNKNOWN and found.reason == "too few days with a value"
    assert trend([], as_of=AS_OF, days=30, series="used").reason == "no history"


def value_at(points: tuple[Point, ...], minute: int) -> int | None:
    k = bisect_right([m for m, _ in points], minute)
    return points[k - 1][1] if k else None


@pytest.mark.parametrize("sample", ["envelope-0593655036.json", "product-0593655036-offers.json"])
def test_recorded_books_numbers_match_a_plain_recount(sample: str) -> None:
    history = history_from_product(load_product(sample))
    assert isinstance(history, BookHistory)
    trends = book_trends(history)
    assert set(trends) == {"new", "used", "buy_box", "sales_rank"}
    for name, windows in trends.items():
        for days, found in windows.items():
            if not history.points(name):
                assert found.direction is Direction.UNKNOWN  # the envelope has no buy box
                continue
            # Recount the daily values directly: same median, same first and last value.
            moments = [history.as_of - days * DAY + d * DAY for d in range(days + 1)]
            values = [value_at(history.points(name), m) for m in moments]
            known = [v for v in values if v is not None]
            assert found.samples == len(known)
            assert found.median == statistics.median(known)
            assert (found.first, found.last) == (known[0], known[-1])
            # The direction is the fitted change against the band, as documented.
            change = found.change_percent
            assert change is not None
            expected = (
                Direction.RISING
                if change > found.threshold_percent
                else Direction.FALLING
                if change < -found.threshold_percent
                else Direction.FLAT
            )
            assert found.direction is expected
            assert found.fitted_start and found.fitted_end
            ratio = found.fitted_end / found.fitted_start
            assert math.isclose((ratio - 1) * 100, change, abs_tol=0.1)


def test_recorded_bestseller_directions() -> None:
    """The offers recording (Oct 2025): new copies cheaper than three months before (Keepa's
    own 90-day average above the current price), used prices sliding over the last month."""
    product = load_product("product-0593655036-offers.json")
    history = history_from_product(product)
    assert history is not None
    trends = book_trends(history)
    assert product["stats"]["avg90"][1] > product["stats"]["current"][1]
    assert trends["new"][90].direction is Direction.FALLING
    assert trends["used"][30].direction is Direction.FALLING
