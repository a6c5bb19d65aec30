"""Amazon fees for one book sale: referral, closing, FBA fulfillment, inbound placement and
monthly storage.

Size tiers (Amazon US): small standard is at most 15 x 12 x 0.75 in and 16 oz of unit weight;
large standard at most 18 x 14 x 8 in and 20 lb, weighed as the greater of unit weight and
dimensional weight (L x W x H / 139); small bulky (from 2026-01-15) at most 37 x 28 x 20 in,
130 in of length + girth and 50 lb; anything larger is charged as large bulky. The bulky tiers'
dimensional weight takes the width and height as at least 2 in (Amazon: "the dimensional weight
for oversize items assumes a minimum width and height of 2 inches"), so a long, thin parcel is
not weighed as almost nothing. The fee tables themselves are data in ``fee_tables``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum

from .fee_tables import (
    FEE_SCHEDULES,
    RETIRED_SCHEDULES,
    FeeSchedule,
    PlacementBand,
    PlacementFees,
    PriceBandFees,
    SteppedRate,
    WeightBand,
)

CENT = Decimal("0.01")
MM_PER_INCH = Decimal("25.4")
GRAMS_PER_POUND = Decimal("453.59237")
OZ_PER_LB = Decimal(16)
DIM_WEIGHT_DIVISOR = Decimal(139)
CUBIC_INCHES_PER_FOOT = Decimal(1728)
LOW_PRICE_LIMIT = Decimal(10)  # under $10: low-price rates
HIGH_PRICE_LIMIT = Decimal(50)  # over $50: premium rates (2026)
SMALL_STANDARD_MAX_IN = (Decimal(15), Decimal(12), Decimal("0.75"))
SMALL_STANDARD_MAX_OZ = Decimal(16)
LARGE_STANDARD_MAX_IN = (Decimal(18), Decimal(14), Decimal(8))
LARGE_STANDARD_MAX_LB = Decimal(20)
SMALL_BULKY_MAX_IN = (Decimal(37), Decimal(28), Decimal(20))
SMALL_BULKY_MAX_LB = Decimal(50)
BULKY_MAX_LENGTH_PLUS_GIRTH_IN = Decimal(130)
BULKY_MIN_SIDE_IN = Decimal(2)  # width and height, for the bulky tiers' dimensional weight
NO_FEE = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class SizeTier(StrEnum):
    SMALL_STANDARD = "small_standard"
    LARGE_STANDARD = "large_standard"
    SMALL_BULKY = "small_bulky"
    LARGE_BULKY = "large_bulky"  # and anything larger (extra-large): charged at this rate

    @property
    def is_bulky(self) -> bool:
        return self in (SizeTier.SMALL_BULKY, SizeTier.LARGE_BULKY)


@dataclass(frozen=True)
class PackageSize:
    """A package in inches and pounds, sides in any order."""

    length_in: Decimal
    width_in: Decimal
    height_in: Decimal
    weight_lb: Decimal

    @classmethod
    def from_metric(
        cls, length_mm: int, width_mm: int, height_mm: int, weight_g: int
    ) -> PackageSize:
        """Keepa rounds Amazon's catalogue figures (0.01 in, 0.01 lb) to whole millimetres and
        grams; rounding back to Amazon's units undoes that, so a book listed at exactly 1.00 lb
        (454 g at Keepa) is not pushed over the 16 oz limit by the conversion."""
        return cls(
            _hundredths(Decimal(length_mm) / MM_PER_INCH),
            _hundredths(Decimal(width_mm) / MM_PER_INCH),
            _hundredths(Decimal(height_mm) / MM_PER_INCH),
            _hundredths(Decimal(weight_g) / GRAMS_PER_POUND),
        )

    @property
    def sides_in(self) -> tuple[Decimal, Decimal, Decimal]:
        longest, median, shortest = sorted(
            (self.length_in, self.width_in, self.height_in), reverse=True
        )
        return longest, median, shortest

    @property
    def volume_cubic_feet(self) -> Decimal:
        return self.length_in * self.width_in * self.height_in / CUBIC_INCHES_PER_FOOT

    @property
    def dimensional_weight_lb(self) -> Decimal:
        return self.length_in * self.width_in * self.height_in / DIM_WEIGHT_DIVISOR

    @property
    def bulky_dimensional_weight_lb(self) -> Decimal:
        longest, median, shortest = self.sides_in
        width, height = max(median, BULKY_MIN_SIDE_IN), max(shortest, BULKY_MIN_SIDE_IN)
        return longest * width * height / DIM_WEIGHT_DIVISOR

    @property
    def length_plus_girth_in(self) -> Decimal:
        longest, median, shortest = self.sides_in
        return longest + 2 * (median + shortest)


def _hundredths(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _fits(
    sides: tuple[Decimal, Decimal, Decimal], limits: tuple[Decimal, Decimal, Decimal]
) -> bool:
    return all(side <= limit for side, limit in zip(sides, limits, strict=True))


def size_tier(package: PackageSize, schedule: FeeSchedule | None = None) -> SizeTier:
    """The package's tier; on a schedule without the small bulky tier (before 2026-01-15) an item
    of that size was large bulky."""
    tier = _tier_by_size(package)
    if tier is SizeTier.SMALL_BULKY and schedule is not None and schedule.small_bulky is None:
        return SizeTier.LARGE_BULKY
    return tier


def _tier_by_size(package: PackageSize) -> SizeTier:
    sides = package.sides_in
    if (
        _fits(sides, SMALL_STANDARD_MAX_IN)
        and package.weight_lb * OZ_PER_LB <= SMALL_STANDARD_MAX_OZ
    ):
        return SizeTier.SMALL_STANDARD
    large = billable_weight_lb(package, SizeTier.LARGE_STANDARD)
    if _fits(sides, LARGE_STANDARD_MAX_IN) and large <= LARGE_STANDARD_MAX_LB:
        return SizeTier.LARGE_STANDARD
    if (
        _fits(sides, SMALL_BULKY_MAX_IN)
        and package.length_plus_girth_in <= BULKY_MAX_LENGTH_PLUS_GIRTH_IN
        and billable_weight_lb(package, SizeTier.SMALL_BULKY) <= SMALL_BULKY_MAX_LB
    ):
        return SizeTier.SMALL_BULKY
    return SizeTier.LARGE_BULKY


def billable_weight_lb(package: PackageSize, tier: SizeTier) -> Decimal:
    """Small standard is charged on unit weight, larger tiers on max(unit, dimensional), the
    bulky tiers' dimensional weight with its 2-inch minimum width and height."""
    if tier is SizeTier.SMALL_STANDARD:
        return package.weight_lb
    dimensional = (
        package.bulky_dimensional_weight_lb if tier.is_bulky else package.dimensional_weight_lb
    )
    return max(package.weight_lb, dimensional)


class PriceBand(StrEnum):
    UNDER_10 = "under_10"
    FROM_10_TO_50 = "10_to_50"
    OVER_50 = "over_50"


def price_band(sale_price: Decimal) -> PriceBand:
    if sale_price < LOW_PRICE_LIMIT:
        return PriceBand.UNDER_10
    if sale_price <= HIGH_PRICE_LIMIT:
        return PriceBand.FROM_10_TO_50
    return PriceBand.OVER_50


def _pick(fees: PriceBandFees, band: PriceBand) -> Decimal:
    if band is PriceBand.UNDER_10:
        return fees.under_10
    return fees.from_10_to_50 if band is PriceBand.FROM_10_TO_50 else fees.over_50


def _banded(bands: tuple[WeightBand, ...], weight_oz: Decimal, band: PriceBand) -> Decimal | None:
    for row in bands:
        if weight_oz <= row.max_oz:
            return _pick(row.fees, band)
    return None


def _stepped(rate: SteppedRate, weight_oz: Decimal, band: PriceBand) -> Decimal:
    steps = max(Decimal(0), (weight_oz - rate.base_oz) / rate.step_oz).to_integral_value(
        ROUND_CEILING
    )
    return _pick(rate.base, band) + steps * rate.step_fee


@dataclass(frozen=True)
class FulfillmentFee:
    size_tier: SizeTier
    billable_weight_lb: Decimal
    base_fee: Decimal
    fuel_surcharge: Decimal

    @property
    def total(self) -> Decimal:
        return self.base_fee + self.fuel_surcharge


def fulfillment_fee(
    schedule: FeeSchedule, package: PackageSize, sale_price: Decimal
) -> FulfillmentFee:
    tier = size_tier(package, schedule)
    weight_lb = billable_weight_lb(package, tier)
    base = _base_fee(schedule, tier, weight_lb * OZ_PER_LB, price_band(sale_price))
    surcharge = money(base * schedule.fuel_surcharge_percent / 100)
    return FulfillmentFee(tier, weight_lb, base, surcharge)


def _base_fee(
    schedule: FeeSchedule, tier: SizeTier, weight_oz: Decimal, band: PriceBand
) -> Decimal:
    if tier is SizeTier.SMALL_STANDARD:
        banded = _banded(schedule.small_standard, weight_oz, band)
        if banded is not None:  # always: small standard is at most 16 oz
            return banded
    if tier is SizeTier.LARGE_STANDARD:
        banded = _banded(schedule.large_standard, weight_oz, band)
        if banded is not None:
            return banded
        return _stepped(schedule.large_standard_over_3_lb, weight_oz, band)
    if tier is SizeTier.SMALL_BULKY and schedule.small_bulky is not None:
        return _stepped(schedule.small_bulky, weight_oz, band)
    return _stepped(schedule.large_bulky, weight_oz, band)


class InboundPlacement(StrEnum):
    """The seller's inbound placement option when sending books to Amazon."""

    # Five or more inbound locations: no fee. Amazon offers it only for at least five identical
    # cartons per item, which mixed boxes of single books rarely are.
    AMAZON_OPTIMIZED = "amazon_optimized"
    MINIMAL_SPLIT = "minimal_split"  # generally one location: Amazon spreads the units, for a fee
    PARTIAL_SPLIT = "partial_split"  # two or three locations, a reduced fee (until 2025-02-19)


@dataclass(frozen=True)
class PlacementFee:
    option: InboundPlacement  # the option charged: minimal split where partial is not offered
    fee: Decimal


def inbound_placement_fee(
    schedule: FeeSchedule, package: PackageSize, chosen: InboundPlacement
) -> PlacementFee:
    """Per unit, the top of Amazon's range for the size and weight (see fee_tables). Small
    standard is weighed by unit weight, larger tiers as for fulfillment (Amazon's rule)."""
    table = schedule.inbound_placement
    if table is None or chosen is InboundPlacement.AMAZON_OPTIMIZED:
        return PlacementFee(chosen, NO_FEE)
    tier = size_tier(package, schedule)
    band = _placement_band(table, tier, billable_weight_lb(package, tier) * OZ_PER_LB)
    if chosen is InboundPlacement.PARTIAL_SPLIT and band.partial_split is not None:
        return PlacementFee(chosen, band.partial_split)
    return PlacementFee(InboundPlacement.MINIMAL_SPLIT, band.minimal_split)


def _placement_band(table: PlacementFees, tier: SizeTier, weight_oz: Decimal) -> PlacementBand:
    """The tier's band for the weight. Amazon's large bulky rows are not in the table: a bulky
    item takes the heaviest large standard band, a floor (Amazon's bulky rates are higher)."""
    if tier.is_bulky:
        return table.large_standard[-1]
    bands = table.small_standard if tier is SizeTier.SMALL_STANDARD else table.large_standard
    return next((band for band in bands if weight_oz <= band.max_oz), bands[-1])


def referral_fee(schedule: FeeSchedule, sale_price: Decimal) -> Decimal:
    """Books: a percentage of the item price. An FBA seller's sale price is the item price
    (shipping is free), so the whole sale price is the base."""
    return money(sale_price * schedule.referral_percent / 100)


def storage_fee(schedule: FeeSchedule, package: PackageSize, start: date, days: int) -> Decimal:
    """Monthly storage for ``days`` from ``start``: each day costs its month's rate / days."""
    off_peak, peak = (
        schedule.storage_oversize if size_tier(package).is_bulky else schedule.storage_standard
    )
    volume = package.volume_cubic_feet
    total = Decimal(0)
    day, end = start, start + timedelta(days=max(days, 0))
    while day < end:  # a month at a time: its days in the span times its daily rate
        month_days = calendar.monthrange(day.year, day.month)[1]
        next_month = day.replace(day=1) + timedelta(days=month_days)
        span = (min(end, next_month) - day).days
        rate = peak if day.month >= 10 else off_peak
        total += rate * span / month_days
        day = min(end, next_month)
    return money(total * volume)


def schedule_in_force(as_of: datetime | date) -> FeeSchedule:
    """The newest schedule effective on ``as_of``; before the first one, the first one."""
    day = as_of.date() if isinstance(as_of, datetime) else as_of
    in_force = [s for s in FEE_SCHEDULES if s.effective_from <= day]
    return in_force[-1] if in_force else FEE_SCHEDULES[0]


def schedule_by_id(schedule_id: str) -> FeeSchedule:
    """Any schedule an analysis may have recorded, the retired ones included."""
    for schedule in (*FEE_SCHEDULES, *RETIRED_SCHEDULES):
        if schedule.id == schedule_id:
            return schedule
    raise ValueError(f"unknown fee schedule {schedule_id!r}")
