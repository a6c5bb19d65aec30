"""The parser on Keepa product shapes the recorded samples do not show.

Built from Keepa's format (keepacom/api_backend Product.java, Stats.java, Offer.java,
ProductAnalyzer.java): ``csv[i]`` is ``[time, value, ...]`` oldest first, ``[time, price,
shipping, ...]`` for the *_SHIPPING indices (7, 18, 19-29, 32), whose current value is the landed
price (a negative price stays "no offer", a negative shipping adds nothing); ``stats.current``
uses the csv indices (landed for the shipping ones); ``-1`` is "no offer / no data", ``-2`` "does
not exist"; an offer's current price and shipping are the newest (last) ``offerCSV`` triple.
Each field comes from ``stats``, else the newest ``csv`` point, else the live ``offers``; a value
nobody knows is None, never 0. Expected numbers are worked out by hand in the comments.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any, cast

import pytest
from analysis_testkit import AS_OF_2026_05, TYPICAL_COSTS, item, load_product, product_copy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis_service.domain import (
    Fulfillment,
    MarketSnapshot,
    MarketUsability,
    analyse,
    market_snapshot_from_json,
    market_snapshot_to_json,
    parse_keepa_product,
    strategy_preset,
)

D = Decimal
OFFERS = "product-0593655036-offers.json"
ENVELOPE = "envelope-0593655036.json"
T = 7_700_000  # a Keepa minute (2025-08-22); history points are T, T + 60, ...
ISBN = "0593655036"

SHIPPING_INDICES = (7, 18, 19, 20, 21, 22, 32)
PRICE_FIELDS = (
    "amazon_price", "new_price", "used_price", "new_fba_price", "new_fbm_with_shipping",
    "buy_box_new_with_shipping", "buy_box_used_with_shipping", "used_like_new_with_shipping",
    "used_very_good_with_shipping", "used_good_with_shipping", "used_acceptable_with_shipping",
    "lowest_new_with_shipping", "lowest_used_with_shipping", "lowest_fba_used_with_shipping",
    "avg90_amazon", "avg90_new", "avg90_used", "avg90_buy_box_new", "avg90_buy_box_used",
    "avg30_new", "avg30_used", "avg30_buy_box_new", "avg30_buy_box_used", "avg180_new",
    "avg180_used", "avg180_buy_box_new", "avg180_buy_box_used",
    "keepa_pick_and_pack_fee", "referral_fee_percentage", "variable_closing_fee",
)  # fmt: skip
POSITIVE_INT_FIELDS = (
    "sales_rank", "sales_rank_avg30", "sales_rank_avg90", "monthly_sold", "package_weight_g",
    "package_length_mm", "package_width_mm", "package_height_mm",
)  # fmt: skip
COUNT_FIELDS = (
    "new_offer_count", "used_offer_count", "new_fba_offer_count", "new_fbm_offer_count",
    "used_fba_offer_count", "used_fbm_offer_count", "sales_rank_drops30", "sales_rank_drops90",
    "sales_rank_drops180", "sales_rank_points", "new_price_points", "used_price_points",
)  # fmt: skip
HEADER_FIELDS = frozenset(
    {"asin", "usability", "usability_reason", "title", "binding", "product_group",
     "root_category", "keepa_says_book", "last_update", "lowest_offers", "sources"}
)  # fmt: skip
VALUE_FIELDS = tuple(
    f.name for f in dataclasses.fields(MarketSnapshot) if f.name not in HEADER_FIELDS
)


# --- builders ------------------------------------------------------------------------------------


def book(**fields: Any) -> dict[str, Any]:
    """A minimal tracked book: only what Keepa always sends for one, plus ``fields``."""
    product: dict[str, Any] = {
        "asin": ISBN, "productType": 0, "productGroup": "Book", "rootCategory": 283155,
        "lastUpdate": T + 1000,
    }  # fmt: skip
    product.update(fields)
    return product


def csv_of(series: dict[int, list[Any]], size: int = 34) -> list[Any]:
    csv: list[Any] = [None] * max(size, *(i + 1 for i in series))
    for index, values in series.items():
        csv[index] = values
    return csv


def current(values: dict[int, int], size: int = 34) -> list[int]:
    result = [-1] * size
    for index, value in values.items():
        result[index] = value
    return result


def offer(
    condition: int,
    price: int,
    shipping: int = 0,
    *,
    fba: bool = False,
    amazon: bool = False,
    minute: int = T + 900,
    older: tuple[tuple[int, int, int], ...] = (),
) -> dict[str, Any]:
    history = [v for triple in older for v in triple] + [minute, price, shipping]
    return {
        "condition": condition, "offerCSV": history, "isFBA": fba, "isPrime": fba,
        "isAmazon": amazon, "isShippable": True, "isScam": False, "lastSeen": minute,
        "sellerId": f"SELLER{condition}{price}",
    }  # fmt: skip


def with_offers(product: dict[str, Any], *offers: dict[str, Any]) -> dict[str, Any]:
    product["offers"] = list(offers)
    product["liveOffersOrder"] = list(range(len(offers)))
    return product


def parse(product: Any) -> MarketSnapshot:
    snapshot = parse_keepa_product(product)
    assert market_snapshot_from_json(market_snapshot_to_json(snapshot)) == snapshot
    return snapshot


def assert_sane(s: MarketSnapshot) -> None:
    """Unknown is None: no price/rank/size is ever 0 or negative, no count negative, and every
    known value says where it came from (and only known values do)."""
    for name in PRICE_FIELDS:
        value = getattr(s, name)
        assert value is None or (isinstance(value, Decimal) and value > 0), (name, value)
    for name in POSITIVE_INT_FIELDS:
        value = getattr(s, name)
        assert value is None or (type(value) is int and value > 0), (name, value)
    for name in COUNT_FIELDS:
        value = getattr(s, name)
        assert value is None or (type(value) is int and value >= 0), (name, value)
    for name in ("price_spread90_new", "price_spread90_used"):
        value = getattr(s, name)
        assert value is None or value >= 0, (name, value)
    for name in ("amazon_on_listing", "amazon_delayed", "is_hazmat"):
        assert getattr(s, name) in (None, True, False), name
    known = {name for name in VALUE_FIELDS if getattr(s, name) is not None}
    assert known == set(s.sources), known ^ set(s.sources)
    assert set(s.sources.values()) <= {"stats", "csv", "offers", "product"}
    for o in s.lowest_offers:
        assert 1 <= o.condition <= 5 and o.price > 0
        assert o.shipping is None or o.shipping >= 0


# --- csv: newest point, pairs and triples ------------------------------------------------------


def test_csv_latest_is_the_newest_point_not_the_oldest() -> None:
    product = book(csv=csv_of({1: [T, 2000, T + 60, 1500, T + 120, 1234], 3: [T, 900, T + 5, 42]}))
    s = parse(product)
    assert s.new_price == D("12.34")  # newest pair [T + 120, 1234], not the oldest 2000
    assert s.sales_rank == 42
    assert (s.sources["new_price"], s.sources["sales_rank"]) == ("csv", "csv")
    assert s.new_price_points == 3 and s.sales_rank_points == 2


def test_a_newest_csv_point_of_minus_one_means_no_offer_now() -> None:
    s = parse(book(csv=csv_of({0: [T, 1999, T + 60, -1], 2: [T, 1500, T + 60, -2]})))
    assert s.amazon_price is None  # not the older 19.99, and not 0
    assert s.used_price is None
    assert s.amazon_on_listing is False  # csv[0] says Amazon has no offer now
    assert_sane(s)


@pytest.mark.parametrize("index", SHIPPING_INDICES)
def test_shipping_series_are_read_as_triples_and_landed(index: int) -> None:
    # [time, price, shipping]: newest triple 1600 + 499 = 20.99 (the older one is 15.00 + 3.99)
    s = parse(book(csv=csv_of({index: [T, 1500, 399, T + 60, 1600, 499]})))
    field = {
        7: "new_fbm_with_shipping", 18: "buy_box_new_with_shipping",
        19: "used_like_new_with_shipping", 20: "used_very_good_with_shipping",
        21: "used_good_with_shipping", 22: "used_acceptable_with_shipping",
        32: "buy_box_used_with_shipping",
    }[index]  # fmt: skip
    assert getattr(s, field) == D("20.99")
    assert s.sources[field] == "csv"
    # Keepa's ProductAnalyzer.getLast: shipping -1 (unspecified) adds nothing ...
    s = parse(book(csv=csv_of({index: [T, 1500, 399, T + 60, 1600, -1]})))
    assert getattr(s, field) == D("16.00")
    # ... and a price of -1 is "no offer" whatever the shipping says (not 3.98 = -0.01 + 3.99).
    s = parse(book(csv=csv_of({index: [T, 1500, 399, T + 60, -1, 399]})))
    assert getattr(s, field) is None


@pytest.mark.parametrize(
    "series",
    [
        [T, 1523, T + 60, 1400, T + 120, 1300],  # pairs: would read 14.00 + T + 60 as landed
        [T, 1523, T + 60, 1400],  # 4 numbers: no whole triples
        [T, 1523],  # a pair where a triple belongs
        [T, 1500, 0, T + 60, 1600],  # last triple cut short
    ],
)
def test_a_shipping_series_that_is_not_whole_triples_is_unknown(series: list[int]) -> None:
    s = parse(book(csv=csv_of({18: series, 21: series})))
    assert s.buy_box_new_with_shipping is None
    assert s.used_good_with_shipping is None
    assert_sane(s)


@pytest.mark.parametrize(
    "series",
    [
        [T, 1500, T + 60],  # odd length: the newest value is missing
        [T + 60, 1500, T, 1200],  # times going backwards: not a Keepa history
        [T, 1500, 399],  # a triple on a pair index
        [T, 1500, "T+60", 1200],  # a time that is not a number
    ],
)
def test_a_pair_series_that_is_malformed_is_unknown_and_offers_take_over(
    series: list[Any],
) -> None:
    product = with_offers(book(csv=csv_of({2: series, 12: series, 3: series})), offer(4, 1100, 399))
    s = parse(product)
    assert s.used_price is None and s.sales_rank is None
    assert s.used_offer_count == 1 and s.sources["used_offer_count"] == "offers"
    assert s.lowest_used_with_shipping == D("14.99")  # the live offer 11.00 + 3.99
    assert s.sources["lowest_used_with_shipping"] == "offers"
    assert s.sales_rank_points is None  # not a made-up count of points
    assert_sane(s)


def test_csv_shorter_or_longer_than_the_known_indices() -> None:
    short = parse(book(csv=[[T, 1999], [T, 1500]]))  # only AMAZON and NEW
    assert (short.amazon_price, short.new_price, short.used_price) == (D("19.99"), D("15.00"), None)
    assert short.sales_rank_points == 0  # csv came, it has no SALES series
    longer = book(csv=csv_of({34: [T, 2, T + 60, 3], 35: [T, 5]}, size=40))
    s = parse(longer)
    assert (s.new_fba_offer_count, s.new_fbm_offer_count) == (3, 5)  # COUNT_NEW_FBA / _FBM
    assert s.sources["new_fba_offer_count"] == "csv"


def test_rating_and_review_series_do_not_leak_into_prices() -> None:
    # RATING (16, 0-50) and COUNT_REVIEWS (17) are pairs next to BUY_BOX_SHIPPING (18, triples).
    s = parse(book(csv=csv_of({16: [T, 45], 17: [T, 1200, T + 60, 1300], 18: [T, 1800, 0]})))
    assert s.buy_box_new_with_shipping == D("18.00")
    assert s.new_price is None and s.amazon_price is None
    assert_sane(s)


# --- fallback order ----------------------------------------------------------------------------


def _three_layers() -> dict[str, Any]:
    """stats, csv and offers that all know the same fields, each with a different number."""
    stats = {
        "current": current({0: 1700, 1: 1600, 2: 1300, 3: 50, 11: 5, 12: 6, 21: 1450}),
        "offerCountFBA": 2, "offerCountFBM": 1,
    }  # fmt: skip
    csv = csv_of({
        0: [T, 1710], 1: [T, 1610], 2: [T, 1310], 3: [T, 60], 11: [T, 7], 12: [T, 8],
        21: [T, 1000, 480], 34: [T, 4], 35: [T, 9],
    })  # fmt: skip
    offers = (
        offer(1, 1400, 0, fba=True), offer(1, 1450, 399),
        offer(4, 900, 399), offer(4, 950, 0, fba=True), offer(2, 2000, 0),
    )  # fmt: skip
    return with_offers(book(stats=stats, csv=csv), *offers)


@pytest.mark.parametrize(
    ("field", "from_stats", "from_csv", "from_offers"),
    [
        ("new_offer_count", 5, 7, 2),
        ("used_offer_count", 6, 8, 3),
        ("new_fba_offer_count", 2, 4, 1),  # stats.offerCountFBA, csv[34], live new FBA offers
        ("new_fbm_offer_count", 1, 9, 1),
        ("used_good_with_shipping", D("14.50"), D("14.80"), None),  # 1000 + 480
        ("lowest_used_with_shipping", D("14.50"), D("14.80"), D("9.50")),  # 950 FBA < 900 + 399
        ("sales_rank", 50, 60, None),
        ("amazon_price", D("17.00"), D("17.10"), None),
    ],
)
def test_stats_then_newest_csv_point_then_live_offers(
    field: str, from_stats: Any, from_csv: Any, from_offers: Any
) -> None:
    product = _three_layers()
    s = parse(product)
    assert (getattr(s, field), s.sources[field]) == (from_stats, "stats")
    del product["stats"]
    s = parse(product)
    assert (getattr(s, field), s.sources[field]) == (from_csv, "csv")
    product["csv"] = None
    s = parse(product)
    assert getattr(s, field) == from_offers
    assert s.sources.get(field) == (None if from_offers is None else "offers")
    del product["offers"]
    s = parse(product)
    assert getattr(s, field) is None and field not in s.sources
    assert_sane(s)


def test_stats_current_shorter_than_an_index_falls_back_to_csv() -> None:
    product = _three_layers()
    for length in range(35):
        product["stats"]["current"] = current(
            {0: 1700, 1: 1600, 2: 1300, 3: 50, 11: 5, 12: 6, 21: 1450}
        )[:length]
        s = parse(product)
        assert s.amazon_price == (D("17.00") if length > 0 else D("17.10"))
        assert s.sales_rank == (50 if length > 3 else 60)
        assert s.used_offer_count == (6 if length > 12 else 8)
        assert s.used_good_with_shipping == (D("14.50") if length > 21 else D("14.80"))
        assert_sane(s)


def test_zero_counts_are_real_and_minus_one_counts_are_unknown() -> None:
    zero = parse(book(stats={"current": current({1: 1500, 11: 0, 12: 0}), "salesRankDrops30": 0}))
    assert (zero.new_offer_count, zero.used_offer_count, zero.sales_rank_drops30) == (0, 0, 0)
    unknown = parse(
        book(stats={"current": current({1: 1500}), "salesRankDrops30": -1, "offerCountFBA": -2})
    )
    assert unknown.new_offer_count is None and unknown.used_offer_count is None
    assert unknown.sales_rank_drops30 is None and unknown.new_fba_offer_count is None
    # Offers were requested and none is live: a known zero, from the offers.
    none_live = parse(with_offers(book(stats={"current": current({1: 1500})})))
    assert none_live.used_fba_offer_count == 0 and none_live.sources["used_fba_offer_count"] == (
        "offers"
    )
    assert none_live.lowest_fba_used_with_shipping is None


def test_all_unknown_values_are_none_not_zero() -> None:
    minus = {i: (-2 if i % 2 else -1) for i in range(34)}
    product = book(
        stats={
            "current": current(minus), "avg30": current(minus), "avg90": current(minus),
            "buyBoxPrice": -2, "buyBoxShipping": -2, "buyBoxUsedPrice": -1,
            "offerCountFBA": -2, "offerCountFBM": -2, "salesRankDrops30": -1,
            "salesRankDrops90": -1, "salesRankDrops180": -1, "lastOffersUpdate": -1,
        },
        csv=csv_of({i: [T, -1] for i in (0, 1, 2, 3, 10, 11, 12)}),
        packageWeight=0, packageLength=-1, packageWidth=0, packageHeight=-1,
        fbaFees={"pickAndPackFee": 0}, referralFeePercentage=0, variableClosingFee=-1,
        monthlySold=0, monthlySoldHistory=[T, 50, T + 60, -1], availabilityAmazon=-1,
    )  # fmt: skip
    s = parse(product)
    assert s.usability is MarketUsability.NO_MARKET_DATA
    for name in (*PRICE_FIELDS, *POSITIVE_INT_FIELDS):
        assert getattr(s, name) is None, name
    for name in COUNT_FIELDS:
        if not name.endswith("_points"):
            assert getattr(s, name) is None, name
    assert s.amazon_on_listing is False
    assert_sane(s)


# --- offers ---------------------------------------------------------------------------------------


def test_offer_price_is_the_newest_offer_csv_triple() -> None:
    older = ((T, 500, 0), (T + 60, 700, 399))
    s = parse(with_offers(book(), offer(3, 1800, 0, older=older)))
    very_good = s.lowest_offer(3)
    assert very_good is not None
    assert (very_good.price, very_good.shipping) == (D("18.00"), D("0.00"))  # not 5.00
    # README: unix_seconds = (keepa_minute + 21564000) * 60
    assert very_good.seen_at == datetime.fromtimestamp((T + 900 + 21564000) * 60, UTC)


def test_an_offer_whose_newest_price_is_unknown_is_not_priced_from_its_past() -> None:
    s = parse(with_offers(book(), offer(4, -2, 0, older=((T, 500, 0),))))
    assert s.lowest_offer(4) is None and s.lowest_used_with_shipping is None
    assert s.used_offer_count == 0  # nothing to count: the offer has no price now


def test_offer_shipping_minus_one_is_unknown_shipping() -> None:
    s = parse(with_offers(book(), offer(5, 700, -1), offer(5, 650, -2)))
    acceptable = s.lowest_offer(5)
    assert acceptable is not None and acceptable.shipping is None
    assert acceptable.price == D("6.50")
    assert s.lowest_used_with_shipping == D("6.50")


@pytest.mark.parametrize(
    "history",
    [
        [T, 1500, 399, T + 60],  # 4: a triple and a dangling time
        [T, 1500, 399, T + 60, 1400],  # 5: last triple cut short
        [T, 1500],  # no whole triple
        [T + 60, 1500, 399, T, 1400, 0],  # times going backwards
        [],
    ],
)
def test_an_offer_csv_that_is_not_whole_triples_is_ignored(history: list[int]) -> None:
    bad = offer(2, 1, 0)
    bad["offerCSV"] = history
    s = parse(with_offers(book(), bad, offer(2, 2100, 399)))
    like_new = s.lowest_offer(2)
    assert like_new is not None and like_new.landed == D("24.99")  # the well-formed offer
    assert_sane(s)


def test_every_offer_condition_and_channel() -> None:
    offers = [
        offer(condition, 1000 + 100 * condition + (10 if fba else 0), 0 if fba else 399, fba=fba)
        for condition in range(12)  # 0 unknown, 6 refurbished, 7-10 collectible, 11 not Keepa's
        for fba in (True, False)
    ]
    s = parse(with_offers(book(), *offers))
    assert sorted({o.condition for o in s.lowest_offers}) == [1, 2, 3, 4, 5]
    assert len(s.lowest_offers) == 10
    assert s.new_offer_count == 2 and s.used_offer_count == 8
    assert (s.used_fba_offer_count, s.used_fbm_offer_count) == (4, 4)
    assert s.lowest_new_with_shipping == D("11.10")  # condition 1 FBA 1110 < FBM 1100 + 399
    assert s.lowest_used_with_shipping == D("12.10")  # condition 2 FBA 1210 + 0
    assert s.lowest_fba_used_with_shipping == D("12.10")
    fbm_good = s.lowest_offer(4, Fulfillment.FBM)
    assert fbm_good is not None and fbm_good.landed == D("17.99")  # 1400 + 399
    assert_sane(s)


def test_live_offers_order_with_duplicates_bad_and_out_of_range_indices() -> None:
    product = with_offers(book(), offer(1, 1500), offer(4, 800, 399), offer(4, 600, 399))
    product["liveOffersOrder"] = [1, 1, -1, 7, None, "0", True, 1.0]
    s = parse(product)
    assert s.used_offer_count == 1 and s.new_offer_count == 0  # only offers[1] is live
    assert s.lowest_used_with_shipping == D("11.99")


def test_offers_without_live_order_use_the_last_offers_update() -> None:
    product = with_offers(
        book(stats={"lastOffersUpdate": T + 900}),
        offer(4, 800, 399, minute=T + 900),
        offer(4, 500, 0, minute=T + 100),  # not seen at the last update: gone
    )
    del product["liveOffersOrder"]
    s = parse(product)
    assert s.used_offer_count == 1 and s.lowest_used_with_shipping == D("11.99")
    del product["stats"]  # no lastOffersUpdate: the newest lastSeen decides
    s = parse(product)
    assert s.used_offer_count == 1 and s.lowest_used_with_shipping == D("11.99")


# --- buy box --------------------------------------------------------------------------------------


@pytest.mark.parametrize("condition", [None, -2, -1, 0, 1])
def test_an_unknown_buy_box_condition_does_not_hide_the_new_buy_box(condition: Any) -> None:
    stats = {"current": current({18: 1523}), "buyBoxCondition": condition}
    s = parse(book(stats=stats))
    assert s.buy_box_new_with_shipping == D("15.23")


@pytest.mark.parametrize("condition", [2, 3, 4, 5, 6, 10])
def test_a_used_buy_box_is_not_a_new_price(condition: int) -> None:
    stats = {"current": current({18: 1523}), "buyBoxCondition": condition, "buyBoxPrice": 1523}
    product = book(stats=stats, csv=csv_of({18: [T, 1523, 0]}))
    assert parse(product).buy_box_new_with_shipping is None
    stats.update(buyBoxCondition=None, buyBoxIsUsed=True)
    assert parse(product).buy_box_new_with_shipping is None


def test_buy_box_from_stats_fields_when_current_lacks_it() -> None:
    stats: dict[str, Any] = {"current": [-1, 1500], "buyBoxPrice": 1500, "buyBoxShipping": 399}
    s = parse(book(stats=stats))
    assert s.buy_box_new_with_shipping == D("18.99")  # 1500 + 399
    stats["buyBoxShipping"] = -2  # unknown shipping adds nothing (Keepa's own landed rule)
    assert parse(book(stats=stats)).buy_box_new_with_shipping == D("15.00")
    stats.update(buyBoxUsedPrice=900, buyBoxUsedShipping=399)
    assert parse(book(stats=stats)).buy_box_used_with_shipping == D("12.99")
    for key in list(stats):
        if key.startswith("buyBox"):
            del stats[key]
    s = parse(book(stats=stats))
    assert s.buy_box_new_with_shipping is None and s.buy_box_used_with_shipping is None


# --- product fields -------------------------------------------------------------------------------


def test_referral_fee_percentage_falls_back_and_rejects_nonsense() -> None:
    assert parse(book(referralFeePercent=15)).referral_fee_percentage == D(15)
    both = book(referralFeePercentage=None, referralFeePercent=15)
    assert parse(both).referral_fee_percentage == D(15)
    for bad in (float("nan"), float("inf"), -1, 0, 250, True, "15"):
        assert parse(book(referralFeePercentage=bad)).referral_fee_percentage is None, bad


@pytest.mark.parametrize(
    ("availability", "on_listing", "delayed"),
    [(-1, False, False), (0, True, False), (1, True, False), (2, True, False), (3, True, False),
     (4, True, True), (-2, None, None), (7, None, None), (None, None, None)],
)  # fmt: skip
def test_amazon_availability(
    availability: Any, on_listing: bool | None, delayed: bool | None
) -> None:
    """Product.AvailabilityType: -1 no offer, 0 now, 1 pre-order, 2 unknown, 3 back-order,
    4 delayed (an Amazon offer that ships later, availabilityAmazonDelay hours)."""
    s = parse(book(availabilityAmazon=availability, stats={"current": [-2, 1500]}))
    assert (s.amazon_on_listing, s.amazon_delayed) == (on_listing, delayed)
    assert_sane(s)


def test_amazon_delayed_is_flagged_and_amazon_stays_on_the_listing() -> None:
    product = product_copy(OFFERS)
    product["availabilityAmazon"] = 4
    product["availabilityAmazonDelay"] = [48, 72]
    a = analyse(item(ISBN, "5.00"), parse(product), strategy_preset("balanced"), TYPICAL_COSTS,
                as_of=AS_OF_2026_05)  # fmt: skip
    assert "amazon_on_listing" in a.risk_flags and "amazon_delayed" in a.risk_flags
    plain = analyse(item(ISBN, "5.00"), parse(load_product(OFFERS)), strategy_preset("balanced"),
                    TYPICAL_COSTS, as_of=AS_OF_2026_05)  # fmt: skip
    assert "amazon_delayed" not in plain.risk_flags  # availabilityAmazon 0: in stock


# --- NEW (csv[1]) with or without shipping ------------------------------------------------------

SWITCH = 7_956_000  # 2026-02-16 00:00 UTC in Keepa minutes: NEW includes shipping from then


@pytest.mark.parametrize(
    ("last_update", "landed"), [(SWITCH - 1, False), (SWITCH, True), (SWITCH + 400_000, True)]
)
def test_new_is_landed_once_keepa_collected_it_from_2026_02_16(
    last_update: int, landed: bool
) -> None:
    """Product.java, CsvType.NEW: "Shipping costs not included for data collections before Feb
    16th 2026". Collected since (lastUpdate), stats.current[1] is the landed lowest new price:
    lowest_new_with_shipping, not new_price (which is the price without shipping)."""
    s = parse(book(lastUpdate=last_update, stats={"current": current({1: 1500})}))
    assert_sane(s)
    if landed:
        assert (s.new_price, s.lowest_new_with_shipping) == (None, D("15.00"))
        assert s.sources["lowest_new_with_shipping"] == "stats"
    else:
        assert (s.new_price, s.lowest_new_with_shipping) == (D("15.00"), None)


def test_landed_new_from_csv_and_without_last_update() -> None:
    # csv only: the newest NEW point [SWITCH + 60, 1499]; lastUpdate set after the switch
    series = {1: [T, 1400, SWITCH + 60, 1499]}
    s = parse(book(lastUpdate=SWITCH + 100, csv=csv_of(series)))
    assert (s.new_price, s.lowest_new_with_shipping) == (None, D("14.99"))
    assert s.sources["lowest_new_with_shipping"] == "csv"
    # Without lastUpdate, the newest point's own time decides.
    undated = book(csv=csv_of(series))
    del undated["lastUpdate"]
    assert parse(undated).lowest_new_with_shipping == D("14.99")
    before = book(csv=csv_of({1: [T, 1400, SWITCH - 60, 1499]}))
    del before["lastUpdate"]
    assert (parse(before).new_price, parse(before).lowest_new_with_shipping) == (D("14.99"), None)


def test_landed_new_is_the_lowest_new_over_every_channel() -> None:
    # NEW 1490 (landed: every channel, Amazon included) below the FBM series' 1522, FBA 1521
    stats = {"current": current({0: 1523, 1: 1490, 7: 1522, 10: 1521})}
    s = parse(book(lastUpdate=SWITCH + 10, stats=stats))
    assert s.lowest_new_with_shipping == D("14.90")
    # Before the switch the same NEW lacks its shipping: the landed series decide.
    old = parse(book(lastUpdate=SWITCH - 10, stats=stats))
    assert (old.new_price, old.lowest_new_with_shipping) == (D("14.90"), D("15.21"))


def test_a_new_copy_priced_on_landed_new_is_no_floor() -> None:
    stats = {"current": current({1: 1500, 11: 3})}
    landed = analyse(item(ISBN, "5.00", "new"), parse(book(lastUpdate=SWITCH, stats=stats)),
                     strategy_preset("balanced"), TYPICAL_COSTS, as_of=AS_OF_2026_05)  # fmt: skip
    assert (landed.sell_price, landed.price_basis) == (D("15.00"), "lowest_offer_plus_shipping")
    old = analyse(item(ISBN, "5.00", "new"), parse(book(lastUpdate=SWITCH - 1, stats=stats)),
                  strategy_preset("balanced"), TYPICAL_COSTS, as_of=AS_OF_2026_05)  # fmt: skip
    assert (old.sell_price, old.price_basis) == (D("15.00"), "lowest_offer_excl_shipping")


def test_new_price_spread_compares_only_landed_points_after_the_switch() -> None:
    """90 days up to lastUpdate SWITCH + 30 days reach back before the switch: the NEW points
    without shipping (1000) are not compared with the landed ones (1500, 1600). Spread
    (1600 - 1500) / mean 1550 = 0.0645 (Keepa's mixed 90-day average is not used)."""
    day = 1440
    series = {1: [SWITCH - 20 * day, 1000, SWITCH + day, 1500, SWITCH + 2 * day, 1600]}
    stats = {"current": current({1: 1600}), "avg90": current({1: 1300})}
    s = parse(book(lastUpdate=SWITCH + 30 * day, csv=csv_of(series), stats=stats))
    assert s.price_spread90_new == D("0.0645")
    # All before the switch: every point, over Keepa's average, (1600 - 1000) / 1300.
    early = {1: [T, 1000, T + day, 1500, T + 2 * day, 1600]}
    stats_early = {"current": current({1: 1600}), "avg90": current({1: 1300})}
    old = parse(book(lastUpdate=T + 30 * day, csv=csv_of(early), stats=stats_early))
    assert old.price_spread90_new == D("0.4615")


def test_hazmat_values() -> None:
    assert parse(book(hazardousMaterials=False)).is_hazmat is False
    assert parse(book(hazardousMaterials=[])).is_hazmat is False
    assert parse(book(hazardousMaterials=[{"aspect": "ghs"}])).is_hazmat is True
    assert parse(book()).is_hazmat is None


def test_monthly_sold_history_uses_its_newest_point() -> None:
    assert parse(book(monthlySoldHistory=[T, 100, T + 60, 200])).monthly_sold == 200
    assert parse(book(monthlySoldHistory=[T, 100, T + 60, -1])).monthly_sold is None
    assert parse(book(monthlySoldHistory=[T + 60, 100, T, 200])).monthly_sold is None
    assert parse(book(monthlySoldHistory=[T, 100, T + 60])).monthly_sold is None
    assert parse(book(monthlySold=300, monthlySoldHistory=[T, 100])).monthly_sold == 300


def test_root_category_from_the_category_tree() -> None:
    tree = [{"catId": 283155, "name": "Books"}, {"catId": 4736, "name": "Self-Help"}]
    product = book(categoryTree=tree, stats={"current": [-1, 1500]})
    del product["rootCategory"], product["productGroup"]
    product["asin"] = "B0TESTBOOK"  # not an ISBN-10: only the category says book
    s = parse(product)
    assert (s.usability, s.root_category) == (MarketUsability.USABLE, 283155)
    product["categoryTree"] = [{"catId": 133140011, "name": "Kindle Store"}]
    assert parse(product).usability is MarketUsability.NOT_A_BOOK
    product["rootCategory"] = 202437540011  # a Java long category id is still a category
    assert parse(product).root_category == 202437540011


@pytest.mark.parametrize("product_type", [1, 2])
def test_digital_product_types_are_not_books(product_type: int) -> None:
    s = parse(book(productType=product_type, stats={"current": [-1, 999]}))
    assert s.usability is MarketUsability.NOT_A_BOOK


@pytest.mark.parametrize("product_type", [3, 4, 5, None, "0", -1])
def test_other_product_types_without_prices_have_no_market_data(product_type: Any) -> None:
    s = parse(book(productType=product_type, stats={"current": current({})}, csv=None))
    assert s.usability is MarketUsability.NO_MARKET_DATA
    assert_sane(s)


@pytest.mark.parametrize(
    "value", [2**40, 10**30, -(10**30), float("inf"), float("nan"), 1e300, 1523.5]
)
def test_out_of_range_numbers_are_unknown_and_never_raise(value: Any) -> None:
    product = with_offers(
        book(
            lastUpdate=value,
            packageWeight=value,
            monthlySold=value,
            variableClosingFee=value,
            fbaFees={"pickAndPackFee": value},
            stats={"current": [value] * 34, "avg90": [value] * 34, "buyBoxPrice": value},
            csv=csv_of({1: [T, value], 3: [T, value], 18: [T, value, value], 2: [value, 5]}),
        ),
        offer(4, value, value, minute=T),
        {**offer(2, 900), "offerCSV": [value, 900, 0], "lastSeen": value},
    )
    s = parse(product)
    assert_sane(s)
    for name in ("new_price", "sales_rank", "package_weight_g", "buy_box_new_with_shipping"):
        assert getattr(s, name) is None, name
    assert s.last_update is None


@pytest.mark.parametrize("product", [None, [], "0593655036", 42, {"stats": [], "csv": {}}])
def test_not_a_product_object(product: Any) -> None:
    s = parse(cast(Any, product))
    assert s.usability is MarketUsability.NOT_A_BOOK
    assert_sane(s)


# --- the recorded samples, mutated ----------------------------------------------------------------

OPTIONAL_KEYS = (
    "packageWeight", "packageLength", "packageWidth", "packageHeight", "fbaFees", "monthlySold",
    "monthlySoldHistory", "salesRanks", "salesRankReference", "categoryTree", "categories",
    "eanList", "upcList", "title", "binding", "variableClosingFee", "availabilityAmazon",
    "lastUpdate", "productType", "type", "websiteDisplayGroup", "hazardousMaterials",
    "buyBoxSellerIdHistory", "buyBoxUsedHistory", "offersSuccessful", "trackingSince",
)  # fmt: skip
OPTIONAL_STATS_KEYS = (
    "current", "avg30", "avg90", "avg180", "avg", "buyBoxPrice", "buyBoxShipping",
    "buyBoxCondition", "buyBoxIsUsed", "buyBoxUsedPrice", "buyBoxUsedShipping", "offerCountFBA",
    "offerCountFBM", "salesRankDrops30", "salesRankDrops90", "salesRankDrops180",
    "lastOffersUpdate", "totalOfferCount", "minInInterval", "maxInInterval",
)  # fmt: skip


@pytest.mark.parametrize("name", [OFFERS, ENVELOPE])
def test_removing_an_optional_key_only_makes_values_unknown(name: str) -> None:
    """Without a key, each value is what it was or None: never another number, never 0.
    (stats.current agrees with the newest csv points in these samples. Without stats.avg90 the
    90-day spread is over the plain mean of the csv points instead, so it may differ.)"""
    full = load_product(name)
    base = parse(full)
    cases: list[tuple[str, dict[str, Any]]] = []
    for key in OPTIONAL_KEYS:
        cases.append((key, {k: v for k, v in full.items() if k != key}))
    for key in OPTIONAL_STATS_KEYS:
        stats = {k: v for k, v in full["stats"].items() if k != key}
        cases.append((f"stats.{key}", {**full, "stats": stats}))
    for what, product in cases:
        s = parse(product)
        assert_sane(s)
        for field in (*VALUE_FIELDS, "lowest_offers", "root_category", "title"):
            before, after = getattr(base, field), getattr(s, field)
            if what == "stats.avg90" and field.startswith("price_spread90"):
                assert after is not None and abs(after - before) < D("0.05"), (field, after)
                continue
            assert after in (before, None, ()), (what, field, before, after)


def test_stats_current_replaced_by_csv_gives_the_same_numbers() -> None:
    full = load_product(OFFERS)
    base = parse(full)
    stats = {k: v for k, v in full["stats"].items() if not k.startswith("buyBox")}
    s = parse({**full, "stats": {**stats, "current": []}})
    for field in (
        "amazon_price", "new_price", "used_price", "new_fba_price", "new_fbm_with_shipping",
        "buy_box_new_with_shipping", "used_like_new_with_shipping",
        "used_very_good_with_shipping", "used_good_with_shipping",
        "used_acceptable_with_shipping", "sales_rank", "new_offer_count", "used_offer_count",
        "lowest_new_with_shipping", "lowest_used_with_shipping",
    ):  # fmt: skip
        assert getattr(s, field) == getattr(base, field), field
        assert (base.sources[field], s.sources[field]) == ("stats", "csv"), field


@pytest.mark.parametrize(
    "dropped",
    [("stats",), ("csv",), ("offers",), ("stats", "csv"), ("stats", "offers"), ("csv", "offers"),
     ("stats", "csv", "offers")],
)  # fmt: skip
def test_sample_without_stats_csv_or_offers(dropped: tuple[str, ...]) -> None:
    product = {k: v for k, v in load_product(OFFERS).items() if k not in dropped}
    if "csv" in dropped:
        product["csv"] = None  # Keepa sends csv: null rather than leaving it out
    s = parse(product)
    assert_sane(s)
    if len(dropped) == 3:
        assert s.usability is MarketUsability.NO_MARKET_DATA
        assert s.lowest_offers == () and s.new_offer_count is None
    else:
        assert s.usability is MarketUsability.USABLE


# --- properties -----------------------------------------------------------------------------------

_times = st.lists(st.integers(1, 5_000), min_size=1, max_size=12).map(
    lambda steps: [T + sum(steps[: i + 1]) for i in range(len(steps))]
)
_prices = st.one_of(st.just(-1), st.just(-2), st.just(0), st.integers(1, 500_000))


@settings(max_examples=150, deadline=None)
@given(times=_times, data=st.data())
def test_property_pair_series_give_their_newest_value(times: list[int], data: Any) -> None:
    values = [data.draw(_prices) for _ in times]
    series = [v for pair in zip(times, values, strict=True) for v in pair]
    s = parse(book(csv=csv_of({1: series, 11: series})))
    newest = values[-1]
    assert s.new_price == (D(newest) / 100 if newest > 0 else None)
    assert s.new_offer_count == (newest if newest >= 0 else None)
    assert s.new_price_points == len(times)


@settings(max_examples=150, deadline=None)
@given(times=_times, data=st.data())
def test_property_shipping_series_give_their_newest_landed_value(
    times: list[int], data: Any
) -> None:
    triples = [(t, data.draw(_prices), data.draw(_prices)) for t in times]
    series = [v for triple in triples for v in triple]
    s = parse(book(csv=csv_of({18: series, 22: series})))
    _, price, shipping = triples[-1]
    expected = None if price <= 0 else D(price + max(shipping, 0)) / 100  # 0: no price
    assert s.buy_box_new_with_shipping == expected
    assert s.used_acceptable_with_shipping == expected


@settings(max_examples=150, deadline=None)
@given(times=_times, data=st.data())
def test_property_offers_are_priced_from_their_newest_triple(times: list[int], data: Any) -> None:
    triples = [(t, data.draw(_prices), data.draw(_prices)) for t in times]
    entry = offer(3, 1, 0)
    entry["offerCSV"] = [v for triple in triples for v in triple]
    s = parse(with_offers(book(), entry))
    _, price, shipping = triples[-1]
    very_good = s.lowest_offer(3)
    if price <= 0:
        assert very_good is None
    else:
        assert very_good is not None and very_good.price == D(price) / 100
        assert very_good.shipping == (D(shipping) / 100 if shipping >= 0 else None)


_ODD: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.sampled_from([-2, -1, 0, 1, 2**31, -(2**63)]),
    st.integers(-3, 3_000), st.integers(T, T + 10_000), st.floats(), st.text(max_size=2),
)  # fmt: skip
_NUMBERS = st.lists(
    st.one_of(st.integers(-2, 3_000), st.integers(T, T + 10_000), _ODD), max_size=10
)
_ANY = st.recursive(
    _ODD, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)  # fmt: skip
_OFFER = st.fixed_dictionaries(
    {},
    optional={
        "condition": st.one_of(st.integers(-1, 12), _ODD), "offerCSV": _NUMBERS | _ANY,
        "isFBA": _ODD, "isPrime": _ODD, "isAmazon": _ODD, "isShippable": _ODD, "isScam": _ODD,
        "lastSeen": _ODD, "sellerId": _ODD,
    },
)  # fmt: skip
_STATS = st.fixed_dictionaries(
    {},
    optional={
        "current": _NUMBERS, "avg30": _NUMBERS, "avg90": _NUMBERS, "avg180": _NUMBERS,
        "buyBoxPrice": _ODD, "buyBoxShipping": _ODD, "buyBoxCondition": _ODD, "buyBoxIsUsed": _ODD,
        "buyBoxUsedPrice": _ODD, "buyBoxUsedShipping": _ODD, "offerCountFBA": _ODD,
        "offerCountFBM": _ODD, "salesRankDrops30": _ODD, "salesRankDrops90": _ODD,
        "lastOffersUpdate": _ODD,
    },
)  # fmt: skip
_PRODUCT = st.fixed_dictionaries(
    {"asin": st.sampled_from([ISBN, "B08N5WRWNW", "", None])},
    optional={
        "productType": _ODD, "productGroup": st.sampled_from(["Book", "eBooks", "Toy"]) | _ODD,
        "rootCategory": _ODD, "categoryTree": st.lists(st.fixed_dictionaries({"catId": _ODD}))
        | _ANY, "binding": _ODD, "type": _ODD, "title": _ODD, "lastUpdate": _ODD,
        "stats": _STATS | _ANY, "csv": st.lists(st.none() | _NUMBERS, max_size=40) | _ANY,
        "offers": st.lists(_OFFER | _ANY, max_size=6) | _ANY,
        "liveOffersOrder": st.lists(st.integers(-1, 7) | _ODD, max_size=8) | _ANY,
        "packageWeight": _ODD, "packageLength": _ODD, "fbaFees": _ANY, "monthlySold": _ODD,
        "monthlySoldHistory": _NUMBERS | _ANY, "referralFeePercentage": _ODD,
        "referralFeePercent": _ODD, "variableClosingFee": _ODD, "availabilityAmazon": _ODD,
        "hazardousMaterials": _ANY,
    },
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(product=_PRODUCT)
def test_property_any_product_shape_parses_sanely(product: dict[str, Any]) -> None:
    s = parse(product)
    assert_sane(s)
    if s.usability is MarketUsability.USABLE:
        for condition in ("new", "used"):
            analyse(
                item(ISBN, "3.00", condition), s, strategy_preset("balanced"), TYPICAL_COSTS,
                as_of=AS_OF_2026_05,
            )  # fmt: skip


@cache
def _trimmed_sample() -> dict[str, Any]:
    product: dict[str, Any] = product_copy(OFFERS)
    keep = sorted(product["liveOffersOrder"])[:25]
    product["offers"] = [product["offers"][i] for i in keep]
    product["liveOffersOrder"] = list(range(len(keep)))
    product["csv"] = [None if s is None else s[-48:] for s in product["csv"]]  # whole groups
    return product


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_mutated_sample_parses_sanely(data: Any) -> None:
    product = copy.deepcopy(_trimmed_sample())
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.sampled_from(["csv", "stats.current", "offer", "key", "stats"]))
        if where == "csv":
            index = data.draw(st.integers(0, 33))
            series = product["csv"][index]
            if series:
                cut = data.draw(st.integers(0, len(series)))
                product["csv"][index] = series[:cut] if data.draw(st.booleans()) else None
        elif where == "stats.current":
            values = product["stats"].get("current")
            if isinstance(values, list) and values:
                values[data.draw(st.integers(0, len(values) - 1))] = data.draw(_ODD)
        elif where == "offer":
            entry = product["offers"][data.draw(st.integers(0, len(product["offers"]) - 1))]
            key = data.draw(st.sampled_from(sorted(entry)))
            entry[key] = data.draw(_ODD | _NUMBERS)
        elif where == "key":
            key = data.draw(st.sampled_from(sorted(product)))
            product[key] = data.draw(_ODD)
        else:
            key = data.draw(st.sampled_from(sorted(product["stats"])))
            product["stats"][key] = data.draw(_ODD)
        if not isinstance(product.get("stats"), dict) or not isinstance(product.get("csv"), list):
            break
        if not isinstance(product.get("offers"), list) or not product["offers"]:
            break
    assert_sane(parse(product))


def test_sales_rank_falls_back_to_the_reference_categorys_history() -> None:
    """Without stats and without the csv SALES series, the main rank still comes from
    ``salesRanks[salesRankReference]`` (newest point), and says it came from a series."""
    product = {
        "asin": "0000000000",
        "productType": 0,
        "rootCategory": 283155,
        "salesRankReference": 283155,
        "csv": [None] * 4,
        "salesRanks": {"283155": [7000000, 900, 7001000, 455], "4682": [7000000, 3, 7001000, 1]},
    }
    snapshot = parse_keepa_product(product)
    assert snapshot.sales_rank == 455
    assert snapshot.sources["sales_rank"] == "csv"
    del product["salesRankReference"]
    assert parse_keepa_product(product).sales_rank is None  # a subcategory rank is not the rank
