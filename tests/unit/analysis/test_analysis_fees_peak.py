"""The dated fee schedules: which one is in force on each side of every date they change, and the
holiday peak fulfillment rates (Oct 15 - Jan 14) band by band. Sources and derivations are in
analysis_service/domain/fee_tables.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from analysis_testkit import large, small

from analysis_service.domain import (
    FEE_SCHEDULES,
    PackageSize,
    SizeTier,
    fulfillment_fee,
    schedule_by_id,
    schedule_in_force,
)
from analysis_service.domain.fee_tables import (
    US_2024,
    US_2024_PEAK,
    US_2025_PEAK,
    US_2026,
    US_2026_FUEL,
    US_2026_PEAK,
    FeeSchedule,
)

D = Decimal
MID = D("20.00")  # a price in the $10-$50 band


# Every date a schedule takes effect, with the day before it.
IN_FORCE = [
    (date(2023, 6, 1), "us-fba-2024-02-05"),  # before every schedule: the oldest
    (date(2024, 2, 5), "us-fba-2024-02-05"),
    (date(2024, 2, 29), "us-fba-2024-02-05"),
    (date(2024, 3, 1), "us-fba-2024-03-01"),  # the inbound placement fee starts
    (date(2024, 10, 14), "us-fba-2024-03-01"),
    (date(2024, 10, 15), "us-fba-peak-2024-10-15"),
    (date(2025, 1, 14), "us-fba-peak-2024-10-15"),
    (date(2025, 1, 15), "us-fba-2025-01-15"),
    (date(2025, 2, 19), "us-fba-2025-01-15"),
    (date(2025, 2, 20), "us-fba-2025-02-20"),  # no partial split for standard size
    (date(2025, 10, 14), "us-fba-2025-02-20"),
    (date(2025, 10, 15), "us-fba-peak-2025-10-15"),
    (date(2026, 1, 14), "us-fba-peak-2025-10-15"),
    (date(2026, 1, 15), "us-fba-2026-01-15-r2"),
    (date(2026, 4, 16), "us-fba-2026-01-15-r2"),
    (date(2026, 4, 17), "us-fba-2026-04-17-r2"),  # fuel and logistics surcharge
    (date(2026, 10, 14), "us-fba-2026-04-17-r2"),
    (date(2026, 10, 15), "us-fba-peak-2026-10-15"),
    (date(2027, 1, 14), "us-fba-peak-2026-10-15"),
    (date(2027, 1, 15), "us-fba-2027-01-15"),
    (date(2028, 6, 1), "us-fba-2027-01-15"),
]


@pytest.mark.parametrize(("day", "schedule_id"), IN_FORCE)
def test_schedule_in_force_on_each_side_of_every_change(day: date, schedule_id: str) -> None:
    assert schedule_in_force(day).id == schedule_id
    for hour, minute in ((0, 0), (23, 59)):  # the whole UTC day
        moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        assert schedule_in_force(moment).id == schedule_id


def test_every_schedule_is_tested_and_dated_in_order() -> None:
    assert {s.id for s in FEE_SCHEDULES} == {schedule_id for _, schedule_id in IN_FORCE}
    starts = [s.effective_from for s in FEE_SCHEDULES]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    peaks = [s for s in FEE_SCHEDULES if s.holiday_peak]
    assert [(s.effective_from.month, s.effective_from.day) for s in peaks] == [(10, 15)] * 3
    for peak in peaks:  # each peak ends on Jan 14: the next schedule starts on Jan 15
        after = FEE_SCHEDULES[FEE_SCHEDULES.index(peak) + 1]
        assert (after.effective_from, after.holiday_peak) == (
            date(peak.effective_from.year + 1, 1, 15), False)  # fmt: skip


def test_retired_ids_still_name_their_schedules() -> None:
    """Ids recorded by engine 2026.12.2 and before, for the 2026 cards without small bulky."""
    old = schedule_by_id("us-fba-2026-04-17")
    assert old.small_bulky is None and old.inbound_placement is None
    assert old.large_standard == US_2026_FUEL.large_standard
    assert schedule_by_id("us-fba-2026-01-15").fuel_surcharge_percent == 0
    with pytest.raises(ValueError):
        schedule_by_id("us-fba-1999-01-01")


# The examples, on each side of each peak's start and end: small standard 4-6 oz
# $3.24 -> $3.44, large standard 1.75-2 lb $5.77 -> $6.10 ($10-$50, 2024 card); from
# 2026-01-15 the 2026 card (4-6 oz $3.45, 1.75-2 lb $5.82); from 2026-04-17 plus 3.5%.
PEAK_EDGES = [
    (date(2024, 10, 14), "3.24", "5.77"),
    (date(2024, 10, 15), "3.44", "6.10"),
    (date(2025, 1, 14), "3.44", "6.10"),
    (date(2025, 1, 15), "3.24", "5.77"),
    (date(2025, 10, 14), "3.24", "5.77"),
    (date(2025, 10, 15), "3.44", "6.10"),
    (date(2026, 1, 14), "3.44", "6.10"),
    (date(2026, 1, 15), "3.45", "5.82"),
    # 3.45 + 0.12 (3.5% = 0.12075); 5.82 + 0.20 (0.2037)
    (date(2026, 10, 14), "3.57", "6.02"),
    # peak: 3.45 + 0.20 = 3.65, + 0.13 (0.12775); 5.82 + 0.33 = 6.15, + 0.22 (0.21525)
    (date(2026, 10, 15), "3.78", "6.37"),
    (date(2027, 1, 14), "3.78", "6.37"),
    (date(2027, 1, 15), "3.57", "6.02"),
]


@pytest.mark.parametrize(("day", "small_fee", "large_fee"), PEAK_EDGES)
def test_peak_starts_on_october_15_and_ends_after_january_14(
    day: date, small_fee: str, large_fee: str
) -> None:
    schedule = schedule_in_force(day)
    assert fulfillment_fee(schedule, small("5"), MID).total == D(small_fee)
    assert fulfillment_fee(schedule, large("1.9"), MID).total == D(large_fee)


# Amazon's Low-Price FBA page during the 2024-25 peak: the under-$10 peak rates, per band.
LOW_PRICE_PEAK_SMALL = ("2.48", "2.57", "2.67", "2.76", "2.87", "2.97", "3.05", "3.10")
LOW_PRICE_PEAK_LARGE = (
    "3.15", "3.39", "3.66", "4.07", "4.52", "4.91", "5.07", "5.33", "5.47", "5.67", "5.84", "6.26",
)  # fmt: skip
LOW_PRICE_DISCOUNT = D("0.77")  # "Low-Price FBA rates are $0.77 less than standard FBA rates"


@pytest.mark.parametrize("peak", [US_2024_PEAK, US_2025_PEAK], ids=lambda s: s.id)
def test_2024_and_2025_peaks_are_amazons_published_rates(peak: FeeSchedule) -> None:
    for bands, published in (
        (peak.small_standard, LOW_PRICE_PEAK_SMALL),
        (peak.large_standard, LOW_PRICE_PEAK_LARGE),
    ):
        assert [b.fees.under_10 for b in bands] == [D(p) for p in published]
        standard = [D(p) + LOW_PRICE_DISCOUNT for p in published]
        assert [b.fees.from_10_to_50 for b in bands] == standard
        assert [b.fees.over_50 for b in bands] == [b.fees.from_10_to_50 for b in bands]
    # 3+ lb: $6.69 (+ $0.08 per 4 oz); large bulky $9.88 (+ $0.38 per lb), both under $10.
    assert peak.large_standard_over_3_lb.base.under_10 == D("6.69")
    assert peak.large_bulky.base.under_10 == D("9.88")
    assert peak.large_bulky.base.from_10_to_50 == D("10.65")  # Amazon's example: +$1.04
    assert peak.small_bulky is None  # no small bulky tier before 2026
    assert (peak.large_standard_over_3_lb.step_fee, peak.large_bulky.step_fee) == (
        D("0.08"), D("0.38"))  # fmt: skip


# (oz, 2025-26 peak $10-$50, 2026-27 peak $10-$50 before the 3.5% surcharge), at each band's
# upper limit and just above it. 2025: the 2024 card + the increase (= Amazon's peak table);
# 2026: the 2026 card + the same increase (derived).
SMALL_STANDARD_PEAK = [
    ("2", "3.25", "3.51"), ("2.01", "3.34", "3.61"), ("4", "3.34", "3.61"),
    ("4.01", "3.44", "3.65"), ("6", "3.44", "3.65"), ("6.01", "3.53", "3.74"),
    ("8", "3.53", "3.74"), ("8.01", "3.64", "3.89"), ("10", "3.64", "3.89"),
    ("10.01", "3.74", "3.99"), ("12", "3.74", "3.99"), ("12.01", "3.82", "4.13"),
    ("14", "3.82", "4.13"), ("14.01", "3.87", "4.18"), ("16", "3.87", "4.18"),
]  # fmt: skip


@pytest.mark.parametrize(("oz", "fee_2025", "fee_2026"), SMALL_STANDARD_PEAK)
def test_small_standard_peak_bands(oz: str, fee_2025: str, fee_2026: str) -> None:
    for schedule, fee in ((US_2025_PEAK, fee_2025), (US_2026_PEAK, fee_2026)):
        quote = fulfillment_fee(schedule, small(oz), MID)
        assert (quote.size_tier, quote.base_fee) == (SizeTier.SMALL_STANDARD, D(fee))


LARGE_STANDARD_PEAK = [
    ("0.25", "3.92", "3.97"), ("0.250625", "4.16", "4.21"), ("0.5", "4.16", "4.21"),
    ("0.500625", "4.43", "4.48"), ("0.75", "4.43", "4.48"), ("0.750625", "4.84", "4.89"),
    ("1", "4.84", "4.89"), ("1.01", "5.29", "5.34"), ("1.25", "5.29", "5.34"),
    ("1.26", "5.68", "5.73"), ("1.5", "5.68", "5.73"), ("1.51", "5.84", "5.89"),
    ("1.75", "5.84", "5.89"), ("1.76", "6.10", "6.15"), ("2", "6.10", "6.15"),
    ("2.01", "6.24", "6.29"), ("2.25", "6.24", "6.29"), ("2.26", "6.44", "6.49"),
    ("2.5", "6.44", "6.49"), ("2.51", "6.61", "6.66"), ("2.75", "6.61", "6.66"),
    ("2.76", "7.03", "7.08"), ("3", "7.03", "7.08"),
    # 3+ lb: 2025 $7.46, 2026 $6.97 + $0.54 = $7.51, + $0.08 per started 4 oz above 3 lb
    ("3.01", "7.54", "7.59"), ("3.25", "7.54", "7.59"), ("3.26", "7.62", "7.67"),
    ("20", "12.90", "12.95"),  # + 68 x 0.08
]  # fmt: skip


@pytest.mark.parametrize(("lb", "fee_2025", "fee_2026"), LARGE_STANDARD_PEAK)
def test_large_standard_peak_bands(lb: str, fee_2025: str, fee_2026: str) -> None:
    for schedule, fee in ((US_2025_PEAK, fee_2025), (US_2026_PEAK, fee_2026)):
        quote = fulfillment_fee(schedule, large(lb), MID)
        assert (quote.size_tier, quote.base_fee) == (SizeTier.LARGE_STANDARD, D(fee))


@pytest.mark.parametrize(
    ("price", "fee"),
    # 2026 large standard 12-16 oz: $3.78 / $4.60 / $4.86, each + $0.29 at peak
    [("9.99", "4.07"), ("10.00", "4.89"), ("50.00", "4.89"), ("50.01", "5.15")],
)  # fmt: skip
def test_2026_peak_keeps_the_price_bands(price: str, fee: str) -> None:
    assert fulfillment_fee(US_2026_PEAK, large("1"), D(price)).base_fee == D(fee)


def test_peak_changes_fulfillment_only() -> None:
    for off, peak in ((US_2024, US_2024_PEAK), (US_2026_FUEL, US_2026_PEAK)):
        assert peak.holiday_peak and not off.holiday_peak
        assert (peak.referral_percent, peak.variable_closing_fee) == (
            off.referral_percent, off.variable_closing_fee)  # fmt: skip
        assert (peak.storage_standard, peak.storage_oversize) == (
            off.storage_standard, off.storage_oversize)  # fmt: skip
        assert peak.fuel_surcharge_percent == off.fuel_surcharge_percent
    assert US_2026_PEAK.inbound_placement == US_2026.inbound_placement
    assert US_2024_PEAK.inbound_placement is not None  # the 2024-03-01 placement fee stays


def test_fuel_surcharge_applies_on_top_of_the_peak_rate() -> None:
    quote = fulfillment_fee(US_2026_PEAK, large("1.32"), MID)  # 1.25-1.5 lb: 5.42 + 0.31
    assert quote.base_fee == D("5.73")
    assert quote.fuel_surcharge == D("0.20")  # 3.5% of 5.73 = 0.20055
    assert quote.total == D("5.93")


# --- the 2024-25 peak (us-fba-peak-2024-10-15), every published row at its limit and above ---
# Amazon's under-$10 peak rates (LOW_PRICE_PEAK_*, above) and, $0.77 higher, the $10-$50 rates;
# the 2024 card has no over-$50 band. (max oz, under $10, $10-$50), worked by hand:
PEAK_2024_SMALL = [
    ("2", "2.48", "3.25"), ("4", "2.57", "3.34"), ("6", "2.67", "3.44"), ("8", "2.76", "3.53"),
    ("10", "2.87", "3.64"), ("12", "2.97", "3.74"), ("14", "3.05", "3.82"), ("16", "3.10", "3.87"),
]  # fmt: skip
PEAK_2024_LARGE = [
    ("4", "3.15", "3.92"), ("8", "3.39", "4.16"), ("12", "3.66", "4.43"), ("16", "4.07", "4.84"),
    ("20", "4.52", "5.29"), ("24", "4.91", "5.68"), ("28", "5.07", "5.84"), ("32", "5.33", "6.10"),
    ("36", "5.47", "6.24"), ("40", "5.67", "6.44"), ("44", "5.84", "6.61"), ("48", "6.26", "7.03"),
    # 3+ lb: $6.69 / $7.46 plus $0.08 per started 4 oz; 48.01 oz is one step.
    ("48.01", "6.77", "7.54"),
]  # fmt: skip


def _peak_2024_edges() -> list[tuple[str, object, SizeTier, str, str]]:
    cases: list[tuple[str, object, SizeTier, str, str]] = []
    for i, (oz, low, mid) in enumerate(PEAK_2024_SMALL):
        cases.append((f"small-{oz}oz", small(oz), SizeTier.SMALL_STANDARD, low, mid))
        above = D(oz) + D("0.01")
        if i + 1 < len(PEAK_2024_SMALL):
            _, nlow, nmid = PEAK_2024_SMALL[i + 1]
            tier = SizeTier.SMALL_STANDARD
        else:  # 16.01 oz: large standard, its 16-20 oz row
            _, nlow, nmid = PEAK_2024_LARGE[4]
            tier = SizeTier.LARGE_STANDARD
        cases.append((f"small-{above}oz", small(str(above)), tier, nlow, nmid))
    for i, (oz, low, mid) in enumerate(PEAK_2024_LARGE[:-1]):
        lb = D(oz) / 16
        cases.append((f"large-{oz}oz", large(str(lb)), SizeTier.LARGE_STANDARD, low, mid))
        above = (D(oz) + D("0.01")) / 16
        _, nlow, nmid = PEAK_2024_LARGE[i + 1]
        cases.append(
            (f"large-{D(oz) + D('0.01')}oz", large(str(above)), SizeTier.LARGE_STANDARD, nlow, nmid)
        )
    return cases


PEAK_2024_EDGES = _peak_2024_edges()


@pytest.mark.parametrize(
    ("package", "tier", "under_10", "mid"),
    [case[1:] for case in PEAK_2024_EDGES],
    ids=[case[0] for case in PEAK_2024_EDGES],
)
def test_2024_peak_every_band_edge(
    package: object, tier: SizeTier, under_10: str, mid: str
) -> None:
    assert isinstance(package, PackageSize)
    assert schedule_by_id("us-fba-peak-2024-10-15") is US_2024_PEAK
    for price, fee in ((D("9.99"), under_10), (MID, mid), (D("50.01"), mid)):
        quote = fulfillment_fee(US_2024_PEAK, package, price)
        assert quote.size_tier is tier
        # no fuel surcharge before 2026-04-17
        assert (quote.base_fee, quote.fuel_surcharge, quote.total) == (D(fee), D(0), D(fee))


def bulky_rod(lb: str) -> PackageSize:
    """38 x 2 x 2 in: longer than small bulky's 37 in, so large bulky; dimensional weight
    38 x 2 x 2 / 139 = 1.09 lb, below every unit weight used."""
    return PackageSize(D(38), D(2), D(2), D(lb))


# Large bulky at peak: base for the first lb, + $0.38 per started lb above it. Off peak: 2024
# card $8.84 / $9.61, 2026 card $8.58 / $9.35; the peak adds $1.04 (Amazon's example) to each.
# (lb, price, 2024-25 peak, 2025-26 peak, 2026-27 peak base before the 3.5% surcharge)
LARGE_BULKY_PEAK = [
    ("2", "20.00", "11.03", "11.03", "10.77"),  # 10.65 + 0.38; 10.39 + 0.38
    ("2.01", "20.00", "11.41", "11.41", "11.15"),  # two started lb above the first
    ("2", "9.99", "10.26", "10.26", "10.00"),  # 9.88 + 0.38; 9.62 + 0.38
    ("2", "50.01", "11.03", "11.03", "10.77"),  # no over-$50 premium for bulky
    ("50", "20.00", "29.27", "29.27", "29.01"),  # + 49 x 0.38 = 18.62
]  # fmt: skip


@pytest.mark.parametrize(("lb", "price", "fee_2024", "fee_2025", "fee_2026"), LARGE_BULKY_PEAK)
def test_large_bulky_at_peak(
    lb: str, price: str, fee_2024: str, fee_2025: str, fee_2026: str
) -> None:
    for schedule, fee in (
        (US_2024_PEAK, fee_2024), (US_2025_PEAK, fee_2025), (US_2026_PEAK, fee_2026),
    ):  # fmt: skip
        quote = fulfillment_fee(schedule, bulky_rod(lb), D(price))
        assert (quote.size_tier, quote.base_fee) == (SizeTier.LARGE_BULKY, D(fee))


def test_large_bulky_2026_peak_pays_the_surcharge_on_top() -> None:
    # 2 lb at $20: 9.35 + 1.04 + 0.38 = 10.77; 3.5% = 0.37695 -> 0.38; total 11.15.
    quote = fulfillment_fee(US_2026_PEAK, bulky_rod("2"), MID)
    assert (quote.base_fee, quote.fuel_surcharge, quote.total) == (
        D("10.77"), D("0.38"), D("11.15"))  # fmt: skip
    # Off peak the same day a year later (us-fba-2027-01-15): 9.73 + 0.34 (0.34055) = 10.07.
    after = fulfillment_fee(schedule_by_id("us-fba-2027-01-15"), bulky_rod("2"), MID)
    assert (after.base_fee, after.total) == (D("9.73"), D("10.07"))
