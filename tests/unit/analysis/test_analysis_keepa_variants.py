"""The parser on products shaped unlike the samples: no stats, no csv, no offers, odd values."""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import cache
from typing import Any

from analysis_testkit import AS_OF_2026_05, TYPICAL_COSTS, item, product_copy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis_service.domain import (
    MarketUsability,
    analyse,
    keepa_minutes_to_datetime,
    market_snapshot_from_json,
    market_snapshot_to_json,
    parse_keepa_product,
    strategy_preset,
)

D = Decimal
OFFERS = "product-0593655036-offers.json"


def test_keepa_minutes() -> None:
    assert keepa_minutes_to_datetime(0).isoformat() == "2011-01-01T00:00:00+00:00"
    # README: unix_seconds = (keepa_minute + 21564000) * 60
    assert keepa_minutes_to_datetime(7793516).timestamp() == (7793516 + 21564000) * 60


def test_without_stats_values_come_from_the_newest_csv_points() -> None:
    product = product_copy(OFFERS)
    del product["stats"]
    s = parse_keepa_product(product)
    assert s.usability is MarketUsability.USABLE
    assert s.amazon_price == D("15.23")  # csv[0] ends [..., 7783942, 1523]
    assert s.new_price == D("14.00")  # csv[1] ends [..., 7792228, 1400]
    assert s.used_price == D("12.38")  # csv[2] ends [..., 7793350, 1238]
    assert s.sales_rank == 63  # csv[3] ends [..., 7793508, 63]
    assert s.new_fba_price == D("15.21")  # csv[10] ends [..., 7793516, 1521]
    assert s.buy_box_new_with_shipping == D("15.23")  # csv[18] ends [7783736, 1523, 0]
    assert s.buy_box_used_with_shipping is None  # csv[32] ends [7793350, -1, -1]
    assert s.used_like_new_with_shipping == D("25.14")  # csv[19] ends [7792720, 1999, 515]
    assert s.used_acceptable_with_shipping == D("18.94")  # csv[22] ends [7793516, 1445, 449]
    assert s.new_offer_count == 41  # csv[11] ends [..., 7792988, 41]
    assert s.used_offer_count == 38  # csv[12] ends [..., 7793350, 38]
    # Engine 2026.12.1 left these unknown without stats; now counted from csv[3] (the 30/90/180
    # days before lastUpdate 7793516), as stats.salesRankDrops30/90/180 say: 45, 169, 395.
    assert (s.sales_rank_drops30, s.sales_rank_drops90, s.sales_rank_drops180) == (45, 169, 395)
    assert s.sources["sales_rank_drops30"] == "csv"
    assert s.avg90_used is None and s.avg30_buy_box_used is None  # averages: only in stats
    assert s.sources["amazon_price"] == "csv"
    assert s.sources["sales_rank"] == "csv"
    # No stats, no csv[34]: only the live offers could say, but 17 new offers came of the 41
    # Keepa counts (csv[11]), so the FBA count is unknown rather than the 4 among those 17.
    assert s.new_fba_offer_count is None and "new_fba_offer_count" not in s.sources


def test_without_stats_and_csv_values_come_from_offers() -> None:
    product = product_copy(OFFERS)
    del product["stats"]
    product["csv"] = None
    s = parse_keepa_product(product)
    assert s.usability is MarketUsability.USABLE
    assert s.lowest_new_with_shipping == D("15.21")  # live offers[722]
    assert s.lowest_used_with_shipping == D("16.39")  # live offers[1171] 1240 + 399
    assert s.sources["lowest_used_with_shipping"] == "offers"
    assert s.new_offer_count == 17  # live condition-1 offers
    assert s.used_offer_count == 24
    # Counts taken from the offers themselves are complete by definition: FBA apart.
    assert (s.new_fba_offer_count, s.used_fba_offer_count) == (4, 3)
    assert s.sources["used_fba_offer_count"] == "offers"
    assert s.amazon_on_listing is True  # live offers[361] isAmazon
    # The rank's own history (salesRanks[salesRankReference]) is still there; its points are not
    # counted as the csv history the velocity estimate reads.
    assert s.sales_rank == 63 and s.sales_rank_points is None
    a = analyse(
        item("0593655036", "5.00", "new"),
        s,
        strategy_preset("balanced"),
        TYPICAL_COSTS,
        as_of=AS_OF_2026_05,
    )
    assert (a.sell_price, a.price_basis) == (D("15.21"), "lowest_fba_new")
    # Velocity from the current rank alone (no drop counts, no history): flagged as thin data.
    assert a.estimated_monthly_sales is not None and a.velocity_score == 100
    assert "few_data_points" in a.risk_flags


def test_offers_without_live_order_use_last_seen() -> None:
    product = product_copy(OFFERS)
    del product["liveOffersOrder"]
    s = parse_keepa_product(product)
    # lastSeen >= stats.lastOffersUpdate 7793516: the live FBA used offer offers[542]
    assert s.lowest_fba_used_with_shipping == D("20.35")


def test_short_stats_arrays_and_empty_stats() -> None:
    product = product_copy(OFFERS)
    product["stats"]["current"] = product["stats"]["current"][:3]
    s = parse_keepa_product(product)
    assert s.used_price == D("12.38")
    assert s.sales_rank == 63 and s.sources["sales_rank"] == "csv"
    product["stats"] = {}
    assert parse_keepa_product(product).new_price == D("14.00")


def test_minus_two_and_zero_are_unknown() -> None:
    product = product_copy(OFFERS)
    product["stats"]["current"][1] = -2
    product["csv"][1] = None
    product["packageWeight"] = 0
    product["fbaFees"] = {"pickAndPackFee": -1}
    s = parse_keepa_product(product)
    assert s.new_price is None
    assert s.package_weight_g is None
    assert s.keepa_pick_and_pack_fee is None


def _book_like(**fields: Any) -> dict[str, Any]:
    base = {"asin": "B0TEST0001", "stats": {"current": [-1, 1999, 1500]}, "csv": None}
    base.update(fields)
    return base


def test_book_detection() -> None:
    assert parse_keepa_product(_book_like(rootCategory=283155)).usability is MarketUsability.USABLE
    assert parse_keepa_product(_book_like(productGroup="Book")).usability is MarketUsability.USABLE
    ebook = _book_like(productType=2, productGroup="eBooks")
    assert parse_keepa_product(ebook).usability is MarketUsability.NOT_A_BOOK
    kindle = _book_like(rootCategory=283155, binding="Kindle Edition")
    assert parse_keepa_product(kindle).usability is MarketUsability.NOT_A_BOOK
    toy = _book_like(productGroup="Toy", rootCategory=165793011)
    s = parse_keepa_product(toy)
    assert s.usability is MarketUsability.NOT_A_BOOK and "Toy" in (s.usability_reason or "")
    # No category data: an ISBN-10 ASIN is a book, anything else is not.
    isbn = parse_keepa_product(_book_like(asin="0593655036"))
    assert isbn.usability is MarketUsability.USABLE
    assert parse_keepa_product(_book_like()).usability is MarketUsability.NOT_A_BOOK


def test_book_with_no_prices_has_no_market_data() -> None:
    s = parse_keepa_product({"asin": "0593655036", "productGroup": "Book", "stats": None})
    assert s.usability is MarketUsability.NO_MARKET_DATA
    assert parse_keepa_product({}).usability is MarketUsability.NOT_A_BOOK


def test_hazmat_and_monthly_sold() -> None:
    product = product_copy(OFFERS)
    product["hazardousMaterials"] = [{"aspect": "ghs", "value": "flammable"}]
    product["monthlySold"] = 300
    s = parse_keepa_product(product)
    assert s.is_hazmat is True
    assert s.monthly_sold == 300
    a = analyse(
        item("0593655036", "5.00"), s, strategy_preset("balanced"), TYPICAL_COSTS,
        as_of=AS_OF_2026_05,
    )  # fmt: skip
    assert "hazmat" in a.risk_flags
    assert (a.estimated_monthly_sales, a.sales_estimate_basis) == (D(300), "monthly_sold")


@cache
def _trimmed_offers_sample() -> dict[str, Any]:
    """The offers sample cut down (60 offers, last 60 numbers of each series) for speed."""
    product: dict[str, Any] = product_copy(OFFERS)
    product["offers"] = product["offers"][:60]  # liveOffersOrder indices past the end: ignored
    product["csv"] = [None if s is None else s[-60:] for s in product["csv"]]
    return product


_ODD_VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [None, -1, -2, 0, [], {}, "", [None], [-1, -1], 1.5, True]
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_parser_never_raises_on_odd_but_well_formed_products(data: st.DataObject) -> None:
    product = copy.deepcopy(_trimmed_offers_sample())
    keys = data.draw(st.lists(st.sampled_from(sorted(product)), max_size=12, unique=True))
    for key in keys:
        if data.draw(st.booleans()):
            del product[key]
        else:
            product[key] = data.draw(_ODD_VALUES)
    stats = product.get("stats")
    if isinstance(stats, dict) and stats:
        for key in data.draw(st.lists(st.sampled_from(sorted(stats)), max_size=10, unique=True)):
            stats[key] = data.draw(_ODD_VALUES)
    snapshot = parse_keepa_product(product)
    assert market_snapshot_from_json(market_snapshot_to_json(snapshot)) == snapshot
    for condition in ("new", "used"):
        analyse(
            item(snapshot.asin or "0593655036", "3.00", condition), snapshot,
            strategy_preset("textbook"), TYPICAL_COSTS, as_of=AS_OF_2026_05,
        )  # fmt: skip


def test_a_used_offer_in_the_buy_box_is_not_a_new_price() -> None:
    product = product_copy(OFFERS)
    product["stats"]["buyBoxCondition"] = 4  # a "used - good" offer holds the buy box
    product["stats"]["buyBoxIsUsed"] = True
    s = parse_keepa_product(product)
    assert s.buy_box_new_with_shipping is None
    a = analyse(
        item("0593655036", "5.00", "new"), s, strategy_preset("balanced"), TYPICAL_COSTS,
        as_of=AS_OF_2026_05,
    )  # fmt: skip
    assert (a.sell_price, a.price_basis) == (D("15.21"), "lowest_fba_new")  # stats.current[10]


def test_unshippable_offers_do_not_set_the_lowest_price() -> None:
    product = product_copy(OFFERS)
    product["offers"][1171]["isShippable"] = False  # the 12.40 + 3.99 "used - good" offer
    del product["offers"][542]["isFBA"]  # no isFBA: isPrime (true here) marks FBA
    s = parse_keepa_product(product)
    good = s.lowest_by_condition[4]
    assert (good.price, good.shipping) == (D("16.75"), D("0.00"))  # offers[435] [.., 1675, 0]
    assert s.used_offer_count == 38  # still counted (stats.current[12])
    assert s.lowest_fba_used_with_shipping == D("20.35")
    assert sorted(s.lowest_by_condition) == [1, 2, 3, 4, 5]


def test_snapshot_json_from_an_older_format_uses_defaults() -> None:
    snapshot = parse_keepa_product(product_copy(OFFERS))
    data = market_snapshot_to_json(snapshot)
    for offer in data["lowest_offers"]:
        del offer["is_shippable"]  # field added after the first stored snapshots
    del data["monthly_sold"]
    assert market_snapshot_from_json(data) == snapshot


def test_offers_keepa_could_not_fetch_are_unknown_not_none() -> None:
    """``offersSuccessful: false`` with an empty list: Keepa failed to fetch the offers, which
    says nothing about how many there are (never "0 FBA offers")."""
    product = product_copy(OFFERS)
    product["offers"], product["liveOffersOrder"] = [], []
    product["offersSuccessful"] = False
    del product["stats"]
    s = parse_keepa_product(product)
    assert s.new_fba_offer_count is None and s.used_fba_offer_count is None
    assert s.lowest_offers == () and s.lowest_fba_used_with_shipping is None
    assert s.new_offer_count == 41  # csv[11] still says how many there are in all


def test_a_lowercase_asin_is_filed_upper_case() -> None:
    """Keepa's ASINs are upper case; a product saying otherwise must still match its request and
    the snapshot cache."""
    product = product_copy(OFFERS)
    product["asin"] = "b0lower123"
    assert parse_keepa_product(product).asin == "B0LOWER123"
