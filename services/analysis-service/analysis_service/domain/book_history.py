"""A book's price and sales-rank history, kept compactly from what Keepa returned.

Each fetched product carries Keepa's whole history (``csv``); one bounded copy is kept per ASIN
(replaced at each fetch) for the book's chart and trends:
- the series: Amazon (``csv[0]``), lowest new (``csv[1]``), lowest used (``csv[2]``), sales rank
  (``csv[3]``) and the new buy box (``csv[18]``, BUY_BOX_SHIPPING: ``[time, price, shipping]``
  triples, kept as the landed price a buyer pays), values as Keepa sends them (cents, ranks),
  None where Keepa says "no offer / no rank" (-1);
- the sales: every rank drop ``rank_drops.is_sale`` counts, with the ranks before and after;
- bounds: the ``HISTORY_DAYS`` before ``as_of`` (the value in force at that start is kept as a
  point at the start, so the line is right from the first pixel), and at most ``MAX_POINTS`` per
  series. The last ``RECENT_DAYS`` (the trend windows) keep every point while they fit in half
  of that; what does not fit is thinned into equal time buckets that keep their lowest, highest,
  first "no offer" and last point: spikes, gaps and the value carried into the next bucket
  survive, the chart looks the same.

``as_of`` is Keepa's last update of the product (when its data was current; about when it was
fetched); windows and trends end there, as the rank-drop counts do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import keepa_format as kf
from .market import MarketSnapshot
from .rank_drops import MINUTES_PER_DAY, is_sale

HISTORY_DAYS = 3 * 365 + 1
RECENT_DAYS = 90
MAX_POINTS = 1200
MAX_SALES = 2000
FORMAT_VERSION = 1

# name -> Keepa csv index; the order is the chart's
SERIES: Mapping[str, int] = {
    "new": kf.NEW,
    "used": kf.USED,
    "buy_box": kf.BUY_BOX_SHIPPING,
    "amazon": kf.AMAZON,
    "sales_rank": kf.SALES,
}
PRICE_SERIES = ("new", "used", "buy_box", "amazon")

Point = tuple[int, int | None]  # (keepa_minute, value); None: no offer / no rank


@dataclass(frozen=True)
class Sale:
    minute: int
    rank_before: int
    rank_after: int


@dataclass(frozen=True)
class BookHistory:
    asin: str
    as_of: int  # Keepa minute the history is current to
    series: Mapping[str, tuple[Point, ...]] = field(default_factory=dict)
    sales: tuple[Sale, ...] = ()

    def points(self, name: str) -> tuple[Point, ...]:
        return self.series.get(name, ())


def history_from_product(
    product: Mapping[str, Any],
    *,
    days: int = HISTORY_DAYS,
    max_points: int = MAX_POINTS,
) -> BookHistory | None:
    """The bounded history of a Keepa product; None when it has no ASIN or no history at all."""
    p = kf.KeepaProduct(product)
    asin = kf.text(product.get("asin"))
    full = {name: _known(p.checked_points(index) or []) for name, index in SERIES.items()}
    newest = max((pts[-1][0] for pts in full.values() if pts), default=None)
    if asin is None or newest is None:
        return None
    as_of = max(kf.positive(product.get("lastUpdate")) or 0, newest)
    start = as_of - days * MINUTES_PER_DAY
    recent = as_of - RECENT_DAYS * MINUTES_PER_DAY
    series = {
        name: tuple(bounded(clipped(pts, start), start, as_of, max_points, recent))
        for name, pts in full.items()
    }
    sales = sales_between(full["sales_rank"], start, as_of)[-MAX_SALES:]
    return BookHistory(asin.upper(), as_of, {k: v for k, v in series.items() if v}, tuple(sales))


def _known(points: Sequence[Point]) -> list[Point]:
    """-1 (and any other non-positive value): no offer / no rank."""
    return [(m, v if v is not None and v > 0 else None) for m, v in points]


def clipped(points: Sequence[Point], start: int) -> list[Point]:
    """The points from ``start`` on, led by the value in force at ``start`` (stamped ``start``)."""
    before = [p for p in points if p[0] <= start]
    after = [p for p in points if p[0] > start]
    return ([(start, before[-1][1])] if before else []) + after


def bounded(
    points: Sequence[Point], start: int, end: int, max_points: int, recent: int
) -> list[Point]:
    """At most ``max_points`` points: the recent ones whole while they fit in half the budget,
    the rest thinned (see the module doc)."""
    if len(points) <= max_points:
        return list(points)
    start = max(start, points[0][0])  # no bucket spent before Keepa's tracking began
    newer = [p for p in points if p[0] >= recent]
    older = [p for p in points if p[0] < recent]
    if len(newer) > max_points // 2:
        return thinned(points, start, end, max_points)
    return thinned(older, start, recent, max_points - len(newer)) + newer


def thinned(points: Sequence[Point], start: int, end: int, max_points: int) -> list[Point]:
    """Equal time buckets over [start, end], each keeping its lowest, highest, first "no offer"
    and last point, in time order."""
    if len(points) <= max_points:
        return list(points)
    buckets = max(1, (max_points - 1) // 4)
    width = max(1, end - start) / buckets
    groups: dict[int, list[Point]] = {}
    for point in points:
        groups.setdefault(min(buckets - 1, int((point[0] - start) / width)), []).append(point)
    kept: list[Point] = []
    for group in groups.values():
        known = [p for p in group if p[1] is not None]
        chosen = {group[-1]}
        if known:
            chosen |= {min(known, key=_value), max(known, key=_value)}
        chosen |= {next((p for p in group if p[1] is None), group[-1])}
        kept += [p for p in group if p in chosen]  # time order, each once
    return list(dict.fromkeys([points[0], *kept]))  # the value in force at the start stays


def _value(point: Point) -> int:
    return point[1] or 0


def sales_between(rank: Sequence[Point], start: int, end: int) -> list[Sale]:
    """Every rank drop counted as a sale after ``start`` and before ``end`` (the rule and the
    window of ``rank_drops.count_sales``: compared with the last known rank before it, "no rank"
    points skipped, ``end`` itself left out)."""
    found: list[Sale] = []
    previous: int | None = None
    for minute, value in rank:
        if minute >= end:
            break
        if value is None or value <= 0:
            continue
        if minute > start and previous is not None and is_sale(previous, value):
            found.append(Sale(minute, previous, value))
        previous = value
    return found


def window(history: BookHistory, days: int) -> BookHistory:
    """The ``days`` before ``as_of`` only, each series led by its value at the window's start."""
    start = history.as_of - days * MINUTES_PER_DAY
    series = {name: tuple(clipped(pts, start)) for name, pts in history.series.items()}
    sales = tuple(s for s in history.sales if s.minute > start)
    return BookHistory(history.asin, history.as_of, series, sales)


def presence_intervals(points: Sequence[Point], end: int) -> list[tuple[int, int]]:
    """(from, to) Keepa minutes in which a series had a value, e.g. Amazon sold the book."""
    intervals: list[tuple[int, int]] = []
    since: int | None = None
    for minute, value in points:
        if value is not None and value > 0:
            since = minute if since is None else since
        elif since is not None:
            intervals.append((since, minute))
            since = None
    if since is not None:
        intervals.append((since, end))
    return intervals


# --- storage: compact JSON (times as deltas, -1 for None) ------------------------------------


def history_to_json(history: BookHistory) -> dict[str, Any]:
    return {
        "v": FORMAT_VERSION,
        "asin": history.asin,
        "as_of": history.as_of,
        "series": {name: _pack(pts) for name, pts in history.series.items()},
        "sales": _pack_sales(history.sales),
    }


def history_from_json(data: Mapping[str, Any]) -> BookHistory:
    series = {str(k): tuple(_unpack(v)) for k, v in data["series"].items()}
    return BookHistory(str(data["asin"]), int(data["as_of"]), series, _unpack_sales(data["sales"]))


def _pack(points: Sequence[Point]) -> list[int]:
    flat: list[int] = []
    last = 0
    for minute, value in points:
        flat += [minute - last, -1 if value is None else value]
        last = minute
    return flat


def _unpack(flat: Sequence[int]) -> list[Point]:
    points: list[Point] = []
    minute = 0
    for i in range(0, len(flat) - 1, 2):
        minute += flat[i]
        points.append((minute, None if flat[i + 1] < 0 else flat[i + 1]))
    return points


def _pack_sales(sales: Sequence[Sale]) -> list[int]:
    flat: list[int] = []
    last = 0
    for s in sales:
        flat += [s.minute - last, s.rank_before, s.rank_after]
        last = s.minute
    return flat


def _unpack_sales(flat: Sequence[int]) -> tuple[Sale, ...]:
    sales: list[Sale] = []
    minute = 0
    for i in range(0, len(flat) - 2, 3):
        minute += flat[i]
        sales.append(Sale(minute, flat[i + 1], flat[i + 2]))
    return tuple(sales)


# --- the latest snapshot, as the book endpoint shows it ----------------------------------------

SUMMARY_FIELDS = (
    "sales_rank",
    "buy_box_new_with_shipping",
    "buy_box_used_with_shipping",
    "new_price",
    "used_price",
    "lowest_new_with_shipping",
    "lowest_used_with_shipping",
    "amazon_price",
    "amazon_on_listing",
    "new_offer_count",
    "used_offer_count",
    "sales_rank_drops30",
    "sales_rank_drops90",
    "monthly_sold",
)


def snapshot_summary(snapshot: MarketSnapshot) -> dict[str, Any]:
    """The figures a seller reads first, JSON-ready (money as float dollars)."""
    summary: dict[str, Any] = {}
    for name in SUMMARY_FIELDS:
        value = getattr(snapshot, name, None)
        summary[name] = float(value) if isinstance(value, Decimal) else value
    summary["title"] = snapshot.title
    summary["binding"] = snapshot.binding
    summary["last_update"] = snapshot.last_update.isoformat() if snapshot.last_update else None
    return summary
