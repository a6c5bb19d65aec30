"""Market data on a real PostgreSQL (the `analysis` schema, migrated) and the Keepa simulator over
TCP: what a batch line costs in tokens, and what a failing or refusing Keepa does to a chunk."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from keepa_harness import ClientFactory, RunningSim
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analysis_service.adapters.keepa_client import KeepaAccountError
from analysis_service.adapters.market_data import UNAVAILABLE, MarketData
from analysis_service.adapters.token_budget import TokenBudget
from analysis_service.application import ItemAnalysed, ItemFailed, analyse_items
from analysis_service.db.tables import identifier_lookups, market_snapshots
from av_shared.db import create_engine, create_session_factory
from av_shared.events import BusinessConfigSnapshot, ChunkItem
from av_shared.identifiers import isbn13_check_digit
from devstack import postgres
from devstack.stack import Stack, StackConfig

Sessions = async_sessionmaker[AsyncSession]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sessions(state_dir: Path) -> AsyncIterator[Sessions]:
    stack = Stack(
        StackConfig(
            state_dir=state_dir / f"market-{uuid.uuid4().hex[:6]}",
            fast=True,
            conventional_ports=False,
        )
    )
    try:
        await stack.start_postgres()
        await stack.migrate("analysis")
        engine = create_engine(
            postgres.service_url(stack.admin_url, "analysis"),
            schema="analysis",
            pool_size=5,
            app_name="market-data-test",
        )
        yield create_session_factory(engine)
        await engine.dispose()
    finally:
        await stack.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def market(sessions: Sessions, make_client: ClientFactory) -> MarketData:
    budget = TokenBudget(sessions, instant_reserve=0)
    await budget.ensure_row()
    client = make_client(on_tokens=budget.sync, max_retries=1)
    return MarketData(sessions=sessions, client=client, budget=budget, ttl=timedelta(hours=24))


def isbn979() -> str:
    body = f"979{random.randrange(10**9):09d}"  # a fresh book for every test: no cache hits
    return body + isbn13_check_digit(body)


def asin() -> str:
    return "B0" + "".join(random.choices("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", k=8))


def line(item_no: int, identifier: str, *, by_code: bool = False) -> ChunkItem:
    return ChunkItem(
        item_no=item_no,
        identifier=identifier,
        asin=None if by_code else identifier,
        buy_cost=Decimal("2.00"),
    )


CONFIG = BusinessConfigSnapshot()


async def test_a_979_isbn_costs_one_token_for_its_lookup_and_its_analysis(
    keepa_sim: RunningSim, market: MarketData, sessions: Sessions
) -> None:
    code, plain = isbn979(), asin()
    items = [line(0, code, by_code=True), line(1, plain), line(2, code, by_code=True)]
    outcomes = await analyse_items(market, items, CONFIG, instant=False)
    assert [type(o) for o in outcomes] == [ItemAnalysed] * 3
    first, _, again = (o for o in outcomes if isinstance(o, ItemAnalysed))
    assert first.row["asin"] == again.row["asin"] and first.row["asin"].startswith("B0")
    # The code lookup returned the product; it was kept, so only the plain ASIN was fetched.
    requests = (await keepa_sim.stats())["requests"]
    assert [(r["codes"], r["asins"]) for r in requests] == [([code], []), ([], [plain])]
    # A later batch with the same ISBN costs nothing at all.
    await analyse_items(market, [line(0, code, by_code=True)], CONFIG, instant=False)
    assert len((await keepa_sim.stats())["requests"]) == 2
    async with sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(market_snapshots)
            .where(market_snapshots.c.asin == first.row["asin"])
        )
    assert stored == 1


async def test_a_failing_code_lookup_fails_only_its_own_lines(
    keepa_sim: RunningSim, market: MarketData, sessions: Sessions
) -> None:
    code, plain = isbn979(), asin()
    await keepa_sim.control("faults", {"status": 503, "count": 2})  # the lookup and its retry
    outcomes = await analyse_items(
        market, [line(0, code, by_code=True), line(1, plain)], CONFIG, instant=False
    )
    failed, analysed = outcomes
    assert isinstance(failed, ItemFailed) and failed.retryable
    # The seller reads a generic reason; Keepa's own answer (a 503 here) goes to the logs only.
    assert failed.reason == UNAVAILABLE
    assert isinstance(analysed, ItemAnalysed) and analysed.row["asin"] == plain
    # Nothing is remembered of the failed lookup: the next batch asks Keepa again.
    async with sessions() as session:
        assert (
            await session.scalar(
                select(identifier_lookups.c.code).where(identifier_lookups.c.code == code)
            )
            is None
        )
    retried = await analyse_items(market, [line(0, code, by_code=True)], CONFIG, instant=False)
    assert isinstance(retried[0], ItemAnalysed)


async def test_a_refused_account_keeps_the_work_instead_of_failing_it(
    keepa_sim: RunningSim, market: MarketData, sessions: Sessions
) -> None:
    """HTTP 402 (subscription lapsed): not the books' fault. The chunk must stay queued (the
    error is transient), not turn every line into a stored failure."""
    wanted = [asin(), asin()]
    await keepa_sim.control("faults", {"status": 402, "count": 1})
    with pytest.raises(KeepaAccountError) as refused:
        await analyse_items(
            market, [line(n, a) for n, a in enumerate(wanted)], CONFIG, instant=False
        )
    assert refused.value.status_code == 402
    async with sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(market_snapshots)
            .where(market_snapshots.c.asin.in_(wanted))
        )
    assert stored == 0


async def test_products_a_simulator_made_up_are_not_reused_against_the_real_keepa(
    keepa_sim: RunningSim, market: MarketData, sessions: Sessions, make_client: ClientFactory
) -> None:
    """A database first used offline holds the simulator's synthetic books: once the service
    talks to Keepa itself, they must be fetched for real, not served from the cache."""
    book = asin()
    await market.snapshots([book], instant=False)
    await market.snapshots([book], instant=False)  # the cache: no second request
    assert len((await keepa_sim.stats())["requests"]) == 1
    real = MarketData(
        sessions=sessions,
        client=make_client(),
        budget=TokenBudget(sessions, instant_reserve=0),
        ttl=timedelta(hours=24),
        reuse_synthetic=False,
    )
    await real.snapshots([book], instant=False)
    assert len((await keepa_sim.stats())["requests"]) == 2
