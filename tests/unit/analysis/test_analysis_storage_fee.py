"""Monthly storage is charged per day at the day's month rate / days in that month. The fee is
computed a month at a time; held here against the definition, one day at a time."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_service.domain.fee_tables import FEE_SCHEDULES, FeeSchedule
from analysis_service.domain.fees import (
    PackageSize,
    money,
    size_tier,
    storage_fee,
)


def storage_by_the_day(
    schedule: FeeSchedule, package: PackageSize, start: date, days: int
) -> Decimal:
    off_peak, peak = (
        schedule.storage_oversize if size_tier(package).is_bulky else schedule.storage_standard
    )
    total = Decimal(0)
    for offset in range(max(days, 0)):
        day = start + timedelta(days=offset)
        rate = peak if day.month >= 10 else off_peak
        total += rate / calendar.monthrange(day.year, day.month)[1]
    return money(total * package.volume_cubic_feet)


SIDES = st.decimals(min_value=Decimal("0.5"), max_value=Decimal("40"), places=2)
PACKAGES = st.builds(
    PackageSize,
    SIDES,
    SIDES,
    SIDES,
    st.decimals(min_value=Decimal("0.05"), max_value=Decimal("60"), places=2),
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(FEE_SCHEDULES),
    PACKAGES,
    st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
    st.integers(-3, 800),
)
def test_a_month_at_a_time_is_the_sum_of_its_days(
    schedule: FeeSchedule, package: PackageSize, start: date, days: int
) -> None:
    assert storage_fee(schedule, package, start, days) == storage_by_the_day(
        schedule, package, start, days
    )


def test_a_stay_across_october_pays_the_peak_rate_for_its_october_days() -> None:
    # A 12-inch cube: 1 cubic foot, small bulky (past large standard's 18 x 14 x 8 in).
    package = PackageSize(Decimal(12), Decimal(12), Decimal(12), Decimal(1))
    schedule = FEE_SCHEDULES[-1]
    off_peak, peak = schedule.storage_oversize  # 0.56 and 1.40 a cubic foot and month
    # September 21..30 at the off-peak rate (10/30 of a month), October 1..10 at peak (10/31):
    # 0.1867 + 0.4516 = 0.64.
    expected = money(off_peak * 10 / 30 + peak * 10 / 31)
    assert expected == Decimal("0.64")
    assert storage_fee(schedule, package, date(2026, 9, 21), 20) == expected
