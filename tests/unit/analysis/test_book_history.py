"""The history kept per book (domain/book_history): what Keepa returned, bounded, compact.

Checked on the recorded products: the series are Keepa's own values (the buy box as price +
shipping from its triples), the sales are the rank drops Keepa counts itself
(stats.salesRankDrops30/90/180), and the bounds hold while the chart keeps its shape: every
recent point, the extremes, the value at the window's start.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_right
from typing import Any

import pytest
from analysis_testkit import load_product
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis_service.domain import keepa_format as kf
from analysis_service.domain import parse_keepa_product
from analysis_service.domain.book_history import (
    HISTORY_DAYS,
    MAX_POINTS,
    RECENT_DAYS,
    SERIES,
    BookHistory,
    Point,
    history_from_json,
    history_from_product,
    history_to_json,
    presence_intervals,
    snapshot_summary,
    thinned,
    window,
)
from analysis_service.domain.rank_drops import MINUTES_PER_DAY

ENVELOPE = "envelope-0593655036.json"
OFFERS = "product-0593655036-offers.json"
DAY = MINUTES_PER_DAY


def full_series(name: str, sample: str) -> list[Point]:
    points = kf.KeepaProduct(load_product(sample)).checked_points(SERIES[name]) or []
    return [(m, v if v is not None and v > 0 else None) for m, v in points]


def value_at(points: list[Point] | tuple[Point, ...], minute: int) -> int | None:
    k = bisect_right([m for m, _ in points], minute)
    return points[k - 1][1] if k else None


@pytest.fixture(scope="module")
def bestseller() -> BookHistory:
    history = history_from_product(load_product(OFFERS))
    assert history is not None
    return history


def test_the_series_and_their_end_are_keepas(bestseller: BookHistory) -> None:
    product = load_product(OFFERS)
    assert bestseller.asin == "0593655036"
    assert bestseller.as_of == product["lastUpdate"] == 7793516
    assert set(bestseller.series) == {"new", "used", "buy_box", "amazon", "sales_rank"}
    # The newest points are Keepa's newest, untouched.
    for name in SERIES:
        assert bestseller.points(name)[-1] == full_series(name, OFFERS)[-1]
    # The buy box comes as [time, price, shipping] triples: kept as what a buyer pays.
    raw = product["csv"][kf.BUY_BOX_SHIPPING]
    minute, price, shipping = raw[-3:]
    assert bestseller.points("buy_box")[-1] == (minute, price + max(shipping, 0))
    assert len(bestseller.points("buy_box")) == len(raw) // 3  # 187 points, all within bounds


def test_no_offer_is_none_never_minus_one(bestseller: BookHistory) -> None:
    values = [v for pts in bestseller.series.values() for _, v in pts]
    assert None in values  # the recording has stretches without a new/used offer
    assert all(v is None or v > 0 for v in values)


def test_bounded_to_the_last_three_years_and_max_points(bestseller: BookHistory) -> None:
    start = bestseller.as_of - HISTORY_DAYS * DAY
    for name, points in bestseller.series.items():
        assert len(points) <= MAX_POINTS, name
        assert points[0][0] >= start, name
        assert [m for m, _ in points] == sorted(m for m, _ in points), name
    # The rank series has ~4,000 points since Keepa began tracking the book: it was thinned.
    full = full_series("sales_rank", OFFERS)
    assert len(full) > 4000
    assert bestseller.points("sales_rank")[0] == full[0]  # tracked for less than 3 years
    # Bounded to a year, a series starts with its value in force a year back.
    year = history_from_product(load_product(OFFERS), days=365)
    assert year is not None
    start = year.as_of - 365 * DAY
    assert year.points("sales_rank")[0] == (start, value_at(full, start))
    assert all(m > start for m, _ in year.points("sales_rank")[1:])


def test_thinning_keeps_recent_points_extremes_and_the_carried_value(
    bestseller: BookHistory,
) -> None:
    full = full_series("sales_rank", OFFERS)
    kept = bestseller.points("sales_rank")
    recent = [p for p in full if p[0] >= bestseller.as_of - RECENT_DAYS * DAY]
    assert set(recent) <= set(kept)  # the trend windows are exact
    older = [p[1] for p in full if bestseller.as_of - HISTORY_DAYS * DAY < p[0]]
    known = [v for v in older if v is not None]
    assert min(known) in [v for _, v in kept] and max(known) in [v for _, v in kept]
    # Wherever you look, the kept line is within a bucket of the true one: sampled daily, the
    # kept value is one the true line had within the bucket before (a few days).
    recent_start = bestseller.as_of - RECENT_DAYS * DAY
    buckets = (MAX_POINTS - len(recent) - 1) // 4
    bucket = (recent_start - (bestseller.as_of - HISTORY_DAYS * DAY)) / buckets + 1
    assert bucket < 5 * DAY
    for minute in range(kept[0][0], bestseller.as_of, DAY):
        shown = value_at(kept, minute)
        nearby = {v for m, v in full if minute - bucket <= m <= minute}
        assert shown in nearby | {value_at(full, minute), value_at(full, int(minute - bucket))}


@pytest.mark.parametrize("days", [30, 90, 180])
@pytest.mark.parametrize("sample", [ENVELOPE, OFFERS])
def test_sales_are_the_rank_drops_keepa_counts(sample: str, days: int) -> None:
    product = load_product(sample)
    history = history_from_product(product)
    assert history is not None
    start = history.as_of - days * DAY
    sales = [s for s in history.sales if s.minute > start]
    assert len(sales) == product["stats"][f"salesRankDrops{days}"]
    assert all(s.rank_after < s.rank_before for s in sales)


def test_products_without_history_keep_nothing() -> None:
    assert history_from_product(load_product("product-1492056200-untracked.json")) is None
    assert history_from_product({"asin": "0593655036", "csv": None}) is None
    assert history_from_product({"csv": load_product(ENVELOPE)["csv"]}) is None  # no ASIN


def test_stored_form_round_trips_and_is_compact(bestseller: BookHistory) -> None:
    stored = json.dumps(history_to_json(bestseller), separators=(",", ":"))
    assert history_from_json(json.loads(stored)) == bestseller
    # Keepa's ~4,000-point bestseller (the heaviest kind of book) in under 64 KB of JSON.
    assert len(stored) < 64_000


def test_window_starts_with_the_value_then_in_force(bestseller: BookHistory) -> None:
    days = 30
    start = bestseller.as_of - days * DAY
    cut = window(bestseller, days)
    for name, points in cut.series.items():
        assert points[0] == (start, value_at(bestseller.points(name), start)), name
        assert all(m > start for m, _ in points[1:]), name
    assert cut.sales and all(s.minute > start for s in cut.sales)
    assert len(cut.sales) == load_product(OFFERS)["stats"]["salesRankDrops30"]


def test_amazon_presence_intervals() -> None:
    points: list[Point] = [(10, None), (20, 1500), (30, 1400), (40, None), (50, 1600)]
    assert presence_intervals(points, end=90) == [(20, 40), (50, 90)]
    assert presence_intervals([], end=90) == []


def test_thinned_keeps_spikes_gaps_and_the_start() -> None:
    rng = random.Random(7)
    points: list[Point] = [(m, 1000 + rng.randint(-50, 50)) for m in range(0, 100_000, 10)]
    points[3333] = (points[3333][0], 9999)  # a spike
    points[6666] = (points[6666][0], None)  # a day without an offer
    kept = thinned(points, 0, 100_000, 400)
    assert len(kept) <= 400
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert points[3333] in kept and points[6666] in kept


def test_summary_is_the_snapshots_headline_in_json() -> None:
    product = load_product(OFFERS)
    summary = snapshot_summary(parse_keepa_product(product))
    assert json.loads(json.dumps(summary)) == summary  # storable as it is
    assert summary["sales_rank"] == product["stats"]["current"][kf.SALES]
    assert summary["title"] == product["title"]
    assert summary["buy_box_new_with_shipping"] == pytest.approx(
        (product["stats"]["buyBoxPrice"] + max(product["stats"]["buyBoxShipping"], 0)) / 100
    )


_ODD: st.SearchStrategy[Any] = st.sampled_from(
    [None, -1, -2, 0, [], {}, "", [None], [-1, -1], [7_000_000, 1.5], 1.5, True, "x", [3, 2, 1, 1]]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_odd_but_well_formed_products_never_break_the_fetch(data: st.DataObject) -> None:
    """Kept in the snapshot's transaction: an exception here would fail the analyses."""
    product = dict(load_product(ENVELOPE))
    csv = [None if s is None else s[-90:] for s in product["csv"]]
    for index in data.draw(st.lists(st.sampled_from(sorted(SERIES.values())), max_size=5)):
        csv[index] = data.draw(_ODD)
    product["csv"] = csv
    for key in data.draw(st.lists(st.sampled_from(["asin", "lastUpdate", "title"]), max_size=3)):
        product[key] = data.draw(_ODD)
    if data.draw(st.booleans()):
        product["csv"] = data.draw(_ODD)
    history = history_from_product(product)
    if history is not None:
        assert history_from_json(json.loads(json.dumps(history_to_json(history)))) == history
        assert all(len(p) <= MAX_POINTS for p in history.series.values())
