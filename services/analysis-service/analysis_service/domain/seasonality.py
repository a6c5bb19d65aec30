"""Textbook seasons: does a book sell in yearly peaks, when is the next, and what did it sell for?

Textbooks sell when semesters start: August-September (fall) and January (spring). A window is a
peak in a year when the book's median daily sales rank in it is at most ``PEAK_RANK_RATIO`` of
its median rank on the off-peak days of the 365 days around it (March-June and October-November:
the shoulders July, December and February are left out, students buy early and late). A halved
rank is about 1.7 times the sales on the rank curve; textbooks typically go from 1,000,000 to
under 100,000. A window is a yearly peak when it peaked in at least ``MIN_PEAK_YEARS`` years and in
at least two thirds of the years observed: one peak may be chance (a course adopting the book
once), a peak every year is a season.

Ranks and prices are sampled once a day (the value in force at the end of each UTC day, from
Keepa's ``csv`` series, oldest first). A year is observed in a window when the history covers
``MIN_COVERAGE`` of the window's days and ``MIN_OFF_PEAK_DAYS`` of the off-peak days around it.
The expected price at a peak is the median, over the years it peaked, of the window's median
price (the condition's buy box, else its lowest price); the off-peak price likewise.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from .analysis import SeasonView
from .keepa_format import KEEPA_EPOCH, cents_to_dollars
from .market import PeakWindow, SeasonProfile

PEAK_RANK_RATIO = 0.5
MIN_PEAK_YEARS = 2
MIN_COVERAGE = 0.8
MIN_OFF_PEAK_DAYS = 60
OFF_PEAK_MONTHS = frozenset({3, 4, 5, 6, 10, 11})
# (name, months) of the textbook peak windows
WINDOWS: tuple[tuple[str, tuple[int, ...]], ...] = (("aug-sep", (8, 9)), ("january", (1,)))

MINUTES_PER_DAY = 24 * 60
_EPOCH_DAY = KEEPA_EPOCH.date()
Points = Sequence[tuple[int, int | None]]  # (keepa_minute, value), oldest first


@dataclass(frozen=True)
class _Year:
    peaked: bool
    rank: float
    off_rank: float
    prices: dict[str, Decimal | None]  # "new"/"used" -> window median; "off_new"/"off_used"


def daily(points: Points) -> dict[date, int]:
    """The value in force at the end of each UTC day from the first point's day to the last's;
    days whose value is unknown (-1, none) are left out."""
    by_day = _daily_numbers(points)
    return {_EPOCH_DAY + timedelta(days=d): v for d, v in by_day.items()}


def _daily_numbers(points: Points) -> dict[int, int]:
    """As ``daily``, keyed by day number since Keepa's epoch (midnight UTC: days align)."""
    last_of_day: dict[int, int | None] = {}
    for minute, value in points:
        last_of_day[minute // MINUTES_PER_DAY] = value
    if not last_of_day:
        return {}
    result: dict[int, int] = {}
    current: int | None = None
    for day in range(min(last_of_day), max(last_of_day) + 1):
        current = last_of_day.get(day, current)
        if current is not None and current > 0:
            result[day] = current
    return result


def season_profile(
    ranks: Points, new_prices: Points = (), used_prices: Points = ()
) -> SeasonProfile | None:
    """The textbook windows this history peaks in; None when it shows no yearly peak."""
    rank_days = _daily_numbers(ranks or ())
    if len(rank_days) < 365 * MIN_PEAK_YEARS // 2:  # too short for two peaks a year apart
        return None
    price_days = {
        "new": _daily_numbers(new_prices or ()),
        "used": _daily_numbers(used_prices or ()),
    }
    found: list[PeakWindow] = []
    observed = 0
    for name, months in WINDOWS:
        years = _years(rank_days, price_days, months)
        observed = max(observed, len(years))
        peaked = [y for y in years if y.peaked]
        if len(peaked) >= MIN_PEAK_YEARS and 3 * len(peaked) >= 2 * len(years):
            found.append(_window(name, peaked))
    return SeasonProfile(observed, tuple(found)) if found else None


def next_peak(profile: SeasonProfile | None, as_of: datetime, *, used: bool) -> SeasonView | None:
    """The next window the book peaks in, from ``as_of``'s day (a window under way counts, from
    today), with the condition's price in past peaks."""
    if profile is None or not profile.windows:
        return None
    today = as_of.astimezone(UTC).date()
    starts = [(_next_start(w.name, today), w) for w in profile.windows]
    start, window = min(starts, key=lambda s: s[0])
    return SeasonView(
        peaks=tuple(w.name for w in profile.windows),
        next_peak=window.name,
        next_peak_starts=start,
        days_to_next_peak=(start - today).days,
        expected_peak_price=window.peak_price_used if used else window.peak_price_new,
        off_peak_price=window.off_peak_price_used if used else window.off_peak_price_new,
        years_observed=profile.years_observed,
    )


def _next_start(name: str, today: date) -> date:
    months = dict(WINDOWS)[name]
    for year in (today.year, today.year + 1):
        first = date(year, months[0], 1)
        end = _month_end(year, months[-1])
        if today <= end:
            return max(first, today)
    raise AssertionError("a window starts within a year")  # pragma: no cover


def _years(
    rank_days: dict[int, int], price_days: dict[str, dict[int, int]], months: tuple[int, ...]
) -> list[_Year]:
    first, last = _date(min(rank_days)), _date(max(rank_days))
    years: list[_Year] = []
    for year in range(first.year, last.year + 1):
        start = _number(date(year, months[0], 1))
        end = _number(_month_end(year, months[-1]))
        covered = [d for d in range(start, end + 1) if d in rank_days]
        if len(covered) < MIN_COVERAGE * (end - start + 1):
            continue
        off = [d for d in _off_peak_days(year, start - 180, end + 180) if d in rank_days]
        if len(off) < MIN_OFF_PEAK_DAYS:
            continue
        rank = statistics.median(rank_days[d] for d in covered)
        off_rank = statistics.median(rank_days[d] for d in off)
        prices: dict[str, Decimal | None] = {}
        for kind, days in price_days.items():
            prices[kind] = _median_price(days, covered)
            prices[f"off_{kind}"] = _median_price(days, off)
        years.append(_Year(rank <= PEAK_RANK_RATIO * off_rank, rank, off_rank, prices))
    return years


def _window(name: str, peaked: list[_Year]) -> PeakWindow:
    def price(key: str) -> Decimal | None:
        known = [y.prices[key] for y in peaked if y.prices.get(key) is not None]
        return _median_decimal([p for p in known if p is not None])

    return PeakWindow(
        name=name,
        years_peaked=len(peaked),
        peak_rank=round(statistics.median(y.rank for y in peaked)),
        off_peak_rank=round(statistics.median(y.off_rank for y in peaked)),
        peak_price_new=price("new"),
        peak_price_used=price("used"),
        off_peak_price_new=price("off_new"),
        off_peak_price_used=price("off_used"),
    )


def _median_price(days: dict[int, int], which: list[int]) -> Decimal | None:
    values = [days[d] for d in which if d in days]
    if len(values) < len(which) / 2:  # too little of the window priced
        return None
    return cents_to_dollars(round(statistics.median(values)))


def _median_decimal(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    return Decimal(statistics.median(values)).quantize(Decimal("0.01"))


def _off_peak_days(year: int, first: int, last: int) -> list[int]:
    days: list[int] = []
    for y in (year - 1, year, year + 1):
        for month in sorted(OFF_PEAK_MONTHS):
            low = max(first, _number(date(y, month, 1)))
            high = min(last, _number(_month_end(y, month)))
            days.extend(range(low, high + 1))
    return days


def _date(day: int) -> date:
    return _EPOCH_DAY + timedelta(days=day)


def _number(day: date) -> int:
    return (day - _EPOCH_DAY).days


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)
