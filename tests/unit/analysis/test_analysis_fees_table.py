"""Table tests for the fee schedules: every size-tier and weight-band boundary, and the price
bands at $9.99 / $10.00 / $50.00 / $50.01. Expected fees are the published rate cards
(see analysis_service/domain/fee_tables.py for the sources). The holiday peak and the dates the
schedules change are in test_analysis_fees_peak.py, the placement fee in
test_analysis_fees_placement.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from analysis_testkit import large, small

from analysis_service.domain import PackageSize, SizeTier, fulfillment_fee, schedule_by_id
from analysis_service.domain.fee_tables import (
    US_2024,
    US_2025_PEAK,
    US_2025_PLACEMENT,
    US_2026,
    US_2026_FUEL,
    US_2026_PEAK,
)
from analysis_service.domain.fees import billable_weight_lb, price_band, referral_fee, storage_fee

D = Decimal
MID = D("20.00")  # a price in the $10-$50 band


SMALL_STANDARD_2026 = [
    ("2", "3.32"), ("2.01", "3.42"), ("4", "3.42"), ("4.01", "3.45"), ("6", "3.45"),
    ("6.01", "3.54"), ("8", "3.54"), ("8.01", "3.68"), ("10", "3.68"), ("10.01", "3.78"),
    ("12", "3.78"), ("12.01", "3.91"), ("14", "3.91"), ("14.01", "3.96"), ("16", "3.96"),
]  # fmt: skip


@pytest.mark.parametrize(("oz", "fee"), SMALL_STANDARD_2026)
def test_small_standard_weight_bands(oz: str, fee: str) -> None:
    quote = fulfillment_fee(US_2026, small(oz), MID)
    assert quote.size_tier is SizeTier.SMALL_STANDARD
    assert quote.total == D(fee)


def test_small_standard_over_16_oz_is_large_standard() -> None:
    quote = fulfillment_fee(US_2026, small("16.01"), MID)
    assert quote.size_tier is SizeTier.LARGE_STANDARD
    assert quote.total == D("5.04")  # 1+ to 1.25 lb


@pytest.mark.parametrize(
    ("grams", "mm", "tier", "fee"),
    [
        # Amazon lists 1.00 lb; Keepa stores 454 g (1.0009 lb): still small standard, $3.96
        (454, 19, SizeTier.SMALL_STANDARD, "3.96"),
        (459, 19, SizeTier.LARGE_STANDARD, "5.04"),  # 1.01 lb: over 16 oz
        # 0.75 in listed, 19 mm at Keepa (0.748 in); 20 mm is 0.79 in: too thick
        (300, 20, SizeTier.LARGE_STANDARD, "4.20"),  # 0.66 lb: the 0.5-0.75 lb band
        (227, 13, SizeTier.SMALL_STANDARD, "3.54"),  # 0.50 lb listed, 227 g: the 6-8 oz band
    ],
)
def test_keepa_metric_figures_are_read_in_amazons_units(
    grams: int, mm: int, tier: SizeTier, fee: str
) -> None:
    package = PackageSize.from_metric(203, 127, mm, grams)
    quote = fulfillment_fee(US_2026, package, D("12.00"))
    assert (quote.size_tier, quote.total) == (tier, D(fee))


LARGE_STANDARD_2026 = [
    ("0.25", "3.73"), ("0.250625", "3.95"), ("0.5", "3.95"), ("0.500625", "4.20"),
    ("0.75", "4.20"), ("0.750625", "4.60"), ("1", "4.60"), ("1.01", "5.04"), ("1.25", "5.04"),
    ("1.26", "5.42"), ("1.5", "5.42"), ("1.51", "5.57"), ("1.75", "5.57"), ("1.76", "5.82"),
    ("2", "5.82"), ("2.01", "5.92"), ("2.25", "5.92"), ("2.26", "6.10"), ("2.5", "6.10"),
    ("2.51", "6.26"), ("2.75", "6.26"), ("2.76", "6.67"), ("3", "6.67"),
    ("3.01", "7.05"), ("3.25", "7.05"), ("3.26", "7.13"),  # $6.97 + $0.08 per started 4 oz
    ("20", "12.41"),  # 6.97 + 68 x 0.08
]  # fmt: skip


@pytest.mark.parametrize(("lb", "fee"), LARGE_STANDARD_2026)
def test_large_standard_weight_bands(lb: str, fee: str) -> None:
    quote = fulfillment_fee(US_2026, large(lb), MID)
    assert quote.size_tier is SizeTier.LARGE_STANDARD
    assert quote.total == D(fee)


@pytest.mark.parametrize(
    ("sides", "tier"),
    [
        (("15", "12", "0.75"), SizeTier.SMALL_STANDARD),
        (("15.01", "12", "0.75"), SizeTier.LARGE_STANDARD),
        (("15", "12.01", "0.75"), SizeTier.LARGE_STANDARD),
        (("15", "12", "0.76"), SizeTier.LARGE_STANDARD),
        (("0.75", "15", "12"), SizeTier.SMALL_STANDARD),  # sides in any order
        (("18", "14", "8"), SizeTier.LARGE_STANDARD),
        (("18.01", "14", "8"), SizeTier.SMALL_BULKY),
        (("18", "14.01", "8"), SizeTier.SMALL_BULKY),
        (("18", "14", "8.01"), SizeTier.SMALL_BULKY),
    ],
)
def test_size_tier_dimension_boundaries(sides: tuple[str, str, str], tier: SizeTier) -> None:
    package = PackageSize(D(sides[0]), D(sides[1]), D(sides[2]), D("0.5"))
    assert fulfillment_fee(US_2026, package, MID).size_tier is tier


def test_large_standard_weight_limit_is_20_lb() -> None:
    assert fulfillment_fee(US_2026, large("20"), MID).size_tier is SizeTier.LARGE_STANDARD
    over = fulfillment_fee(US_2026, large("20.01"), MID)
    assert over.size_tier is SizeTier.SMALL_BULKY  # 6 x 4 x 1 in, at most 50 lb
    assert over.total == D("15.15")  # small bulky $7.55 + $0.38 x 20 started lb above the first
    # Before 2026 there was no small bulky tier: large bulky, $9.61 + 20 x $0.38.
    before = fulfillment_fee(US_2024, large("20.01"), MID)
    assert (before.size_tier, before.total) == (SizeTier.LARGE_BULKY, D("17.21"))


def test_large_standard_uses_dimensional_weight_when_greater() -> None:
    # 12 x 9 x 4 in = 432 cu in / 139 = 3.108 lb > 1 lb unit weight -> 3+ lb band, one step.
    quote = fulfillment_fee(US_2026, PackageSize(D(12), D(9), D(4), D(1)), MID)
    assert quote.billable_weight_lb == D(432) / D(139)
    assert quote.total == D("7.05")


def test_small_standard_uses_unit_weight_only() -> None:
    quote = fulfillment_fee(US_2026, PackageSize(D(15), D(12), D("0.75"), D("0.25")), MID)
    assert quote.billable_weight_lb == D("0.25")  # dimensional weight 0.97 lb is ignored
    assert quote.total == D("3.42")


@pytest.mark.parametrize(
    ("price", "band", "fee"),
    [("9.99", "under_10", "3.78"), ("10.00", "10_to_50", "4.60"),
     ("50.00", "10_to_50", "4.60"), ("50.01", "over_50", "4.86")],
)  # fmt: skip
def test_price_bands(price: str, band: str, fee: str) -> None:
    assert price_band(D(price)).value == band
    assert fulfillment_fee(US_2026, large("1"), D(price)).total == D(fee)


@pytest.mark.parametrize(
    ("price", "fee"), [("9.99", "2.95"), ("10.00", "3.96"), ("50.00", "3.96"), ("50.01", "4.22")]
)
def test_price_bands_small_standard(price: str, fee: str) -> None:
    assert fulfillment_fee(US_2026, small("16"), D(price)).total == D(fee)


@pytest.mark.parametrize(
    ("price", "fee"), [("9.99", "3.78"), ("10.00", "4.55"), ("50.00", "4.55"), ("50.01", "4.55")]
)
def test_2024_card_has_no_over_50_band(price: str, fee: str) -> None:
    assert fulfillment_fee(US_2024, large("1"), D(price)).total == D(fee)


def test_fuel_surcharge_from_2026_04_17() -> None:
    quote = fulfillment_fee(US_2026_FUEL, large("1"), MID)
    assert quote.base_fee == D("4.60")
    assert quote.fuel_surcharge == D("0.16")  # 3.5% of 4.60 = 0.161
    assert quote.total == D("4.76")


@pytest.mark.parametrize(
    ("price", "fee"), [("20.00", "3.00"), ("10.01", "1.50"), ("10.05", "1.51"), ("9.99", "1.50")]
)
def test_referral_fee_is_15_percent_of_the_price(price: str, fee: str) -> None:
    assert referral_fee(US_2026, D(price)) == D(fee)


CUBIC_FOOT = PackageSize(D(18), D(12), D(8), D(1))  # 1,728 cu in, large standard


@pytest.mark.parametrize(
    ("start", "days", "fee"),
    [
        (date(2026, 6, 1), 30, "0.78"),  # a whole off-peak month
        (date(2026, 10, 1), 31, "2.40"),  # a whole peak month (Oct-Dec)
        (date(2026, 9, 30), 2, "0.10"),  # 0.78/30 + 2.40/31
        (date(2026, 6, 1), 0, "0.00"),
    ],
)
def test_storage_peak_and_off_peak(start: date, days: int, fee: str) -> None:
    assert storage_fee(US_2026, CUBIC_FOOT, start, days) == D(fee)


def test_keepa_pick_and_pack_matches_the_card_for_the_sample_book() -> None:
    # packageWeight 599 g, 244 x 166 x 36 mm: 1.32 lb large standard, the 1.25-1.5 lb band.
    # envelope-0593655036.json, fbaFees collected 2025-10-13 (off-peak): pickAndPackFee 537;
    # product-0593655036-offers.json, collected 2025-10-26 (holiday peak): 568.
    package = PackageSize.from_metric(244, 166, 36, 599)
    assert fulfillment_fee(US_2025_PLACEMENT, package, D("15.23")).total == D("5.37")
    assert fulfillment_fee(US_2025_PEAK, package, D("15.23")).total == D("5.68")
    assert fulfillment_fee(US_2026, package, D("15.23")).total == D("5.42")


# --- bulky tiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sides", "lb", "tier"),
    [
        # small bulky: at most 37 x 28 x 20 in, 130 in of length + girth, 50 lb
        (("37", "20", "5"), "5", SizeTier.SMALL_BULKY),  # L+G 37 + 2 x 25 = 87
        (("37.01", "20", "5"), "5", SizeTier.LARGE_BULKY),
        (("30", "28", "5"), "5", SizeTier.SMALL_BULKY),
        (("30", "28.01", "5"), "5", SizeTier.LARGE_BULKY),
        # dimensional weight 30 x 20 x 11.58 / 139 = 49.99 lb; x 11.59: 50.03 lb
        (("30", "20", "11.58"), "5", SizeTier.SMALL_BULKY),
        (("30", "20", "11.59"), "5", SizeTier.LARGE_BULKY),
        (("19", "10", "5"), "50", SizeTier.SMALL_BULKY),  # billable 50 lb: the limit
        (("19", "10", "5"), "50.01", SizeTier.LARGE_BULKY),
        (("19", "10", "5"), "20", SizeTier.SMALL_BULKY),  # over 18 in long: not standard
        (("17", "10", "5"), "20.01", SizeTier.SMALL_BULKY),  # over 20 lb: not standard
    ],
)
def test_bulky_tier_boundaries(sides: tuple[str, str, str], lb: str, tier: SizeTier) -> None:
    package = PackageSize(D(sides[0]), D(sides[1]), D(sides[2]), D(lb))
    assert fulfillment_fee(US_2026, package, MID).size_tier is tier


def test_small_bulky_reaches_50_lb_before_its_shortest_side_or_girth_limits() -> None:
    """Amazon's 20 in shortest side and 130 in of length + girth are checked, but no package
    within 50 lb of dimensional weight reaches them: 20 x 20 x 20 in is already 57.6 lb, and
    L+G 130 within 37 x 28 in needs 18.5 in of height, 37 x 28 x 18.5 / 139 = 137.9 lb."""
    cube = PackageSize(D(20), D(20), D(20), D(1))
    girth = PackageSize(D(37), D(28), D("18.5"), D(1))
    assert girth.length_plus_girth_in == D(130)  # 37 + 2 x (28 + 18.5)
    for package in (cube, girth):
        assert billable_weight_lb(package, SizeTier.SMALL_BULKY) > 50
        assert fulfillment_fee(US_2026, package, MID).size_tier is SizeTier.LARGE_BULKY


def thin_bulky(lb: str) -> PackageSize:
    """19 x 3 x 1 in: not standard (longer than 18 in); bulky dimensional weight with the 2-inch
    minimum side 19 x 3 x 2 / 139 = 0.82 lb, below every unit weight used."""
    return PackageSize(D(19), D(3), D(1), D(lb))


# (lb, 2026 small bulky $10-$50: $7.55 + $0.38 per started lb above the first)
SMALL_BULKY_2026 = [
    ("1", "7.55"), ("1.01", "7.93"), ("2", "7.93"), ("2.01", "8.31"), ("50", "26.17"),
]  # fmt: skip


@pytest.mark.parametrize(("lb", "fee"), SMALL_BULKY_2026)
def test_small_bulky_fee_2026(lb: str, fee: str) -> None:
    quote = fulfillment_fee(US_2026, thin_bulky(lb), MID)
    assert quote.size_tier is SizeTier.SMALL_BULKY
    assert quote.total == D(fee)


@pytest.mark.parametrize(
    ("price", "fee"), [("9.99", "6.78"), ("10.00", "7.55"), ("50.00", "7.55"), ("50.01", "7.55")]
)
def test_small_bulky_price_bands(price: str, fee: str) -> None:
    assert fulfillment_fee(US_2026, thin_bulky("1"), D(price)).total == D(fee)


def test_small_bulky_was_large_bulky_before_2026() -> None:
    """The issue: everything past large standard was charged as large bulky, $9.35 in 2026."""
    book = thin_bulky("1")
    assert fulfillment_fee(US_2025_PLACEMENT, book, MID).total == D("9.61")  # 2024 large bulky
    assert fulfillment_fee(US_2026, book, MID).total == D("7.55")  # not $9.35
    peak = fulfillment_fee(US_2026_PEAK, book, MID)
    # Derived: $7.55 + the $1.04 large bulky peak increase, plus 3.5% (0.30065 -> 0.30)
    assert (peak.size_tier, peak.base_fee, peak.fuel_surcharge) == (
        SizeTier.SMALL_BULKY, D("8.59"), D("0.30"))  # fmt: skip


def test_large_bulky_fee_2026() -> None:
    # 40 x 4 x 2 in, 3 lb (dimensional 2.3 lb): longer than 37 in. 9.35 + 0.38 x 2 started lb.
    quote = fulfillment_fee(US_2026, PackageSize(D(40), D(4), D(2), D(3)), MID)
    assert (quote.size_tier, quote.total) == (SizeTier.LARGE_BULKY, D("10.11"))


def test_bulky_dimensional_weight_takes_width_and_height_as_at_least_2_in() -> None:
    # A 40 x 1 x 1 in tube, 1 lb: 40 x 1 x 1 / 139 = 0.29 lb, but Amazon weighs a bulky item
    # as 40 x 2 x 2 / 139 = 1.15 lb: one started lb above the first, 9.35 + 0.38.
    tube = PackageSize(D(40), D(1), D(1), D(1))
    quote = fulfillment_fee(US_2026, tube, MID)
    assert quote.billable_weight_lb == D(160) / D(139)
    assert (quote.size_tier, quote.total) == (SizeTier.LARGE_BULKY, D("9.73"))
    # Small bulky too: 36 x 1.5 x 1 in, 0.5 lb weighs 36 x 2 x 2 / 139 = 1.04 lb, not 0.39 lb.
    flat = fulfillment_fee(US_2026, PackageSize(D(36), D("1.5"), D(1), D("0.5")), MID)
    assert (flat.size_tier, flat.total) == (SizeTier.SMALL_BULKY, D("7.93"))
    # Bulky by weight alone (over 20 lb): the unit weight, above 1 x 2 x 2 / 139.
    heavy_cube = PackageSize(D(1), D(1), D(1), D(25))
    assert billable_weight_lb(heavy_cube, SizeTier.SMALL_BULKY) == D(25)


def test_standard_size_dimensional_weight_has_no_minimum_side() -> None:
    thin = PackageSize(D(17), D(1), D(1), D("0.05"))  # 1 in thick: large standard
    assert billable_weight_lb(thin, SizeTier.LARGE_STANDARD) == D(17) / D(139)


def test_bulky_storage_is_charged_at_the_oversize_rate() -> None:
    # 40 x 10 x 5 in = 2000 cu in = 1.157 cu ft x $0.56 (June, oversize) for a whole month
    assert storage_fee(US_2026, PackageSize(D(40), D(10), D(5), D(3)), date(2026, 6, 1), 30) == (
        D("0.65"))  # fmt: skip


# --- every published row of every off-peak card, at its limit and just above -----------------
# The rows below are copied from the rate cards (fee_tables.py cites them), not read from the
# engine's tables: (max oz of the band, under $10, $10-$50, over $50; None: the same as $10-$50).
# Each row is checked at its limit (the row's fee) and 0.01 oz above it (the next row's fee).
CARD_2024_SMALL = [
    ("2", "2.29", "3.06", None), ("4", "2.38", "3.15", None), ("6", "2.47", "3.24", None),
    ("8", "2.56", "3.33", None), ("10", "2.66", "3.43", None), ("12", "2.76", "3.53", None),
    ("14", "2.83", "3.60", None), ("16", "2.88", "3.65", None),
]  # fmt: skip
CARD_2024_LARGE = [
    ("4", "2.91", "3.68", None), ("8", "3.13", "3.90", None), ("12", "3.38", "4.15", None),
    ("16", "3.78", "4.55", None), ("20", "4.22", "4.99", None), ("24", "4.60", "5.37", None),
    ("28", "4.75", "5.52", None), ("32", "5.00", "5.77", None), ("36", "5.10", "5.87", None),
    ("40", "5.28", "6.05", None), ("44", "5.44", "6.21", None), ("48", "5.85", "6.62", None),
    # 3+ lb: $6.15 / $6.92 plus $0.08 per started 4 oz above 48 oz; 48.01 oz is one step.
    ("48.01", "6.23", "7.00", None),
]  # fmt: skip
CARD_2026_SMALL = [
    ("2", "2.43", "3.32", "3.58"), ("4", "2.49", "3.42", "3.68"), ("6", "2.56", "3.45", "3.71"),
    ("8", "2.66", "3.54", "3.80"), ("10", "2.77", "3.68", "3.94"), ("12", "2.82", "3.78", "4.04"),
    ("14", "2.92", "3.91", "4.17"), ("16", "2.95", "3.96", "4.22"),
]  # fmt: skip
CARD_2026_LARGE = [
    ("4", "2.91", "3.73", "3.99"), ("8", "3.13", "3.95", "4.21"), ("12", "3.38", "4.20", "4.46"),
    ("16", "3.78", "4.60", "4.86"), ("20", "4.22", "5.04", "5.30"), ("24", "4.60", "5.42", "5.68"),
    ("28", "4.75", "5.57", "5.83"), ("32", "5.00", "5.82", "6.08"), ("36", "5.10", "5.92", "6.18"),
    ("40", "5.28", "6.10", "6.36"), ("44", "5.44", "6.26", "6.52"), ("48", "5.85", "6.67", "6.93"),
    # 3+ lb: $6.15 / $6.97 / $7.23 plus $0.08 per started 4 oz: one step at 48.01 oz.
    ("48.01", "6.23", "7.05", "7.31"),
]  # fmt: skip
# A price in each band: under $10, $10-$50, over $50.
PRICES = (D("9.99"), D("20.00"), D("50.01"))
JUST_ABOVE = D("0.01")  # oz


Row = tuple[str, str, str, str | None]


def band_edges(
    small_rows: Sequence[Row],
    large_rows: Sequence[Row],
) -> list[tuple[str, PackageSize, SizeTier, tuple[str, str, str]]]:
    """(case id, package, tier, fee in each price band) at every row's limit and just above."""

    def fees(row: Row) -> tuple[str, str, str]:
        return (row[1], row[2], row[3] or row[2])

    cases: list[tuple[str, PackageSize, SizeTier, tuple[str, str, str]]] = []
    for i, row in enumerate(small_rows):
        oz = D(row[0])
        cases.append((f"small-{oz}oz", small(str(oz)), SizeTier.SMALL_STANDARD, fees(row)))
        above = oz + JUST_ABOVE
        if i + 1 < len(small_rows):
            nxt, tier = small_rows[i + 1], SizeTier.SMALL_STANDARD
        else:  # over 16 oz is large standard: its 1-1.25 lb row (max 20 oz)
            nxt, tier = large_rows[4], SizeTier.LARGE_STANDARD
        cases.append((f"small-{above}oz", small(str(above)), tier, fees(nxt)))
    for i, row in enumerate(large_rows[:-1]):  # the last row is the first 3+ lb step
        oz = D(row[0])
        package = large(str(oz / 16))
        cases.append((f"large-{oz}oz", package, SizeTier.LARGE_STANDARD, fees(row)))
        above = oz + JUST_ABOVE
        nxt = large_rows[i + 1]
        cases.append(
            (f"large-{above}oz", large(str(above / 16)), SizeTier.LARGE_STANDARD, fees(nxt))
        )
    return cases


CARD_2024_EDGES = band_edges(CARD_2024_SMALL, CARD_2024_LARGE)
# The four ids the 2024 card was in force under (off peak): the 2024-02-05 card, with the
# placement fee from 2024-03-01, after the 2024 peak (2025-01-15), no partial split (2025-02-20).
CARD_2024_IDS = ("us-fba-2024-02-05", "us-fba-2024-03-01", "us-fba-2025-01-15", "us-fba-2025-02-20")


@pytest.mark.parametrize("schedule_id", CARD_2024_IDS)
@pytest.mark.parametrize(
    ("package", "tier", "fees"),
    [case[1:] for case in CARD_2024_EDGES],
    ids=[case[0] for case in CARD_2024_EDGES],
)
def test_2024_card_every_band_edge(
    schedule_id: str, package: PackageSize, tier: SizeTier, fees: tuple[str, str, str]
) -> None:
    schedule = schedule_by_id(schedule_id)
    assert not schedule.holiday_peak and schedule.fuel_surcharge_percent == 0
    for price, fee in zip(PRICES, fees, strict=True):
        quote = fulfillment_fee(schedule, package, price)
        assert quote.size_tier is tier
        assert (quote.base_fee, quote.fuel_surcharge, quote.total) == (D(fee), D(0), D(fee))


def with_fuel(base: str) -> Decimal:
    """The card's fee plus the 3.5% fuel and logistics surcharge, rounded half up to the cent."""
    fee = D(base)
    return fee + (fee * D("0.035")).quantize(D("0.01"), rounding=ROUND_HALF_UP)


CARD_2026_EDGES = band_edges(CARD_2026_SMALL, CARD_2026_LARGE)


@pytest.mark.parametrize(
    ("package", "tier", "fees"),
    [case[1:] for case in CARD_2026_EDGES],
    ids=[case[0] for case in CARD_2026_EDGES],
)
def test_2027_schedule_is_the_2026_card_plus_fuel_at_every_band_edge(
    package: PackageSize, tier: SizeTier, fees: tuple[str, str, str]
) -> None:
    schedule = schedule_by_id("us-fba-2027-01-15")
    assert not schedule.holiday_peak
    for price, fee in zip(PRICES, fees, strict=True):
        quote = fulfillment_fee(schedule, package, price)
        assert quote.size_tier is tier
        assert quote.base_fee == D(fee)
        assert quote.total == with_fuel(fee)


@pytest.mark.parametrize(
    ("price", "total"),
    # Worked by hand: 1-1.25 lb row $4.22 / $5.04 / $5.30; 3.5% = 0.1477 -> 0.15,
    # 0.1764 -> 0.18, 0.1855 -> 0.19.
    [("9.99", "4.37"), ("20.00", "5.22"), ("50.01", "5.49")],
)
def test_2027_fuel_worked_by_hand(price: str, total: str) -> None:
    assert fulfillment_fee(schedule_by_id("us-fba-2027-01-15"), large("1.1"), D(price)).total == (
        D(total))  # fmt: skip
