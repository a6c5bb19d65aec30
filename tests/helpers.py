"""Small helpers the test tiers share: valid identifiers, admin SQL."""

from __future__ import annotations

import random
from typing import Any

import asyncpg

from av_shared.identifiers import isbn10_check_digit


def isbn10s(count: int, seed: int = 7) -> list[str]:
    """Distinct valid ISBN-10s (the synthetic Keepa source invents a book for each)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < count:
        first9 = f"{rng.randrange(10**9):09d}"
        seen.add(first9 + isbn10_check_digit(first9))
    return sorted(seen)


def items_for(identifiers: list[str], cost: float = 2.0) -> list[dict[str, Any]]:
    return [{"identifier": i, "buy_cost": cost} for i in identifiers]


async def admin_fetch(admin_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(admin_url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def admin_value(admin_url: str, sql: str, *args: Any) -> Any:
    rows = await admin_fetch(admin_url, sql, *args)
    return rows[0][0] if rows else None
