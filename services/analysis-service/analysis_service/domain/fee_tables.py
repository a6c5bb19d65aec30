"""US Amazon fee schedules for books, as data. Each schedule has an id and an effective date so an
analysis records which one it used and stays reproducible after Amazon changes its fees.

Sources (non-apparel, non-dangerous-goods, off-peak rates; US marketplace):
- Referral fee, Books: 15% of the item price, no per-item minimum; variable closing fee $1.80 per
  media unit. Amazon Seller Central "Selling on Amazon fee schedule" (help G201411300); Keepa
  reports the same (``variableClosingFee: 180``, ``referralFeePercent: 15``).
- Fulfillment, 2024 rate card: Amazon "2024 US FBA fulfillment fee changes" (effective
  2024-02-05, help G201112670), incl. low-price FBA rates for items under $10. Amazon's 2026
  announcement states there was no FBA fee increase in 2025, so this card is in force through
  2026-01-14. Check: Keepa's ``pickAndPackFee: 537`` for 0593655036 (599 g, 1.32 lb large
  standard, $10-$50) equals this card's $5.37.
- Fulfillment, 2026 rate card: Amazon "2026 US referral and FBA fee changes" (effective
  2026-01-15), which adds an over-$50 price band. Figures transcribed from the published rate
  card; cross-checked against the announced average changes (small standard $10-$50 +$0.25,
  large standard $10-$50 +$0.05, over $50 +$0.51/+$0.31, large standard under $10 unchanged,
  low-price discount about $0.86).
- Fuel and logistics surcharge: 3.5% of the fulfillment fee from 2026-04-17 (Amazon
  announcement; applies to fulfillment fees only).
- Monthly storage, standard size: $0.78 per cubic foot January-September, $2.40 October-December;
  oversize $0.56 / $1.40 (Amazon "Monthly inventory storage fees", unchanged for 2025 and 2026).
Assumption: items beyond large standard (rare for books) are charged at the large bulky rate.
Not modelled: the holiday peak fulfillment surcharge (Oct 15 - Jan 14), which is why Keepa's
figure for a late-October product can be higher than ours; we record Keepa's figure beside ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class PriceBandFees:
    """One fee per price band: under $10, $10 to $50, over $50."""

    under_10: Decimal
    from_10_to_50: Decimal
    over_50: Decimal


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
class FeeSchedule:
    id: str
    effective_from: date
    source: str
    referral_percent: Decimal
    variable_closing_fee: Decimal
    small_standard: tuple[WeightBand, ...]
    large_standard: tuple[WeightBand, ...]
    large_standard_over_3_lb: SteppedRate
    bulky: SteppedRate
    fuel_surcharge_percent: Decimal
    storage_standard: tuple[Decimal, Decimal]  # (off-peak Jan-Sep, peak Oct-Dec) per cu ft
    storage_oversize: tuple[Decimal, Decimal]


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

_STORAGE_STANDARD = (Decimal("0.78"), Decimal("2.40"))
_STORAGE_OVERSIZE = (Decimal("0.56"), Decimal("1.40"))
_REFERRAL_BOOKS = Decimal("15")
_CLOSING_MEDIA = Decimal("1.80")

US_2024 = FeeSchedule(
    id="us-fba-2024-02-05",
    effective_from=date(2024, 2, 5),
    source="Amazon 2024 US FBA fulfillment fee changes (in force through 2026-01-14)",
    referral_percent=_REFERRAL_BOOKS,
    variable_closing_fee=_CLOSING_MEDIA,
    small_standard=_bands(_SMALL_2024),
    large_standard=_bands(_LARGE_2024),
    large_standard_over_3_lb=SteppedRate(
        Decimal(48), _fees("6.15", "6.92"), Decimal(4), Decimal("0.08")
    ),
    bulky=SteppedRate(Decimal(16), _fees("8.84", "9.61"), Decimal(16), Decimal("0.38")),
    fuel_surcharge_percent=Decimal(0),
    storage_standard=_STORAGE_STANDARD,
    storage_oversize=_STORAGE_OVERSIZE,
)

US_2026 = FeeSchedule(
    id="us-fba-2026-01-15",
    effective_from=date(2026, 1, 15),
    source="Amazon 2026 US referral and FBA fee changes, effective 2026-01-15",
    referral_percent=_REFERRAL_BOOKS,
    variable_closing_fee=_CLOSING_MEDIA,
    small_standard=_bands(_SMALL_2026),
    large_standard=_bands(_LARGE_2026),
    large_standard_over_3_lb=SteppedRate(
        Decimal(48), _fees("6.15", "6.97", "7.23"), Decimal(4), Decimal("0.08")
    ),
    bulky=SteppedRate(Decimal(16), _fees("8.58", "9.35"), Decimal(16), Decimal("0.38")),
    fuel_surcharge_percent=Decimal(0),
    storage_standard=_STORAGE_STANDARD,
    storage_oversize=_STORAGE_OVERSIZE,
)

US_2026_FUEL = FeeSchedule(
    id="us-fba-2026-04-17",
    effective_from=date(2026, 4, 17),
    source="2026-01-15 rate card plus the 3.5% fuel and logistics surcharge from 2026-04-17",
    referral_percent=_REFERRAL_BOOKS,
    variable_closing_fee=_CLOSING_MEDIA,
    small_standard=US_2026.small_standard,
    large_standard=US_2026.large_standard,
    large_standard_over_3_lb=US_2026.large_standard_over_3_lb,
    bulky=US_2026.bulky,
    fuel_surcharge_percent=Decimal("3.5"),
    storage_standard=_STORAGE_STANDARD,
    storage_oversize=_STORAGE_OVERSIZE,
)

FEE_SCHEDULES: tuple[FeeSchedule, ...] = (US_2024, US_2026, US_2026_FUEL)  # oldest first
