"""Market data for a set of ASINs: the snapshot cache first, then Keepa within the token budget.

One token per unique ASIN within the TTL: the same book twice in one batch, in two batches or for
two users is fetched once. Every fetched product is kept as a snapshot (cache and history).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..domain import (
    MarketSnapshot,
    market_snapshot_from_json,
    market_snapshot_to_json,
    parse_keepa_product,
)
from ..db.tables import identifier_lookups, market_snapshots
from .keepa_client import KeepaClient, KeepaError
from .token_budget import TokenBudget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedSnapshot:
    snapshot_id: int
    snapshot: MarketSnapshot


@dataclass(frozen=True)
class MarketDataFailure:
    reason: str


MarketResult = CachedSnapshot | MarketDataFailure


class MarketData:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], client: KeepaClient,
        budget: TokenBudget, ttl: timedelta,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._budget = budget
        self._ttl = ttl
        self.fetched_products = 0

    async def snapshots(self, asins: Iterable[str], *, instant: bool) -> dict[str, MarketResult]:
        wanted = list(dict.fromkeys(asins))  # requested once each, in order
        results: dict[str, MarketResult] = dict(await self._fresh(wanted))
        missing = [a for a in wanted if a not in results]
        size = self._client.max_batch_size()
        for start in range(0, len(missing), size):
            results.update(await self._fetch(missing[start : start + size], instant=instant))
        return results

    async def resolve_codes(self, codes: Sequence[str], *, instant: bool) -> dict[str, str | None]:
        """ISBN-13s with no ISBN-10 (979...) → ASIN through Keepa's code lookup, cached forever."""
        wanted = list(dict.fromkeys(codes))
        async with self._sessions() as session:
            rows = (await session.execute(select(identifier_lookups).where(
                identifier_lookups.c.code.in_(wanted)))).all()
        found: dict[str, str | None] = {r.code: r.asin for r in rows}
        missing = [c for c in wanted if c not in found]
        size = self._client.max_batch_size()
        for start in range(0, len(missing), size):
            part = missing[start : start + size]
            async with self._budget.reservation(len(part) * self._client.tokens_per_product(),
                                                instant=instant):
                response = await self._client.lookup_codes(part)
            await self._budget.sync(response.tokens.tokens_left, response.tokens.refill_rate)
            by_code = _asins_by_code(response.products, part)
            async with self._sessions() as session, session.begin():
                await session.execute(insert(identifier_lookups).on_conflict_do_nothing(), [
                    {"code": code, "asin": by_code.get(code)} for code in part])
            found.update({code: by_code.get(code) for code in part})
        return found

    async def _fresh(self, asins: Sequence[str]) -> dict[str, MarketResult]:
        if not asins or self._ttl.total_seconds() <= 0:
            return {}
        since = datetime.now(UTC) - self._ttl
        async with self._sessions() as session:
            rows = (await session.execute(
                select(market_snapshots.c.id, market_snapshots.c.asin, market_snapshots.c.snapshot)
                .where(market_snapshots.c.asin.in_(asins), market_snapshots.c.fetched_at >= since)
                .distinct(market_snapshots.c.asin)
                .order_by(market_snapshots.c.asin, market_snapshots.c.fetched_at.desc())
            )).all()
        return {r.asin: CachedSnapshot(r.id, market_snapshot_from_json(r.snapshot)) for r in rows}

    async def _fetch(self, asins: list[str], *, instant: bool) -> dict[str, MarketResult]:
        cost = len(asins) * self._client.tokens_per_product()
        try:
            async with self._budget.reservation(cost, instant=instant):
                response = await self._client.fetch_products(asins)
        except KeepaError as exc:
            log.warning("Keepa failed for %d ASINs: %s", len(asins), exc)
            return {a: MarketDataFailure(f"market data unavailable: {exc}") for a in asins}
        await self._budget.sync(response.tokens.tokens_left, response.tokens.refill_rate)
        self.fetched_products += len(response.products)
        products = {str(p.get("asin", "")).upper(): p for p in response.products}
        results: dict[str, MarketResult] = {}
        stored = await self._store([products[a] for a in asins if a in products])
        for asin in asins:
            results[asin] = stored.get(asin) or MarketDataFailure("Keepa returned no product")
        return results

    async def _store(self, products: list[dict[str, Any]]) -> dict[str, MarketResult]:
        if not products:
            return {}
        snapshots = [parse_keepa_product(p) for p in products]
        rows = [
            {"asin": s.asin, "keepa_last_update": s.last_update,
             "synthetic": bool(p.get("synthetic", False)), "snapshot": market_snapshot_to_json(s)}
            for s, p in zip(snapshots, products, strict=True)
        ]
        async with self._sessions() as session, session.begin():
            ids = (await session.execute(
                insert(market_snapshots).returning(market_snapshots.c.id, sort_by_parameter_order=True), rows)).scalars().all()
        return {s.asin: CachedSnapshot(i, s) for s, i in zip(snapshots, ids, strict=True)}

    async def purge_older_than(self, days: int) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=days)
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(market_snapshots).where(and_(market_snapshots.c.fetched_at < cutoff)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _asins_by_code(products: Sequence[dict[str, Any]], codes: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for product in products:
        listed = set(product.get("eanList") or []) | set(product.get("upcList") or [])
        for code in codes:
            if code in listed and product.get("asin"):
                found.setdefault(code, str(product["asin"]))
    return found
