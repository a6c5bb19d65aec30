"""US Amazon fee schedules for books, as data. Each schedule has an id and the date it takes
effect; it is in force until the next one, so an analysis records which one it used and stays
reproducible after Amazon changes its fees.

Sources (non-apparel, non-dangerous-goods; US marketplace):
- Referral fee, Books: 15% of the item price, no per-item minimum; variable closing fee $1.80 per
  media unit. Amazon Seller Central "Selling on Amazon fee schedule" (help G201411300); Keepa
  reports the same (``variableClosingFee: 180``, ``referralFeePercent: 15``).
- Fulfillment, 2024 rate card: Amazon "2024 US FBA fulfillment fee changes" (effective
  2024-02-05, help G201112670), incl. low-price FBA rates for items under $10 ($0.77 less).
  Amazon's 2026 announcement states there was no FBA fee increase in 2025, so this card is the
  off-peak card through 2026-01-14. Check: Keepa's ``pickAndPackFee: 537`` for 0593655036 (599 g,
  1.32 lb large standard, $10-$50), collected 2025-10-13, equals this card's $5.37.
- Fulfillment, 2026 rate card: Amazon "2026 US referral and FBA fee changes" (effective
  2026-01-15), which adds an over-$50 price band and the small bulky tier. Standard-size figures
  transcribed from the published rate card; cross-checked against the announced average changes
  (small standard $10-$50 +$0.25, large standard $10-$50 +$0.05, over $50 +$0.51/+$0.31, large
  standard under $10 unchanged, low-price discount about $0.86).
- Small bulky (2026): at most 37 x 28 x 20 in, length + girth 130 in and 50 lb; $7.55 ($6.78
  under $10) plus $0.38 per lb above the first. The $7.55 base is the issue's (Amazon's 2026
  announcement); the size limits, the under-$10 rate and the $0.38 step are as several
  third-party transcriptions of Amazon's 2026 rate card give them (not read on Amazon's page).
  As for large bulky, no over-$50 premium is charged (none of those transcriptions shows one).
- Holiday peak fulfillment fees, Oct 15 - Jan 14 (shipped in that window): a per-unit increase
  over the off-peak card, ``_PEAK_INCREASE``. The 2024-25 figures are Amazon's: its Low-Price FBA
  page (help GJTAVU7P2W2VE8Q9) as published during the 2024-25 peak lists the under-$10 peak
  rates (small standard 2 oz $2.48 ... large standard 3 lb $6.26, 3+ lb $6.69, large bulky $9.88),
  each $0.77 below the $10+ peak rate; against the 2024 card that is the increase per band. It
  agrees with every published example: small standard 2-4 oz $3.15 -> $3.34, large bulky +$1.04
  (Amazon's examples, Supply Chain Dive 2025-08); 4-6 oz $3.24 -> $3.44, 1.75-2 lb
  $5.77 -> $6.10 (the issue); and Keepa's ``pickAndPackFee: 568`` for 0593655036 collected
  2025-10-26 (1.25-1.5 lb: $5.37 + $0.31). Amazon kept the 2025-26 peak "in line with last
  year's rates", and announced the 2026-27 peak (Oct 15 2026 - Jan 14 2027) with "the same per
  unit increase over non-peak rates as last year" and the 3.5% surcharge on top (Seller Central
  news "Holiday 2026: Same fees, same eligibility, earlier deadlines", as quoted by third
  parties). So the 2026-27 peak adds the same increase, per weight band, to the 2026 card in
  each price band (over $50 included); small bulky, new in 2026, gets the large bulky increase
  it had as a large bulky item last year. The 2026-27 peak rates and small bulky's are derived
  this way, not transcribed.
- Fuel and logistics surcharge: 3.5% of the fulfillment fee from 2026-04-17, peak rates included
  (Amazon announcement; applies to fulfillment fees only, not to placement, referral, storage).
- Inbound placement service fee, from 2024-03-01: Amazon "FBA inbound placement service fee"
  (help GC3Q44PBK8BXQW3Z), Table 1, standard-size, per unit: minimal shipment split (one inbound
  location) small standard $0.16-$0.30; large standard up to 12 oz $0.18-$0.34, 12+ oz to 1.5 lb
  $0.22-$0.41, 1.5+ to 3 lb $0.27-$0.49, 3+ to 20 lb $0.37-$0.68; partial split (2-3 locations)
  $0.12-$0.21, $0.13-$0.24, $0.15-$0.28, $0.17-$0.34, $0.23-$0.48; Amazon-optimized split (5+
  locations, at least five identical cartons per item): no fee. From 2025-02-20 partial splits
  are no longer offered for standard-size products (Amazon's Fulfillment Inbound API notice);
  the minimal-split ranges are unchanged (2025 reports quote $0.37-$0.68 for 3-20 lb). Amazon
  sets the fee per shipment within the range by inbound location (the West costs more) and may
  move it within the range, so the engine charges the top of each range: a buy decision should
  not count on the cheap end. Not sourced: the large bulky rows (Amazon cut them by an average
  $0.58 from 2025-01-15); a bulky book is charged the large standard 3-20 lb figure, a floor.
- Monthly storage, standard size: $0.78 per cubic foot January-September, $2.40 October-December;
  oversize $0.56 / $1.40 (Amazon "Monthly inventory storage fees", unchanged for 2025 and 2026).
Assumption: items beyond small bulky (rare for books) are charged at the large bulky rate; the
extra-large tiers are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class PriceBandFees:
    """One fee per price band: under $10, $10 to $50, over $50."""

    under_10: Decimal
    from_10_to_50: Decimal
    over_50: Decimal

    def plus(self, increase: Decimal) -> PriceBandFees:
        return PriceBandFees(
            self.under_10 + increase, self.from_10_to_50 + increase, self.over_50 + increase
        )


@dataclass(frozen=True)
class WeightBand:
    max_oz: Decimal  # inclusive: a unit weighing exactly max_oz is in this band
    fees: PriceBandFees


@dataclass(frozen=True)
class SteppedRate:
    """``base`` up to ``base_oz``, plus ``step_fee`` per started ``step_oz`` above it."""

    base_oz: Decimal
    base: PriceBandFees
    step_oz: Decimal
    step_fee: Decimal


@dataclass(frozen=True)
class PlacementBand:
    """Inbound placement fee per unit up to ``max_oz`` (inclusive), the top of Amazon's range."""

    max_oz: Decimal
    minimal_split: Decimal
    partial_split: Decimal | None  # None: Amazon does not offer partial splits for the size


@dataclass(frozen=True)
class PlacementFees:
    small_standard: tuple[PlacementBand, ...]
    large_standard: tuple[PlacementBand, ...]  # bulky: charged the heaviest band (a floor)


@dataclass(frozen=True)
class FeeSchedule:
    id: str
    effective_from: date
    source: str
    referral_percent: Decimal
    variable_closing_fee: Decimal
    small_standard: tuple[WeightBand, ...]
    large_standard: tuple[WeightBand, ...]
    large_standard_over_3_lb: SteppedRate
    large_bulky: SteppedRate
    fuel_surcharge_percent: Decimal
    storage_standard: tuple[Decimal, Decimal]  # (off-peak Jan-Sep, peak Oct-Dec) per cu ft
    storage_oversize: tuple[Decimal, Decimal]
    small_bulky: SteppedRate | None = None  # None: before 2026, such items were large bulky
    inbound_placement: PlacementFees | None = None  # None: before Amazon charged for placement
    holiday_peak: bool = False  # holiday peak fulfillment rates (Oct 15 - Jan 14)


def _fees(under_10: str, from_10_to_50: str, over_50: str | None = None) -> PriceBandFees:
    mid = Decimal(from_10_to_50)
    return PriceBandFees(Decimal(under_10), mid, Decimal(over_50) if over_50 else mid)


def _bands(rows: tuple[tuple[str, str, str, str | None], ...]) -> tuple[WeightBand, ...]:
    return tuple(WeightBand(Decimal(oz), _fees(a, b, c)) for oz, a, b, c in rows)


# (max oz, under $10, $10-$50, over $50); 2024 had no over-$50 band (None: same as $10-$50).
_SMALL_2024 = (
    ("2", "2.29", "3.06", None), ("4", "2.38", "3.15", None), ("6", "2.47", "3.24", None),
    ("8", "2.56", "3.33", None), ("10", "2.66", "3.43", None), ("12", "2.76", "3.53", None),
    ("14", "2.83", "3.60", None), ("16", "2.88", "3.65", None),
)  # fmt: skip
_LARGE_2024 = (
    ("4", "2.91", "3.68", None), ("8", "3.13", "3.90", None), ("12", "3.38", "4.15", None),
    ("16", "3.78", "4.55", None), ("20", "4.22", "4.99", None), ("24", "4.60", "5.37", None),
    ("28", "4.75", "5.52", None), ("32", "5.00", "5.77", None), ("36", "5.10", "5.87", None),
    ("40", "5.28", "6.05", None), ("44", "5.44", "6.21", None), ("48", "5.85", "6.62", None),
)  # fmt: skip
_SMALL_2026 = (
    ("2", "2.43", "3.32", "3.58"), ("4", "2.49", "3.42", "3.68"), ("6", "2.56", "3.45", "3.71"),
    ("8", "2.66", "3.54", "3.80"), ("10", "2.77", "3.68", "3.94"), ("12", "2.82", "3.78", "4.04"),
    ("14", "2.92", "3.91", "4.17"), ("16", "2.95", "3.96", "4.22"),
)  # fmt: skip
_LARGE_2026 = (
    ("4", "2.91", "3.73", "3.99"), ("8", "3.13", "3.95", "4.21"), ("12", "3.38", "4.20", "4.46"),
    ("16", "3.78", "4.60", "4.86"), ("20", "4.22", "5.04", "5.30"), ("24", "4.60", "5.42", "5.68"),
    ("28", "4.75", "5.57", "5.83"), ("32", "5.00", "5.82", "6.08"), ("36", "5.10", "5.92", "6.18"),
    ("40", "5.28", "6.10", "6.36"), ("44", "5.44", "6.26", "6.52"), ("48", "5.85", "6.67", "6.93"),
)  # fmt: skip


@dataclass(frozen=True)
class PeakIncrease:
    """The holiday peak's per-unit increase over the off-peak card, per weight band."""

    small_standard: tuple[Decimal, ...]
    large_standard: tuple[Decimal, ...]
    large_standard_over_3_lb: Decimal
    bulky: Decimal


def _amounts(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


# Amazon's 2024-25 peak (kept for 2025-26 and 2026-27) minus the 2024 card; see the module doc.
_PEAK_INCREASE = PeakIncrease(
    small_standard=_amounts("0.19", "0.19", "0.20", "0.20", "0.21", "0.21", "0.22", "0.22"),
    large_standard=_amounts(
        "0.24",
        "0.26",
        "0.28",
        "0.29",
        "0.30",
        "0.31",
        "0.32",
        "0.33",
        "0.37",
        "0.39",
        "0.40",
        "0.41",
    ),
    large_standard_over_3_lb=Decimal("0.54"),
    bulky=Decimal("1.04"),
)


def _raised(
    bands: tuple[WeightBand, ...], increases: tuple[Decimal, ...]
) -> tuple[WeightBand, ...]:
    return tuple(
        WeightBand(b.max_oz, b.fees.plus(up)) for b, up in zip(bands, increases, strict=True)
    )


def _raised_rate(rate: SteppedRate, increase: Decimal) -> SteppedRate:
    return replace(rate, base=rate.base.plus(increase))


def holiday_peak(off_peak: FeeSchedule, schedule_id: str, starts: date, source: str) -> FeeSchedule:
    """``off_peak`` with the holiday peak increase on every fulfillment rate; placement, storage,
    referral and the fuel surcharge stay as they are (the surcharge applies on top)."""
    up = _PEAK_INCREASE
    small_bulky = off_peak.small_bulky
    return replace(
        off_peak,
        id=schedule_id,
        effective_from=starts,
        source=source,
        small_standard=_raised(off_peak.small_standard, up.small_standard),
        large_standard=_raised(off_peak.large_standard, up.large_standard),
        large_standard_over_3_lb=_raised_rate(
            off_peak.large_standard_over_3_lb, up.large_standard_over_3_lb
        ),
        large_bulky=_raised_rate(off_peak.large_bulky, up.bulky),
        small_bulky=None if small_bulky is None else _raised_rate(small_bulky, up.bulky),
        holiday_peak=True,
    )


def _placement(rows: tuple[tuple[str, str, str | None], ...]) -> tuple[PlacementBand, ...]:
    return tuple(
        PlacementBand(Decimal(oz), Decimal(minimal), None if partial is None else Decimal(partial))
        for oz, minimal, partial in rows
    )


# (max oz, minimal split, partial split): the top of each of Amazon's ranges.
PLACEMENT_2024 = PlacementFees(
    small_standard=_placement((("16", "0.30", "0.21"),)),
    large_standard=_placement(
        (("12", "0.34", "0.24"), ("24", "0.41", "0.28"), ("48", "0.49", "0.34"),
         ("320", "0.68", "0.48"))
    ),
)  # fmt: skip
# From 2025-02-20 Amazon offers standard-size products no partial split; minimal is unchanged.
PLACEMENT_2025 = PlacementFees(
    small_standard=_placement((("16", "0.30", None),)),
    large_standard=_placement(
        (("12", "0.34", None), ("24", "0.41", None), ("48", "0.49", None), ("320", "0.68", None))
    ),
)

_STORAGE_STANDARD = (Decimal("0.78"), Decimal("2.40"))
_STORAGE_OVERSIZE = (Decimal("0.56"), Decimal("1.40"))
_REFERRAL_BOOKS = Decimal("15")
_CLOSING_MEDIA = Decimal("1.80")
_FUEL = Decimal("3.5")

US_2024 = FeeSchedule(
    id="us-fba-2024-02-05",
    effective_from=date(2024, 2, 5),
    source="Amazon 2024 US FBA fulfillment fee changes, effective 2024-02-05",
    referral_percent=_REFERRAL_BOOKS,
    variable_closing_fee=_CLOSING_MEDIA,
    small_standard=_bands(_SMALL_2024),
    large_standard=_bands(_LARGE_2024),
    large_standard_over_3_lb=SteppedRate(
        Decimal(48), _fees("6.15", "6.92"), Decimal(4), Decimal("0.08")
    ),
    large_bulky=SteppedRate(Decimal(16), _fees("8.84", "9.61"), Decimal(16), Decimal("0.38")),
    fuel_surcharge_percent=Decimal(0),
    storage_standard=_STORAGE_STANDARD,
    storage_oversize=_STORAGE_OVERSIZE,
)
US_2024_PLACEMENT = replace(
    US_2024,
    id="us-fba-2024-03-01",
    effective_from=date(2024, 3, 1),
    source="2024 rate card plus the FBA inbound placement service fee from 2024-03-01",
    inbound_placement=PLACEMENT_2024,
)
US_2024_PEAK = holiday_peak(
    US_2024_PLACEMENT, "us-fba-peak-2024-10-15", date(2024, 10, 15),
    "Amazon 2024 holiday peak fulfillment fees, 2024-10-15 to 2025-01-14",
)  # fmt: skip
US_2025 = replace(
    US_2024_PLACEMENT,
    id="us-fba-2025-01-15",
    effective_from=date(2025, 1, 15),
    source="2024 rate card after the 2024 peak (no FBA fee increase in 2025)",
)
US_2025_PLACEMENT = replace(
    US_2025,
    id="us-fba-2025-02-20",
    effective_from=date(2025, 2, 20),
    source="2024 rate card; from 2025-02-20 no partial shipment split for standard-size products",
    inbound_placement=PLACEMENT_2025,
)
US_2025_PEAK = holiday_peak(
    US_2025_PLACEMENT, "us-fba-peak-2025-10-15", date(2025, 10, 15),
    "Amazon 2025 holiday peak fulfillment fees (2024's rates), 2025-10-15 to 2026-01-14",
)  # fmt: skip
US_2026 = FeeSchedule(
    id="us-fba-2026-01-15-r2",
    effective_from=date(2026, 1, 15),
    source="Amazon 2026 US referral and FBA fee changes, effective 2026-01-15 (small bulky tier, "
    "inbound placement)",
    referral_percent=_REFERRAL_BOOKS,
    variable_closing_fee=_CLOSING_MEDIA,
    small_standard=_bands(_SMALL_2026),
    large_standard=_bands(_LARGE_2026),
    large_standard_over_3_lb=SteppedRate(
        Decimal(48), _fees("6.15", "6.97", "7.23"), Decimal(4), Decimal("0.08")
    ),
    large_bulky=SteppedRate(Decimal(16), _fees("8.58", "9.35"), Decimal(16), Decimal("0.38")),
    small_bulky=SteppedRate(Decimal(16), _fees("6.78", "7.55"), Decimal(16), Decimal("0.38")),
    fuel_surcharge_percent=Decimal(0),
    storage_standard=_STORAGE_STANDARD,
    storage_oversize=_STORAGE_OVERSIZE,
    inbound_placement=PLACEMENT_2025,
)
US_2026_FUEL = replace(
    US_2026,
    id="us-fba-2026-04-17-r2",
    effective_from=date(2026, 4, 17),
    source="2026-01-15 rate card plus the 3.5% fuel and logistics surcharge from 2026-04-17",
    fuel_surcharge_percent=_FUEL,
)
US_2026_PEAK = holiday_peak(
    US_2026_FUEL, "us-fba-peak-2026-10-15", date(2026, 10, 15),
    "Amazon 2026 holiday peak fulfillment fees (2025's increase on the 2026 card, derived), "
    "plus the 3.5% surcharge, 2026-10-15 to 2027-01-14",
)  # fmt: skip
US_2027 = replace(
    US_2026_FUEL,
    id="us-fba-2027-01-15",
    effective_from=date(2027, 1, 15),
    source="The 2026 rates with the 3.5% surcharge after the 2026 peak; Amazon's 2027 rate card "
    "is not transcribed",
)

# In force by date, oldest first: each until the next one takes effect.
FEE_SCHEDULES: tuple[FeeSchedule, ...] = (
    US_2024, US_2024_PLACEMENT, US_2024_PEAK, US_2025, US_2025_PLACEMENT, US_2025_PEAK,
    US_2026, US_2026_FUEL, US_2026_PEAK, US_2027,
)  # fmt: skip

# Ids recorded by engines before 2026.12.3, for the same 2026 cards without the small bulky tier
# and the placement fee: never chosen by date, but an id an analysis recorded still names its data.
RETIRED_SCHEDULES: tuple[FeeSchedule, ...] = (
    replace(
        US_2026, id="us-fba-2026-01-15", small_bulky=None, inbound_placement=None,
        source="Amazon 2026 US referral and FBA fee changes, effective 2026-01-15",
    ),
    replace(
        US_2026_FUEL, id="us-fba-2026-04-17", small_bulky=None, inbound_placement=None,
        source="2026-01-15 rate card plus the 3.5% fuel and logistics surcharge from 2026-04-17",
    ),
)  # fmt: skip
