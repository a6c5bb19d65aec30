"""Low-level readers for the Keepa product format (``GET /product``, prices in cents).

Format facts (Keepa API docs, keepacom/api_backend Product.java / Stats.java / Offer.java):
- times are Keepa minutes, minutes since 2011-01-01 00:00 UTC;
- ``csv[i]`` is ``[time, value, ...]``; the *_SHIPPING series are ``[time, price, shipping, ...]``;
- ``stats.current/avg30/avg90`` use the csv indices; for *_SHIPPING indices they hold the landed
  price (price + shipping);
- ``-1`` means no offer / no data, ``-2`` (stats) means the value does not exist.
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


def keepa_minutes_to_datetime(minutes: int) -> datetime:
    return KEEPA_EPOCH + timedelta(minutes=minutes)


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def positive(value: Any) -> int | None:
    """Prices, ranks, sizes: Keepa uses -1/-2 (and sometimes 0) for unknown."""
    n = as_int(value)
    return n if n is not None and n > 0 else None


def non_negative(value: Any) -> int | None:
    """Counts: 0 is a real value, negatives are unknown."""
    n = as_int(value)
    return n if n is not None and n >= 0 else None


def cents_to_dollars(cents: int | None) -> Decimal | None:
    return None if cents is None else (Decimal(cents) / 100).quantize(CENT)


def keepa_time(value: Any) -> datetime | None:
    minutes = positive(value)
    return None if minutes is None else keepa_minutes_to_datetime(minutes)


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

    def csv_points(self, index: int) -> list[tuple[int, int | None]]:
        """All (keepa_minute, value) points of a series; landed value for shipping series."""
        data = self.series(index)
        if data is None:
            return []
        step = self.series_step(index)
        points: list[tuple[int, int | None]] = []
        for start in range(0, len(data) - step + 1, step):
            minute = as_int(data[start])
            if minute is None:
                continue
            price = as_int(data[start + 1])
            if step == 3:
                shipping = as_int(data[start + 2])
                if price is not None and price >= 0 and shipping is not None and shipping > 0:
                    price += shipping
            points.append((minute, price))
        return points

    def csv_latest(self, index: int) -> int | None:
        """Value of the newest csv point (None when that point says 'no offer')."""
        points = self.csv_points(index)
        return points[-1][1] if points else None

    def point_count(self, index: int) -> int | None:
        data = self.series(index)
        if data is None:
            return None if self.csv is None else 0
        return len(data) // self.series_step(index)
