"""The FBA inbound placement service fee, by placement option, size tier and weight band, on
each side of the dates it changed (2024-03-01 start, 2025-02-20 no partial split for standard
size). Figures: the top of each range in Amazon's Table 1 (see fee_tables.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from analysis_service.domain import (
    InboundPlacement,
    PackageSize,
    inbound_placement_fee,
    schedule_in_force,
)
from analysis_service.domain.fee_tables import (
    US_2024,
    US_2024_PLACEMENT,
    US_2025_PLACEMENT,
    US_2026_FUEL,
    US_2026_PEAK,
    FeeSchedule,
)

D = Decimal
MINIMAL, PARTIAL, OPTIMIZED = (
    InboundPlacement.MINIMAL_SPLIT, InboundPlacement.PARTIAL_SPLIT,
    InboundPlacement.AMAZON_OPTIMIZED,
)  # fmt: skip


def small(oz: str) -> PackageSize:
    return PackageSize(D(8), D(5), D("0.5"), D(oz) / 16)


def large(lb: str) -> PackageSize:
    return PackageSize(D(6), D(4), D(1), D(lb))  # dimensional weight 0.17 lb


def fee(schedule: FeeSchedule, package: PackageSize, option: InboundPlacement) -> Decimal:
    return inbound_placement_fee(schedule, package, option).fee


# (package, minimal split, partial split until 2025-02-19): each band's limit and just above.
BANDS = [
    (small("0.5"), "0.30", "0.21"),  # small standard, 16 oz or less
    (small("16"), "0.30", "0.21"),
    (large("0.75"), "0.34", "0.24"),  # large standard, 12 oz or less
    (large("0.750625"), "0.41", "0.28"),  # 12+ oz to 1.5 lb
    (large("1.5"), "0.41", "0.28"),
    (large("1.51"), "0.49", "0.34"),  # 1.5+ to 3 lb
    (large("3"), "0.49", "0.34"),
    (large("3.01"), "0.68", "0.48"),  # 3+ to 20 lb
    (large("20"), "0.68", "0.48"),
]


@pytest.mark.parametrize(("package", "minimal", "partial"), BANDS)
def test_placement_bands_2024(package: PackageSize, minimal: str, partial: str) -> None:
    assert fee(US_2024_PLACEMENT, package, MINIMAL) == D(minimal)
    assert fee(US_2024_PLACEMENT, package, PARTIAL) == D(partial)
    assert fee(US_2024_PLACEMENT, package, OPTIMIZED) == D("0.00")


@pytest.mark.parametrize(("package", "minimal", "partial"), BANDS)
@pytest.mark.parametrize("schedule", [US_2025_PLACEMENT, US_2026_FUEL, US_2026_PEAK],
                         ids=lambda s: s.id)  # fmt: skip
def test_from_2025_02_20_partial_is_charged_as_minimal(
    schedule: FeeSchedule, package: PackageSize, minimal: str, partial: str
) -> None:
    charged = inbound_placement_fee(schedule, package, PARTIAL)
    assert (charged.option, charged.fee) == (MINIMAL, D(minimal))  # not the fuel-surcharged
    assert fee(schedule, package, MINIMAL) == D(minimal)
    assert fee(schedule, package, OPTIMIZED) == D("0.00")


@pytest.mark.parametrize(
    ("day", "minimal", "partial"),
    [
        (date(2024, 2, 29), "0.00", "0.00"),  # before Amazon charged for placement
        (date(2024, 3, 1), "0.41", "0.28"),
        (date(2025, 2, 19), "0.41", "0.28"),
        (date(2025, 2, 20), "0.41", "0.41"),
        (date(2026, 12, 1), "0.41", "0.41"),
    ],
)
def test_placement_by_date(day: date, minimal: str, partial: str) -> None:
    schedule = schedule_in_force(day)
    book = large("1.32")  # 599 g: the 12+ oz to 1.5 lb band
    assert (fee(schedule, book, MINIMAL), fee(schedule, book, PARTIAL)) == (D(minimal), D(partial))


def test_no_fee_before_placement_whatever_the_option() -> None:
    for option in InboundPlacement:
        charged = inbound_placement_fee(US_2024, large("1"), option)
        assert (charged.option, charged.fee) == (option, D("0.00"))


def test_small_standard_is_weighed_by_unit_weight_large_by_dimensional() -> None:
    # 15 x 12 x 0.75 in, 4 oz: small standard, dimensional weight 0.97 lb is ignored -> $0.30
    assert fee(US_2026_FUEL, PackageSize(D(15), D(12), D("0.75"), D("0.25")), MINIMAL) == (
        D("0.30"))  # fmt: skip
    # 12 x 9 x 4 in, 1 lb: large standard, dimensional 3.108 lb -> the 3-20 lb band, $0.68
    assert fee(US_2026_FUEL, PackageSize(D(12), D(9), D(4), D(1)), MINIMAL) == D("0.68")


def test_bulky_is_charged_the_heaviest_standard_band_as_a_floor() -> None:
    # Amazon's large bulky placement rows are not sourced (fee_tables.py): $0.68 is a floor.
    tube = PackageSize(D(40), D(4), D(2), D(3))
    assert fee(US_2026_FUEL, tube, MINIMAL) == D("0.68")
    assert fee(US_2024_PLACEMENT, tube, PARTIAL) == D("0.48")
