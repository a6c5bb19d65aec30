"""Keepa time: minutes since 2011-01-01 00:00 UTC."""

from __future__ import annotations

KEEPA_EPOCH_OFFSET_MINUTES = 21_564_000  # unix minutes at 2011-01-01 00:00 UTC
MINUTES_PER_DAY = 1440


def to_keepa_minute(unix_seconds: float) -> int:
    return int(unix_seconds // 60) - KEEPA_EPOCH_OFFSET_MINUTES


def to_unix_seconds(keepa_minute: int) -> int:
    return (keepa_minute + KEEPA_EPOCH_OFFSET_MINUTES) * 60
