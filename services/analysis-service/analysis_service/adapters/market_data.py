"""Market data for a set of ASINs: the snapshot cache first, then Keepa within the token budget.

One token per unique ASIN within the TTL: the same book twice in one batch, in two batches or for
two users is fetched once. Every fetched product is kept as a snapshot (cache and history).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.tables import identifier_lookups, market_snapshots
from ..domain import (
    MarketSnapshot,
    market_snapshot_from_json,
    market_snapshot_to_json,
    parse_keepa_product,
)
from .keepa_client import KeepaClient, KeepaError
from .token_budget import TokenBudget

log = logging.getLogger(__name__)
LOCK_NAMESPACE = "keepa-asin:"  # advisory lock key: hash of namespace + ASIN
LOCK_WAIT_SECONDS = 120
FETCH_ROUNDS = 3  # fetch, or wait for the worker fetching; retry what it failed; give up


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
        for _ in range(FETCH_ROUNDS):
            busy: list[str] = []
            for start in range(0, len(missing), size):
                fetched, elsewhere = await self._fetch(missing[start : start + size],
                                                       instant=instant)
                results.update(fetched)
                busy += elsewhere
            if not busy:
                break
            # Another worker is fetching these right now: wait for it and read its snapshots.
            # Whatever it did not get (Keepa failed it) is fetched here in the next round.
            await self._await_fetchers(busy)
            results.update(await self._fresh(busy))
            missing = [a for a in busy if a not in results]
        for asin in wanted:
            results.setdefault(asin, MarketDataFailure("market data unavailable: still being "
                                                       "fetched by another worker"))
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
                                                instant=instant) as grant:
                response = await self._client.lookup_codes(part)
                await self._budget.sync(response.tokens, grant)
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

    async def _fetch(
        self, asins: list[str], *, instant: bool
    ) -> tuple[dict[str, MarketResult], list[str]]:
        """One Keepa request for the ASINs no other worker is fetching; returns the results and
        the ASINs left to the others. Tokens are reserved first (that wait may be long), then
        the ASINs are locked for as long as the request and the storing of its snapshots take:
        the same book in two chunks analysed at once costs one token, not two."""
        per_product = self._client.tokens_per_product()
        async with (self._budget.reservation(len(asins) * per_product, instant=instant) as grant,
                    self._sessions() as session, session.begin()):
            mine = await _lock(session, asins)
            results: dict[str, MarketResult] = dict(await self._fresh(mine))  # fetched meanwhile
            todo = [a for a in mine if a not in results]
            await self._budget.refund(grant, (len(asins) - len(todo)) * per_product)
            if todo:
                try:
                    response = await self._client.fetch_products(todo)
                except KeepaError as exc:
                    log.warning("Keepa failed for %d ASINs: %s", len(todo), exc)
                    reason = f"market data unavailable: {exc}"
                    return results | {a: MarketDataFailure(reason) for a in todo}, []
                await self._budget.sync(response.tokens, grant)
                self.fetched_products += len(response.products)
                products = {str(p.get("asin", "")).upper(): p for p in response.products}
                results |= await self._store(session, [products[a] for a in todo if a in products])
                for asin in todo:
                    results.setdefault(asin, MarketDataFailure("Keepa returned no product"))
        return results, [a for a in asins if a not in mine]

    async def _await_fetchers(self, asins: list[str]) -> None:
        # A shared lock waits for the exclusive holder (the fetching worker) but not for other
        # waiters; the lock timeout bounds the wait should that worker hang.
        async with self._sessions() as session, session.begin():
            await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
            with contextlib.suppress(DBAPIError):
                await session.execute(text(
                    "SELECT pg_advisory_xact_lock_shared(hashtextextended(:ns || a, 0)) "
                    "FROM unnest(CAST(:asins AS text[])) AS a"),
                    {"ns": LOCK_NAMESPACE, "asins": asins})

    async def _store(
        self, session: AsyncSession, products: list[dict[str, Any]]
    ) -> dict[str, MarketResult]:
        if not products:
            return {}
        snapshots = [parse_keepa_product(p) for p in products]
        rows = [
            {"asin": s.asin, "keepa_last_update": s.last_update,
             "synthetic": bool(p.get("synthetic", False)), "snapshot": market_snapshot_to_json(s)}
            for s, p in zip(snapshots, products, strict=True)
        ]
        ids = (await session.execute(
            insert(market_snapshots).returning(market_snapshots.c.id,
                                               sort_by_parameter_order=True), rows)).scalars().all()
        return {s.asin: CachedSnapshot(i, s) for s, i in zip(snapshots, ids, strict=True)}

    async def purge_older_than(self, days: int) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=days)
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(market_snapshots).where(and_(market_snapshots.c.fetched_at < cutoff)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _lock(session: AsyncSession, asins: list[str]) -> list[str]:
    """The ASINs this transaction now holds the fetch lock of (held until it ends)."""
    locked = (await session.execute(text(
        "SELECT a FROM unnest(CAST(:asins AS text[])) AS a "
        "WHERE pg_try_advisory_xact_lock(hashtextextended(:ns || a, 0))"),
        {"ns": LOCK_NAMESPACE, "asins": asins})).scalars().all()
    held = set(locked)
    return [a for a in asins if a in held]


def _asins_by_code(products: Sequence[dict[str, Any]], codes: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for product in products:
        listed = set(product.get("eanList") or []) | set(product.get("upcList") or [])
        for code in codes:
            if code in listed and product.get("asin"):
                found.setdefault(code, str(product["asin"]))
    return found
