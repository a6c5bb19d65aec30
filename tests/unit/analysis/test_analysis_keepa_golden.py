"""Golden tests: every recorded Keepa sample parsed into a MarketSnapshot.

Expected values were read from the raw JSON by hand (jq/python), not from the parser; each says
where it comes from. Keepa prices are cents, so 1523 -> $15.23. Keepa minute m is
(m + 21564000) * 60 Unix seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from analysis_testkit import (
    AS_OF_2026_05,
    NO_COSTS,
    item,
    load_product,
    product_copy,
    sample_files,
)

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
ENVELOPE = "envelope-0593655036.json"
OFFERS = "product-0593655036-offers.json"
UNTRACKED = "product-1492056200-untracked.json"
NONBOOK = "envelope-B08N5WRWNW-nonbook.json"
TITLE = (
    "The Anxious Generation: How the Great Rewiring of Childhood Is Causing an Epidemic of "
    "Mental Illness"
)

GOLDEN: dict[str, dict[str, Any]] = {
    ENVELOPE: {
        "asin": "0593655036",  # products[0].asin
        "usability": MarketUsability.USABLE,
        "title": TITLE,  # products[0].title
        "binding": "hardcover",  # products[0].binding
        "product_group": "Book",  # productGroup
        "root_category": 283155,  # rootCategory (Books)
        "last_update": datetime(2025, 10, 14, 2, 36, tzinfo=UTC),  # lastUpdate 7776156
        "amazon_price": D("16.98"),  # stats.current[0] = 1698
        "new_price": D("14.00"),  # stats.current[1] = 1400
        "used_price": D("14.49"),  # stats.current[2] = 1449
        "new_fba_price": None,  # stats.current[10] = -1, csv[10] null
        # stats.current[18] = -1, buyBoxPrice -2, csv[18] null; but stats.buyBoxIsAmazon true
        # (buyBoxSellerId ATVPDKIKX0DER): Amazon's own price holds it, stats.current[0] = 1698
        "buy_box_new_with_shipping": D("16.98"),
        "buy_box_used_with_shipping": None,  # stats.current[32] = -1, csv[32] null
        # No FBM landed series (current[7] = -1): a cheaper FBM offer than Amazon's 16.98 may
        # exist (NEW current[1] = 1400 plus unknown shipping), so the lowest landed is unknown
        "lowest_new_with_shipping": None,
        "lowest_used_with_shipping": None,  # current[19..22] = -1, no offers: unknown shipping
        "lowest_fba_used_with_shipping": None,  # no offers in this envelope
        "lowest_offers": (),  # no "offers" key
        "new_offer_count": 39,  # stats.current[11]
        "used_offer_count": 32,  # stats.current[12]
        "new_fba_offer_count": None,  # stats.offerCountFBA = -2, no csv[34], no offers
        "new_fbm_offer_count": None,  # stats.offerCountFBM = -2
        "sales_rank": 74,  # stats.current[3]
        "sales_rank_avg30": 55,  # stats.avg30[3]
        "sales_rank_avg90": 35,  # stats.avg90[3]
        "sales_rank_drops30": 46,  # stats.salesRankDrops30
        "sales_rank_drops90": 181,  # stats.salesRankDrops90
        "sales_rank_drops180": 417,  # stats.salesRankDrops180
        "monthly_sold": None,  # no monthlySold; monthlySoldHistory ends [..., 7174032, -1]
        "avg90_new": D("14.64"),  # stats.avg90[1] = 1464
        "avg90_used": D("10.75"),  # stats.avg90[2] = 1075
        "avg90_amazon": D("16.98"),  # stats.avg90[0] = 1698
        "avg30_new": D("13.81"),  # stats.avg30[1] = 1381
        "avg30_used": D("10.39"),  # stats.avg30[2] = 1039
        "avg180_new": D("15.09"),  # stats.avg180[1] = 1509
        "avg180_used": D("11.24"),  # stats.avg180[2] = 1124
        "avg30_buy_box_used": None,  # stats.avg30[32] = -1 (no offers requested)
        "avg180_buy_box_new": None,  # stats.avg180[18] = -1
        # (maxInInterval[1] 1680 - minInInterval[1] 900) / avg90[1] 1464 (90-day stats interval)
        "price_spread90_new": D("0.5328"),
        "price_spread90_used": D("0.8140"),  # (1498 - 623) / 1075, same fields at index 2
        "package_weight_g": 599,  # packageWeight
        "package_length_mm": 244,  # packageLength
        "package_width_mm": 166,  # packageWidth
        "package_height_mm": 36,  # packageHeight
        "keepa_pick_and_pack_fee": D("5.37"),  # fbaFees.pickAndPackFee = 537
        "referral_fee_percentage": D("15.02"),  # referralFeePercentage
        "variable_closing_fee": D("1.80"),  # variableClosingFee = 180
        "amazon_on_listing": True,  # stats.current[0] = 1698 (availabilityAmazon 0)
        "is_hazmat": None,  # no hazardousMaterials field
        "sales_rank_points": 4011,  # len(csv[3]) = 8022 -> 4011 (time, rank) pairs
        "new_price_points": 455,  # len(csv[1]) = 910
        "used_price_points": 2104,  # len(csv[2]) = 4208
        # Requested without offers: stats has buyBoxIsAmazon true but no buyBoxStats, so
        # Amazon's share of the buy box is unknown (the rule is then not checked).
        "amazon_buy_box_percent": None,
    },
    OFFERS: {
        "asin": "0593655036",
        "usability": MarketUsability.USABLE,
        "title": TITLE,
        "binding": "hardcover",
        "last_update": datetime(2025, 10, 26, 3, 56, tzinfo=UTC),  # lastUpdate 7793516
        "amazon_price": D("15.23"),  # stats.current[0] = 1523
        "new_price": D("14.00"),  # stats.current[1] = 1400
        "used_price": D("12.38"),  # stats.current[2] = 1238
        "new_fba_price": D("15.21"),  # stats.current[10] = 1521
        "new_fbm_with_shipping": D("15.22"),  # stats.current[7] = 1522
        "buy_box_new_with_shipping": D("15.23"),  # stats.current[18] = 1523 (buyBoxPrice 1523 + 0)
        "buy_box_used_with_shipping": None,  # stats.current[32] = -1, csv[32] ends [..., -1, -1]
        "used_like_new_with_shipping": D("25.14"),  # stats.current[19] = 2514 (1999 + 515)
        "used_very_good_with_shipping": D("17.37"),  # stats.current[20] = 1737
        "used_good_with_shipping": D("16.39"),  # stats.current[21] = 1639
        "used_acceptable_with_shipping": D("18.94"),  # stats.current[22] = 1894
        "lowest_new_with_shipping": D("15.21"),  # min(current[7] 1522, current[10] 1521, [0] 1523)
        "lowest_used_with_shipping": D("16.39"),  # min(current[19..22]) = 1639
        # live offers (liveOffersOrder): FBA used are offers[910] 2445, [542] 2035, [689] 2639
        "lowest_fba_used_with_shipping": D("20.35"),
        "new_offer_count": 41,  # stats.current[11]
        "used_offer_count": 38,  # stats.current[12]
        "new_fba_offer_count": 4,  # stats.offerCountFBA
        "new_fbm_offer_count": 13,  # stats.offerCountFBM
        # 24 live used offers came (condition 2-5), Keepa counts 38 (current[12]): the FBA/FBM
        # split of the 14 that did not come is unknown
        "used_fba_offer_count": None,
        "used_fbm_offer_count": None,
        "sales_rank": 63,  # stats.current[3]
        "sales_rank_avg30": 66,  # stats.avg30[3]
        "sales_rank_avg90": 39,  # stats.avg90[3]
        "sales_rank_drops30": 45,  # stats.salesRankDrops30
        "sales_rank_drops90": 169,  # stats.salesRankDrops90
        "sales_rank_drops180": 395,  # stats.salesRankDrops180
        "avg90_new": D("14.46"),  # stats.avg90[1] = 1446
        "avg90_used": D("10.79"),  # stats.avg90[2] = 1079
        "avg90_buy_box_new": D("16.83"),  # stats.avg90[18] = 1683
        "avg90_buy_box_used": D("14.86"),  # stats.avg90[32] = 1486
        "avg30_new": D("13.83"),  # stats.avg30[1] = 1383
        "avg30_used": D("10.81"),  # stats.avg30[2] = 1081
        "avg30_buy_box_new": D("16.57"),  # stats.avg30[18] = 1657
        "avg30_buy_box_used": D("14.81"),  # stats.avg30[32] = 1481
        "avg180_new": D("14.89"),  # stats.avg180[1] = 1489
        "avg180_used": D("11.19"),  # stats.avg180[2] = 1119
        "avg180_buy_box_new": D("17.03"),  # stats.avg180[18] = 1703
        "avg180_buy_box_used": D("15.21"),  # stats.avg180[32] = 1521
        "price_spread90_new": D("0.4274"),  # (maxInInterval[1] 1600 - min 982) / 1446
        "price_spread90_used": D("0.8109"),  # (maxInInterval[2] 1498 - min 623) / 1079
        "keepa_pick_and_pack_fee": D("5.68"),  # fbaFees.pickAndPackFee = 568
        "referral_fee_percentage": D("14.97"),  # referralFeePercentage
        "variable_closing_fee": D("1.80"),  # variableClosingFee = 180
        "amazon_on_listing": True,  # stats.current[0] = 1523; offers[361] isAmazon
        # stats.buyBoxStats["ATVPDKIKX0DER"].percentageWon = 98.92593 (of 9 holders in the
        # window; their shares add up to 100.0000041), to 0.01 %
        "amazon_buy_box_percent": D("98.93"),
        "sales_rank_points": 4043,  # len(csv[3]) = 8086
    },
    UNTRACKED: {
        "asin": "1492056200",
        "usability": MarketUsability.NO_MARKET_DATA,  # stats all -1, csv all null, title null
        "title": None,
        "binding": None,
        "amazon_price": None,  # stats.current[0] = -1
        "new_price": None,
        "used_price": None,
        "sales_rank": None,  # stats.current[3] = -1
        "new_offer_count": None,  # stats.current[11] = -1 (unknown, not 0)
        "sales_rank_drops30": None,  # stats.salesRankDrops30 absent/-1
        "package_weight_g": None,  # packageWeight = -1
        "keepa_pick_and_pack_fee": None,  # fbaFees null
        "amazon_on_listing": False,  # availabilityAmazon = -1: no Amazon offer
        "amazon_buy_box_percent": None,  # no stats.buyBoxStats
        "lowest_offers": (),
    },
    NONBOOK: {
        "asin": "B08N5WRWNW",
        "usability": MarketUsability.NOT_A_BOOK,  # no book metadata and not an ISBN-10
        "title": None,
        "amazon_price": None,
        "sales_rank": None,
        "package_weight_g": None,
    },
}


def test_every_sample_has_golden_values() -> None:
    assert sorted(GOLDEN) == sample_files()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_snapshot(name: str) -> None:
    snapshot = parse_keepa_product(load_product(name))
    for field, expected in GOLDEN[name].items():
        assert getattr(snapshot, field) == expected, field


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_snapshot_json_round_trip(name: str) -> None:
    snapshot = parse_keepa_product(load_product(name))
    assert market_snapshot_from_json(market_snapshot_to_json(snapshot)) == snapshot


def test_a_snapshot_stored_before_the_30_and_180_day_averages_still_loads() -> None:
    """Snapshots cached by engine 2026.12.1 have no avg30_*/avg180_* keys: they load as unknown
    and are priced from the 90-day figures they have."""
    stored = market_snapshot_to_json(parse_keepa_product(load_product(OFFERS)))
    old = {k: v for k, v in stored.items() if not k.startswith(("avg30_", "avg180_"))}
    snapshot = market_snapshot_from_json(old)
    assert snapshot.avg30_buy_box_used is None and snapshot.avg90_buy_box_used == D("14.86")
    a = analyse(item("0593655036", "5.00"), snapshot, strategy_preset("balanced"), NO_COSTS,
                as_of=AS_OF_2026_05)  # fmt: skip
    # The $20.35 FBA used offer held to the used buy box's 90-day average, stats.avg90[32] 1486
    assert (a.sell_price, a.price_basis) == (D("14.86"), "avg90_buy_box_used")


def test_amazons_share_of_the_buy_box_from_buy_box_stats() -> None:
    """Amazon's percentageWon; 0 when the holders listed do not include Amazon; unknown without
    the map (or with an empty one) or with a share that is not a number."""

    def share(stats_value: Any) -> Decimal | None:
        product = product_copy(OFFERS)
        product["stats"]["buyBoxStats"] = stats_value
        return parse_keepa_product(product).amazon_buy_box_percent

    others = {"A2M70HDXL9YHS": {"percentageWon": 60.5}, "AY8GR3Z3RBLH5": {"percentageWon": 39.5}}
    assert share(others) == D("0.00")
    assert share({**others, "ATVPDKIKX0DER": {"percentageWon": 49.999}}) == D("50.00")
    assert share({"ATVPDKIKX0DER": {"percentageWon": 100}}) == D("100.00")
    unknown: object
    for unknown in (None, {}, [], {"ATVPDKIKX0DER": {"percentageWon": None}},
                    {"ATVPDKIKX0DER": {"percentageWon": True}}):  # fmt: skip
        assert share(unknown) is None, unknown


def test_lowest_offers_use_newest_offer_csv_entry_and_keep_every_condition() -> None:
    snapshot = parse_keepa_product(load_product(OFFERS))
    lowest = {(o.condition, o.fulfillment): (o.price, o.shipping) for o in snapshot.lowest_offers}
    assert lowest == {
        (1, Fulfillment.FBA): (D("15.21"), D("0.00")),  # offers[722].offerCSV = [7793516, 1521, 0]
        (1, Fulfillment.FBM): (D("15.22"), D("0.00")),  # offers[226] [7787320, 1522, 0]
        # "used - like new" is kept: offers[637] newest triple [7327926, 1999, 515]
        (2, Fulfillment.FBM): (D("19.99"), D("5.15")),
        (3, Fulfillment.FBA): (D("24.45"), D("0.00")),  # offers[910] [7668164, 2445, 0]
        (3, Fulfillment.FBM): (D("12.38"), D("4.99")),  # offers[350] [7793350, 1238, 499]
        # offers[542] oldest triple is 1611 (2024); the newest [7792720, 2035, 0] counts
        (4, Fulfillment.FBA): (D("20.35"), D("0.00")),
        (4, Fulfillment.FBM): (D("12.40"), D("3.99")),  # offers[1171] [7788392, 1240, 399]
        (5, Fulfillment.FBM): (D("14.45"), D("4.49")),  # offers[282]: oldest 846, newest 1445
    }
    # Stats agree with the offers: current[20] 1737 = 1238 + 499, current[21] 1639 = 1240 + 399.
    very_good, good = snapshot.lowest_offer(3), snapshot.lowest_offer(4)
    assert very_good is not None and very_good.landed == snapshot.used_very_good_with_shipping
    assert good is not None and good.landed == snapshot.used_good_with_shipping


def test_offers_sample_sources() -> None:
    snapshot = parse_keepa_product(load_product(OFFERS))
    assert snapshot.sources["sales_rank_drops30"] == "stats"  # Keepa's own count comes first
    assert snapshot.sources["buy_box_new_with_shipping"] == "stats"
    assert snapshot.sources["lowest_fba_used_with_shipping"] == "offers"
    assert "used_fba_offer_count" not in snapshot.sources  # unknown: the list is incomplete
    assert snapshot.sources["price_spread90_used"] == "csv"
    assert snapshot.sources["package_weight_g"] == "product"


def test_unknown_values_are_none_never_zero() -> None:
    for name in (UNTRACKED, NONBOOK):
        snapshot: MarketSnapshot = parse_keepa_product(load_product(name))
        for field, value in market_snapshot_to_json(snapshot).items():
            assert value is False or value != 0 or field.endswith("_points"), field
