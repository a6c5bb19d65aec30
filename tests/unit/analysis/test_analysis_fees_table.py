"""Table tests for the fee schedules: every size-tier and weight-band boundary, and the price
bands at $9.99 / $10.00 / $50.00 / $50.01. Expected fees are the published rate cards
(see analysis_service/domain/fee_tables.py for the sources)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from analysis_service.domain import PackageSize, SizeTier, fulfillment_fee, schedule_in_force
from analysis_service.domain.fee_tables import US_2024, US_2026, US_2026_FUEL
from analysis_service.domain.fees import price_band, referral_fee, storage_fee

D = Decimal
MID = D("20.00")  # a price in the $10-$50 band


def small(oz: str) -> PackageSize:
    """Small-standard dimensions (8 x 5 x 0.5 in) at a given unit weight in ounces."""
    return PackageSize(D(8), D(5), D("0.5"), D(oz) / 16)


def large(lb: str) -> PackageSize:
    """Large standard by thickness (6 x 4 x 1 in, dimensional weight 0.17 lb)."""
    return PackageSize(D(6), D(4), D(1), D(lb))


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
        (("18.01", "14", "8"), SizeTier.BULKY),
        (("18", "14.01", "8"), SizeTier.BULKY),
        (("18", "14", "8.01"), SizeTier.BULKY),
    ],
)
def test_size_tier_dimension_boundaries(sides: tuple[str, str, str], tier: SizeTier) -> None:
    package = PackageSize(D(sides[0]), D(sides[1]), D(sides[2]), D("0.5"))
    assert fulfillment_fee(US_2026, package, MID).size_tier is tier


def test_large_standard_weight_limit_is_20_lb() -> None:
    assert fulfillment_fee(US_2026, large("20"), MID).size_tier is SizeTier.LARGE_STANDARD
    over = fulfillment_fee(US_2026, large("20.01"), MID)
    assert over.size_tier is SizeTier.BULKY
    assert over.total == D("16.95")  # large bulky $9.35 + $0.38 x 20 lb above the first


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
    ("day", "schedule_id"),
    [
        (date(2023, 6, 1), "us-fba-2024-02-05"),  # before every schedule: the oldest
        (date(2025, 10, 26), "us-fba-2024-02-05"),
        (date(2026, 1, 14), "us-fba-2024-02-05"),
        (date(2026, 1, 15), "us-fba-2026-01-15"),
        (date(2026, 4, 16), "us-fba-2026-01-15"),
        (date(2026, 4, 17), "us-fba-2026-04-17"),
        (date(2026, 11, 25), "us-fba-2026-04-17"),
    ],
)
def test_schedule_in_force(day: date, schedule_id: str) -> None:
    assert schedule_in_force(day).id == schedule_id
    assert (
        schedule_in_force(datetime(day.year, day.month, day.day, 12, tzinfo=UTC)).id == schedule_id
    )


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


def test_keepa_pick_and_pack_matches_2024_card_for_the_sample_book() -> None:
    # envelope-0593655036.json: packageWeight 599 g, 244 x 166 x 36 mm, fbaFees.pickAndPackFee 537
    package = PackageSize.from_metric(244, 166, 36, 599)
    assert fulfillment_fee(US_2024, package, D("15.23")).total == D("5.37")
    assert fulfillment_fee(US_2026, package, D("15.23")).total == D("5.42")
