"""Low-level readers for the Keepa product format (``GET /product``, prices in cents).

Format facts (Keepa API docs, keepacom/api_backend Product.java / Stats.java / Offer.java):
- times are Keepa minutes, minutes since 2011-01-01 00:00 UTC;
- ``csv[i]`` is ``[time, value, ...]``; the *_SHIPPING series are ``[time, price, shipping, ...]``;
- ``stats.current/avg30/avg90`` use the csv indices; for *_SHIPPING indices they hold the landed
  price (price + shipping);
- NEW (``csv[1]``) excludes shipping only in data Keepa collected before 2026-02-16 (Product.java,
  CsvType.NEW); collected since, it is the landed lowest new price (``new_is_landed``);
- ``-1`` means no offer / no data, ``-2`` (stats) means the value does not exist;
- prices, counts, ranks, sizes and times are Java ``int`` (32-bit) fields; only category ids
  (``rootCategory``, ``categoryTree[].catId``) are ``long``;
- a ``csv`` series is oldest first: its times never decrease and its length is a whole number of
  groups (pairs, or triples for *_SHIPPING). A series that breaks this cannot be read without
  guessing (pairs given for a shipping index, a lost element), so it counts as unknown.
Every reader here returns None for anything unknown or malformed and never raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")
KEEPA_EPOCH = datetime(2011, 1, 1, tzinfo=UTC)

# csv / stats indices (Product.CsvType)
AMAZON, NEW, USED, SALES = 0, 1, 2, 3
NEW_FBM_SHIPPING, NEW_FBA, COUNT_NEW, COUNT_USED = 7, 10, 11, 12
BUY_BOX_SHIPPING = 18
USED_NEW_SHIPPING, USED_VERY_GOOD_SHIPPING, USED_GOOD_SHIPPING, USED_ACCEPTABLE_SHIPPING = (
    19,
    20,
    21,
    22,
)
BUY_BOX_USED_SHIPPING, COUNT_NEW_FBA, COUNT_NEW_FBM = 32, 34, 35
SHIPPING_SERIES = frozenset({7, 18, *range(19, 30), 32})
INT_MAX = 2**31 - 1  # Keepa's numbers are Java ints; anything larger is not a Keepa value
AMAZON_SELLER_ID = "ATVPDKIKX0DER"  # amazon.com's own seller id


def keepa_minutes_to_datetime(minutes: int) -> datetime:
    return KEEPA_EPOCH + timedelta(minutes=minutes)


def datetime_to_keepa_minutes(moment: datetime) -> float:
    """Keepa minutes (with the fraction) of a moment; naive datetimes are taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - KEEPA_EPOCH) / timedelta(minutes=1)


# Product.java, CsvType.NEW: "Shipping costs not included for data collections before Feb 16th
# 2026" (taken as 00:00 UTC, Keepa's clock).
NEW_LANDED_FROM = datetime(2026, 2, 16, tzinfo=UTC)
NEW_LANDED_FROM_MINUTE = int(datetime_to_keepa_minutes(NEW_LANDED_FROM))  # 7,956,000


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def keepa_int(value: Any) -> int | None:
    """An int within Java's int range (Keepa's prices, counts, ranks, sizes and times)."""
    n = as_int(value)
    return n if n is not None and -INT_MAX - 1 <= n <= INT_MAX else None


def positive(value: Any) -> int | None:
    """Prices, ranks, sizes: Keepa uses -1/-2 (and sometimes 0) for unknown."""
    n = keepa_int(value)
    return n if n is not None and n > 0 else None


def non_negative(value: Any) -> int | None:
    """Counts: 0 is a real value, negatives are unknown."""
    n = keepa_int(value)
    return n if n is not None and n >= 0 else None


def positive_id(value: Any) -> int | None:
    """Category ids are Java longs (e.g. 202437540011); 0 and -1 mean none."""
    n = as_int(value)
    return n if n is not None and 0 < n < 2**63 else None


def cents_to_dollars(cents: int | None) -> Decimal | None:
    if cents is None or abs(cents) > 2 * INT_MAX:  # 2x: a price plus its shipping
        return None
    return (Decimal(cents) / 100).quantize(CENT)


def keepa_time(value: Any) -> datetime | None:
    minutes = positive(value)  # at most INT_MAX minutes: year 6094, no overflow
    return None if minutes is None else keepa_minutes_to_datetime(minutes)


def landed(price: int | None, shipping: int | None) -> int | None:
    """Price plus shipping, as Keepa's ProductAnalyzer.getLast: a negative price stays as it is
    (no offer / unknown), a negative shipping (unspecified / unknown) adds nothing. A price of 0
    is no price either (as for offers): shipping alone is not a landed price."""
    if price is None or price <= 0:
        return price
    return price + shipping if shipping is not None and shipping > 0 else price


def as_mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def as_list(value: Any) -> Sequence[Any] | None:
    return value if isinstance(value, list | tuple) else None


def text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class KeepaProduct:
    """Typed, forgiving access to one Keepa product object."""

    def __init__(self, product: Mapping[str, Any]) -> None:
        self.raw = product
        self.stats = as_mapping(product.get("stats"))
        self.csv = as_list(product.get("csv"))

    def stat_at(self, array: str, index: int) -> Any:
        values = as_list(self.stats.get(array)) if self.stats is not None else None
        if values is None or not 0 <= index < len(values):
            return None
        return values[index]

    def stat(self, name: str) -> Any:
        return self.stats.get(name) if self.stats is not None else None

    def series(self, index: int) -> Sequence[Any] | None:
        if self.csv is None or not 0 <= index < len(self.csv):
            return None
        return as_list(self.csv[index])

    def series_step(self, index: int) -> int:
        return 3 if index in SHIPPING_SERIES else 2

    def checked_points(self, index: int) -> list[tuple[int, int | None]] | None:
        """All (keepa_minute, value) points of a series, oldest first, the landed value for
        shipping series; None when the series is absent or malformed (see the module doc)."""
        data = self.series(index)
        if data is None:
            return None
        return time_series(data, self.series_step(index))

    def csv_points(self, index: int) -> list[tuple[int, int | None]]:
        return self.checked_points(index) or []

    def csv_latest(self, index: int) -> int | None:
        """Value of the newest csv point (None when that point says 'no offer')."""
        points = self.csv_points(index)
        return points[-1][1] if points else None

    def new_is_landed(self) -> bool | None:
        """Whether the current NEW value includes shipping: it does once Keepa collected it on or
        after 2026-02-16. Keepa's newest collection is ``lastUpdate``, and a collected value equal
        to the one recorded adds no point, so an older point is the landed value once Keepa has
        collected since. Without ``lastUpdate``, the newest NEW point's time; None: unknown."""
        collected = positive(self.raw.get("lastUpdate"))
        if collected is None:
            points = self.checked_points(NEW)
            collected = points[-1][0] if points else None
        return None if collected is None else collected >= NEW_LANDED_FROM_MINUTE

    def point_count(self, index: int) -> int | None:
        """History points of a series: 0 when ``csv`` has no such series, None when the product
        came without ``csv`` or the series is malformed."""
        if self.series(index) is None:
            return None if self.csv is None else 0
        points = self.checked_points(index)
        return None if points is None else len(points)


def time_series(data: Sequence[Any], step: int) -> list[tuple[int, int | None]] | None:
    """``[time, value, ...]`` (step 2) or ``[time, price, shipping, ...]`` (step 3, landed value)
    as points; None unless whole groups with valid, never decreasing times."""
    if len(data) % step:
        return None
    points: list[tuple[int, int | None]] = []
    for start in range(0, len(data), step):
        minute = positive(data[start])
        if minute is None or (points and minute < points[-1][0]):
            return None
        value = keepa_int(data[start + 1])
        if step == 3:
            value = landed(value, keepa_int(data[start + 2]))
        points.append((minute, value))
    return points
