"""Market data for a set of ASINs: the snapshot cache first, then Keepa within the token budget.

One token per unique ASIN within the TTL: the same book twice in one batch, in two batches or for
two users is fetched once. Every fetched product is kept as a snapshot (cache and history).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, true
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.tables import book_histories, identifier_lookups, market_snapshots
from ..domain import (
    MarketSnapshot,
    market_snapshot_from_json,
    market_snapshot_to_json,
    parse_keepa_product,
)
from ..domain.book_detection import keepa_says_book
from ..domain.book_history import history_from_product, history_to_json, snapshot_summary
from ..domain.keepa_format import keepa_minutes_to_datetime
from .keepa_client import KeepaAccountError, KeepaClient, KeepaError
from .token_budget import TokenBudget

log = logging.getLogger(__name__)
LOCK_NAMESPACE = "keepa-asin:"  # advisory lock key: hash of namespace + ASIN
# Waiting for another worker's fetch: in steps shorter than the driver's 60 s statement timeout,
# for at most this long in all (its Keepa call may wait for tokens).
LOCK_WAIT_STEP_SECONDS = 20
LOCK_WAIT_SECONDS = 900  # a batch chunk; an instant analysis waits INSTANT_LOCK_WAIT_SECONDS
INSTANT_LOCK_WAIT_SECONDS = 60
FETCH_ROUNDS = 3  # fetch, or wait for the worker fetching; retry what it failed; give up
# What a seller reads when Keepa failed: Keepa's own words name the operator's account, plan and
# infrastructure, none of which is the seller's business nor theirs to fix. The details are
# logged (warning) with the same count of items.
UNAVAILABLE = "market data unavailable; try again later"


@dataclass(frozen=True)
class CachedSnapshot:
    snapshot_id: int
    snapshot: MarketSnapshot


@dataclass(frozen=True)
class MarketDataFailure:
    reason: str
    # False: Keepa answered and there is nothing to analyse (no product for an ISBN); asking
    # again now would give the same answer.
    retryable: bool = True


MarketResult = CachedSnapshot | MarketDataFailure
CodeResult = str | MarketDataFailure  # the ASIN an ISBN-13/EAN resolves to, or why not


class MarketData:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        client: KeepaClient,
        budget: TokenBudget,
        ttl: timedelta,
        reuse_synthetic: bool = True,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._budget = budget
        self._ttl = ttl
        # Against the real Keepa, products a local simulator made up (a database first used
        # offline) are never served from the cache.
        self._reuse_synthetic = reuse_synthetic
        self.fetched_products = 0

    async def snapshots(self, asins: Iterable[str], *, instant: bool) -> dict[str, MarketResult]:
        wanted = list(dict.fromkeys(asins))  # requested once each, in order
        results: dict[str, MarketResult] = dict(await self._fresh(wanted))
        missing = [a for a in wanted if a not in results]
        size = self._client.max_batch_size()
        for _ in range(FETCH_ROUNDS):
            busy: list[str] = []
            for start in range(0, len(missing), size):
                fetched, elsewhere = await self._fetch(
                    missing[start : start + size], instant=instant
                )
                results.update(fetched)
                busy += elsewhere
            if not busy:
                break
            # Another worker is fetching these right now: wait for it and read its snapshots.
            # Whatever it did not get (Keepa failed it) is fetched here in the next round.
            await self._await_fetchers(
                busy, INSTANT_LOCK_WAIT_SECONDS if instant else LOCK_WAIT_SECONDS
            )
            results.update(await self._fresh(busy))
            missing = [a for a in busy if a not in results]
        for asin in wanted:
            results.setdefault(
                asin,
                MarketDataFailure("market data unavailable: still being fetched by another worker"),
            )
        return results

    async def resolve_codes(self, codes: Sequence[str], *, instant: bool) -> dict[str, CodeResult]:
        """ISBN-13s with no ISBN-10 (979...) → ASIN through Keepa's code lookup. A found ASIN is
        kept for good; "no product" for the cache TTL (Keepa may start tracking the book). The
        products the lookup returns are stored as snapshots, so analysing them costs no second
        token."""
        wanted = list(dict.fromkeys(codes))
        found = await self._known_codes(wanted)
        missing = [c for c in wanted if c not in found]
        size = self._client.max_batch_size()
        for start in range(0, len(missing), size):
            part = missing[start : start + size]
            try:
                async with self._budget.reservation(
                    len(part) * self._client.tokens_per_product(), instant=instant
                ) as grant:
                    response = await self._client.lookup_codes(part)
                    await self._budget.sync(response.tokens, grant)
            except KeepaAccountError:
                raise  # the account, not these books: the work waits
            except KeepaError as exc:
                log.warning("Keepa code lookup failed for %d codes: %s", len(part), exc)
                found.update({c: MarketDataFailure(UNAVAILABLE) for c in part})
                continue
            by_code = _asins_by_code(response.products, part)
            async with self._sessions() as session, session.begin():
                await self._store(
                    session, [_upper_asin(p) for p in response.products if p.get("asin")]
                )
                rows = [{"code": c, "asin": by_code.get(c)} for c in part]
                upsert = insert(identifier_lookups)  # looked_up_at: the database's now()
                await session.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["code"],
                        set_={"asin": upsert.excluded.asin, "looked_up_at": func.now()},
                    ),
                    rows,
                )
            found.update({c: by_code.get(c) or no_product(c) for c in part})
        return found

    async def _known_codes(self, codes: list[str]) -> dict[str, CodeResult]:
        lookups = identifier_lookups.c
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(identifier_lookups).where(
                        lookups.code.in_(codes),
                        lookups.asin.is_not(None)
                        | (lookups.looked_up_at >= func.now() - self._ttl),
                    )
                )
            ).all()
        return {r.code: r.asin or no_product(r.code) for r in rows}

    async def _fresh(self, asins: Sequence[str]) -> dict[str, MarketResult]:
        if not asins or self._ttl.total_seconds() <= 0:
            return {}
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        market_snapshots.c.id, market_snapshots.c.asin, market_snapshots.c.snapshot
                    )
                    .where(
                        market_snapshots.c.asin.in_(asins),
                        market_snapshots.c.fetched_at >= func.now() - self._ttl,
                        true()
                        if self._reuse_synthetic
                        else market_snapshots.c.synthetic.is_(False),
                    )
                    .ext(distinct_on(market_snapshots.c.asin))
                    .order_by(market_snapshots.c.asin, market_snapshots.c.fetched_at.desc())
                )
            ).all()
        return {r.asin: CachedSnapshot(r.id, market_snapshot_from_json(r.snapshot)) for r in rows}

    async def _fetch(
        self, asins: list[str], *, instant: bool
    ) -> tuple[dict[str, MarketResult], list[str]]:
        """One Keepa request for the ASINs no other worker is fetching; returns the results and
        the ASINs left to the others. Tokens are reserved first (that wait may be long), then
        the ASINs are locked for as long as the request and the storing of its snapshots take:
        the same book in two chunks analysed at once costs one token, not two."""
        per_product = self._client.tokens_per_product()
        async with (
            self._budget.reservation(len(asins) * per_product, instant=instant) as grant,
            self._sessions() as session,
            session.begin(),
        ):
            mine = await _lock(session, asins)
            results: dict[str, MarketResult] = dict(await self._fresh(mine))  # fetched meanwhile
            todo = [a for a in mine if a not in results]
            await self._budget.refund(grant, (len(asins) - len(todo)) * per_product)
            if todo:
                try:
                    response = await self._client.fetch_products(todo)
                except KeepaAccountError:
                    raise  # the account, not these books: the work waits
                except KeepaError as exc:
                    log.warning("Keepa failed for %d ASINs: %s", len(todo), exc)
                    return results | {a: MarketDataFailure(UNAVAILABLE) for a in todo}, []
                await self._budget.sync(response.tokens, grant)
                self.fetched_products += len(response.products)
                products = {
                    p["asin"]: p for p in map(_upper_asin, response.products) if p.get("asin")
                }
                results |= await self._store(session, [products[a] for a in todo if a in products])
                for asin in todo:
                    results.setdefault(
                        asin, MarketDataFailure("Keepa returned no product", retryable=False)
                    )
        return results, [a for a in asins if a not in mine]

    async def _await_fetchers(self, asins: list[str], seconds: float) -> None:
        """A shared lock waits for the exclusive holder (the fetching worker) but not for other
        waiters. In steps, each below the driver's statement timeout, up to `seconds` in all:
        should that worker hang, the caller fetches itself in its next round."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                async with self._sessions() as session, session.begin():
                    await session.execute(
                        text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_STEP_SECONDS}s'")
                    )
                    await session.execute(
                        text(
                            "SELECT pg_advisory_xact_lock_shared(hashtextextended(:ns || a, 0)) "
                            "FROM unnest(CAST(:asins AS text[])) AS a"
                        ),
                        {"ns": LOCK_NAMESPACE, "asins": asins},
                    )
                return
            except (DBAPIError, TimeoutError) as exc:
                if not _lock_timeout(exc):
                    raise

    async def _store(
        self, session: AsyncSession, products: list[dict[str, Any]]
    ) -> dict[str, MarketResult]:
        if not products:
            return {}
        snapshots = [parse_keepa_product(p) for p in products]
        rows = [
            {
                "asin": s.asin,
                "keepa_last_update": s.last_update,
                "synthetic": bool(p.get("synthetic", False)),
                "snapshot": market_snapshot_to_json(s),
            }
            for s, p in zip(snapshots, products, strict=True)
        ]
        # fetched_at: the database's clock as Keepa answered (not the transaction's start), so
        # every instance ages the cache by the same clock.
        ids = (
            (
                await session.execute(
                    insert(market_snapshots)
                    .values(fetched_at=func.clock_timestamp())
                    .returning(market_snapshots.c.id, sort_by_parameter_order=True),
                    rows,
                )
            )
            .scalars()
            .all()
        )
        stored: dict[str, MarketResult] = {
            s.asin: CachedSnapshot(i, s) for s, i in zip(snapshots, ids, strict=True)
        }
        await _keep_histories(session, products, stored)
        return stored

    async def purge_older_than(self, days: int) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(market_snapshots).where(
                    market_snapshots.c.fetched_at < func.now() - timedelta(days=days)
                )
            )
            await session.execute(
                delete(book_histories).where(
                    book_histories.c.fetched_at < func.now() - timedelta(days=days)
                )
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _keep_histories(
    session: AsyncSession, products: list[dict[str, Any]], stored: Mapping[str, MarketResult]
) -> None:
    """Each product's bounded history (domain/book_history) replaces the one kept for its ASIN,
    in the snapshot's transaction: the book endpoints read what the analyses used."""
    rows: dict[str, dict[str, Any]] = {}  # one row per ASIN: an upsert may touch a row once
    for product in products:
        history = history_from_product(product)
        cached = stored.get(history.asin) if history is not None else None
        if history is None or not isinstance(cached, CachedSnapshot):
            continue
        rows[history.asin] = {
            "asin": history.asin,
            "keepa_as_of": keepa_minutes_to_datetime(history.as_of),
            "title": cached.snapshot.title,
            "market_snapshot_id": cached.snapshot_id,
            "summary": snapshot_summary(cached.snapshot),
            "history": history_to_json(history),
        }
    if not rows:
        return
    upsert = insert(book_histories).values(fetched_at=func.clock_timestamp())
    replaced = ("fetched_at", "keepa_as_of", "title", "market_snapshot_id", "summary", "history")
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=["asin"], set_={c: upsert.excluded[c] for c in replaced}
        ),
        [rows[asin] for asin in sorted(rows)],  # one lock order: concurrent upserts never deadlock
    )


async def _lock(session: AsyncSession, asins: list[str]) -> list[str]:
    """The ASINs this transaction now holds the fetch lock of (held until it ends)."""
    locked = (
        (
            await session.execute(
                text(
                    "SELECT a FROM unnest(CAST(:asins AS text[])) AS a "
                    "WHERE pg_try_advisory_xact_lock(hashtextextended(:ns || a, 0))"
                ),
                {"ns": LOCK_NAMESPACE, "asins": asins},
            )
        )
        .scalars()
        .all()
    )
    held = set(locked)
    return [a for a in asins if a in held]


def _upper_asin(product: dict[str, Any]) -> dict[str, Any]:
    """Keepa's ASINs are upper case; a product that says otherwise is filed as upper case, or
    it would never match the request (nor the cache) again."""
    asin = str(product.get("asin") or "")
    return product if asin == asin.upper() else {**product, "asin": asin.upper()}


def no_product(code: str) -> MarketDataFailure:
    return MarketDataFailure(f"no Amazon product found for ISBN {code}", retryable=False)


def _asins_by_code(products: Sequence[dict[str, Any]], codes: Sequence[str]) -> dict[str, str]:
    """The product each code names: one listing the code in its EAN/UPC lists, a book first
    (an ISBN may also sit on a bundle or a non-book edition). When one code was asked and
    Keepa answered one product, that is it, whatever the product's lists say."""
    with_asin = [p for p in products if p.get("asin")]
    found: dict[str, str] = {}
    for code in codes:
        listing = [p for p in with_asin if code in _codes_of(p)]
        if listing:
            best = min(listing, key=lambda p: 0 if keepa_says_book(p) else 1)  # first book
            found[code] = str(best["asin"]).upper()
    if len(codes) == 1 and not found and len(with_asin) == 1:
        found[codes[0]] = str(with_asin[0]["asin"]).upper()
    return found


def _codes_of(product: dict[str, Any]) -> set[str]:
    listed: set[str] = set()
    for key in ("eanList", "upcList", "gtinList"):
        values = product.get(key)
        if isinstance(values, list):
            listed |= {str(v) for v in values} | {str(v).lstrip("0") for v in values}
    return listed


def _lock_timeout(exc: BaseException) -> bool:
    """PostgreSQL's lock_timeout (55P03) or the driver's own statement timeout."""
    if isinstance(exc, TimeoutError):
        return True
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "55P03" or "lock timeout" in str(exc)
