"""Keepa `csv` history series and the `stats` figures Keepa derives from them."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from keepa_sim.keepa_time import MINUTES_PER_DAY

CSV_LENGTH = 34  # what the 2025 recordings carry; stats arrays have the same length
AMAZON, NEW, USED, SALES, LISTPRICE = 0, 1, 2, 3, 4
NEW_FBA, COUNT_NEW, COUNT_USED, RATING, COUNT_REVIEWS = 10, 11, 12, 16, 17
BUY_BOX_SHIPPING = 18
USED_NEW_SHIPPING, USED_VERY_GOOD_SHIPPING, USED_GOOD_SHIPPING, USED_ACCEPTABLE_SHIPPING = (
    19,
    20,
    21,
    22,
)
BUY_BOX_USED_SHIPPING = 32
# Series stored as [time, price, shipping] triplets instead of [time, value] pairs.
SHIPPING_INDICES = frozenset({7, *range(18, 28), 32})
# Series that are not prices: Keepa reports no out-of-stock percentage for them.
NON_PRICE_INDICES = frozenset({SALES, COUNT_NEW, COUNT_USED, 13, 14, 15, RATING, COUNT_REVIEWS})

Csv = list[list[int] | None]
Point = tuple[int, int]


def points(index: int, series: list[int]) -> list[Point]:
    """(time, value) pairs; a triplet's value is the landed price, as in Keepa's stats."""
    step = 3 if index in SHIPPING_INDICES else 2
    out: list[Point] = []
    for i in range(0, len(series) - step + 1, step):
        value = series[i + 1]
        if step == 3 and value >= 0:
            value += max(series[i + 2], 0)
        out.append((series[i], value))
    return out


def value_at(pts: list[Point], when: int) -> int:
    k = bisect_right(pts, when, key=lambda p: p[0])  # points are in time order
    return pts[k - 1][1] if k else -1


def _segments(pts: list[Point], start: int, end: int) -> list[tuple[int, int]]:
    """(value, duration) of each step of the series clipped to [start, end]."""
    first = max(0, bisect_right(pts, start, key=lambda p: p[0]) - 1)  # the step live at start
    out = []
    for k in range(first, len(pts)):
        t, v = pts[k]
        if t >= end:
            break
        seg_end = min(pts[k + 1][0] if k + 1 < len(pts) else end, end)
        seg_start = max(t, start)
        if seg_end > seg_start:
            out.append((v, seg_end - seg_start))
    return out


def weighted_avg(pts: list[Point], start: int, end: int) -> int:
    # Keepa averages over time, skipping periods without an offer (-1).
    segs = [(v, d) for v, d in _segments(pts, start, end) if v >= 0]
    weight = sum(d for _, d in segs)
    return round(sum(v * d for v, d in segs) / weight) if weight else -1


def out_of_stock_pct(pts: list[Point], start: int, end: int) -> int:
    segs = _segments(pts, start, end)
    total = sum(d for _, d in segs)
    return round(100 * sum(d for v, d in segs if v < 0) / total) if total else -1


def extreme(pts: list[Point], start: int, pick: Callable[[list[Point]], Point]) -> list[int]:
    first = bisect_left(pts, start, key=lambda p: p[0])
    valid = [(t, v) for t, v in pts[first:] if v >= 0]
    return list(pick(valid)) if valid else [-1, -1]


def _lowest(pts: list[Point]) -> Point:
    return min(pts, key=lambda p: (p[1], -p[0]))


def _highest(pts: list[Point]) -> Point:
    return max(pts, key=lambda p: (p[1], p[0]))


def _is_lowest(current: list[int], lows: list[list[int] | None]) -> list[bool]:
    return [c >= 0 and lo is not None and c <= lo[1] for c, lo in zip(current, lows, strict=True)]


def history_stats(csv: Csv, now: int, stats_days: int) -> dict[str, Any]:
    """The array-valued part of Keepa's `stats` object, computed from the history."""
    padded = list(csv) + [None] * (CSV_LENGTH - len(csv))
    series = [None if s is None else points(i, s) for i, s in enumerate(padded)]  # parsed once

    def per_series(fn: Callable[[int, list[Point]], Any], empty: Any) -> list[Any]:
        return [empty if p is None else fn(i, p) for i, p in enumerate(series)]

    def start(days: int) -> int:
        return now - days * MINUTES_PER_DAY

    def avg(days: int) -> list[int]:
        return per_series(lambda _i, p: weighted_avg(p, start(days), now), -1)

    def oos(days: int) -> list[int]:
        return per_series(
            lambda i, p: -1 if i in NON_PRICE_INDICES else out_of_stock_pct(p, start(days), now),
            -1,
        )

    interval = start(stats_days)
    current = per_series(lambda _i, p: p[-1][1] if p else -1, -1)
    lows = per_series(lambda _i, p: extreme(p, 0, _lowest), None)
    lows90 = per_series(lambda _i, p: extreme(p, start(90), _lowest), None)
    return {
        "atIntervalStart": per_series(lambda _i, p: value_at(p, interval), -1),
        "avg": avg(stats_days),
        "avg30": avg(30),
        "avg90": avg(90),
        "avg180": avg(180),
        "avg365": avg(365),
        "current": current,
        "isLowest": _is_lowest(current, lows),
        "isLowest90": _is_lowest(current, lows90),
        "max": per_series(lambda _i, p: extreme(p, 0, _highest), None),
        "maxInInterval": per_series(lambda _i, p: extreme(p, interval, _highest), None),
        "min": lows,
        "minInInterval": per_series(lambda _i, p: extreme(p, interval, _lowest), None),
        "outOfStockPercentage30": oos(30),
        "outOfStockPercentage90": oos(90),
        "outOfStockPercentage180": oos(180),
        "outOfStockPercentage365": oos(365),
        "outOfStockPercentageInInterval": oos(stats_days),
    }


def trim_series(index: int, series: list[int], since: int) -> list[int]:
    """Drop points older than `since`, keeping the last older one so the value at `since` holds."""
    step = 3 if index in SHIPPING_INDICES else 2
    groups = [series[i : i + step] for i in range(0, len(series) - step + 1, step)]
    keep_from = 0
    for k, group in enumerate(groups):
        if group[0] <= since:
            keep_from = k
    return [x for group in groups[keep_from:] for x in group]
