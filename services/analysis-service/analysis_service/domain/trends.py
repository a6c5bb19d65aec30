"""Whether a book's prices and sales rank are rising, falling or flat over the last 30/90 days.

Method (one for every series and window), on a history ending at ``as_of`` (see book_history):
1. sample the series once a day over the window, ``days + 1`` samples from ``as_of - days`` to
   ``as_of``, each the value in force then (Keepa's series are steps: a value holds until the
   next point). Days without an offer (no value) are left out;
2. fit a least-squares line to the logarithm of the samples against time: the slope is a
   steady relative change per day, so a $4 book and a $40 book, a rank of 2,000 and of
   2,000,000, are judged alike, and one outlying day moves the fit little;
3. ``change_percent`` = the fitted line's change over the whole window, ``exp(slope * days) - 1``;
   beyond ``THRESHOLD_PERCENT`` either way it is ``rising``/``falling``, within it ``flat``.
   Ranks swing far more from day to day than prices (each sale, then a slow climb), hence their
   wider band. A falling rank means the book sells better.
``unknown`` (with the reason) when the history does not reach back to the window's start, or
fewer than a third of the days (at least 5) have a value: too little to call.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .book_history import BookHistory, Point
from .rank_drops import MINUTES_PER_DAY

WINDOWS = (30, 90)
TREND_SERIES = ("new", "used", "buy_box", "sales_rank")
THRESHOLD_PERCENT = {"sales_rank": 20.0}  # every other series (prices): DEFAULT_THRESHOLD
DEFAULT_THRESHOLD_PERCENT = 5.0
MIN_SAMPLES = 5


class Direction(StrEnum):
    RISING = "rising"
    FALLING = "falling"
    FLAT = "flat"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Trend:
    series: str
    days: int
    direction: Direction
    threshold_percent: float
    samples: int = 0  # days with a value
    change_percent: float | None = None  # of the fitted line over the window
    fitted_start: float | None = None  # the fitted line's value at the window's start
    fitted_end: float | None = None  # ... and at as_of
    median: float | None = None  # of the daily samples
    first: int | None = None  # the first and last daily sample
    last: int | None = None
    reason: str | None = None  # why unknown


def book_trends(history: BookHistory) -> dict[str, dict[int, Trend]]:
    return {
        name: {
            days: trend(history.points(name), as_of=history.as_of, days=days, series=name)
            for days in WINDOWS
        }
        for name in TREND_SERIES
    }


def trend(points: Sequence[Point], *, as_of: int, days: int, series: str) -> Trend:
    threshold = THRESHOLD_PERCENT.get(series, DEFAULT_THRESHOLD_PERCENT)
    start = as_of - days * MINUTES_PER_DAY
    if not points:
        return Trend(series, days, Direction.UNKNOWN, threshold, reason="no history")
    if points[0][0] > start:
        return Trend(series, days, Direction.UNKNOWN, threshold, reason="history too short")
    samples = daily_samples(points, start, days)
    if len(samples) < max(MIN_SAMPLES, (days + 1) // 3):
        return Trend(
            series,
            days,
            Direction.UNKNOWN,
            threshold,
            samples=len(samples),
            reason="too few days with a value",
        )
    intercept, slope = log_linear_fit(samples)
    change = (math.exp(slope * days) - 1) * 100
    direction = (
        Direction.RISING
        if change > threshold
        else Direction.FALLING
        if change < -threshold
        else Direction.FLAT
    )
    return Trend(
        series,
        days,
        direction,
        threshold,
        samples=len(samples),
        change_percent=round(change, 2),
        fitted_start=round(math.exp(intercept), 2),
        fitted_end=round(math.exp(intercept + slope * days), 2),
        median=float(statistics.median(v for _, v in samples)),
        first=samples[0][1],
        last=samples[-1][1],
    )


def daily_samples(points: Sequence[Point], start: int, days: int) -> list[tuple[int, int]]:
    """(day, value) once a day from ``start``: the value in force at each, days without one
    left out. ``points`` are oldest first."""
    samples: list[tuple[int, int]] = []
    k = 0
    current: int | None = None
    for day in range(days + 1):
        moment = start + day * MINUTES_PER_DAY
        while k < len(points) and points[k][0] <= moment:
            current = points[k][1]
            k += 1
        if current is not None and current > 0:
            samples.append((day, current))
    return samples


def log_linear_fit(samples: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """Least squares of ln(value) on day: (intercept, slope per day)."""
    xs = [float(d) for d, _ in samples]
    ys = [math.log(v) for _, v in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return mean_y - slope * mean_x, slope
