"""Group commit of the rate limit (gateway.ratelimit.SharedCounter): concurrent requests of one
seller are counted by one statement at a time, and each is told its own place in the count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

from gateway.ratelimit import SharedCounter


class FakeCounterTable:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.statements = 0
        self.in_flight = self.most_in_flight = 0

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        table = self

        class Session:
            async def execute(self, _statement: Any, params: dict[str, Any]) -> Any:
                table.statements += 1
                table.in_flight += 1
                table.most_in_flight = max(table.most_in_flight, table.in_flight)
                await asyncio.sleep(0.001)  # the round trip: others gather meanwhile
                table.hits[params["subject"]] = table.hits.get(params["subject"], 0) + params["n"]
                table.in_flight -= 1
                row = SimpleNamespace(hits=table.hits[params["subject"]], seconds_left=30.0)
                return SimpleNamespace(one=lambda: row)

            async def commit(self) -> None:
                return None

        yield Session()


async def test_concurrent_requests_are_counted_together_and_exactly() -> None:
    table = FakeCounterTable()
    counter = SharedCounter(table.session)  # type: ignore[arg-type]
    states = await asyncio.gather(*(counter.count("user:a", 50, 60) for _ in range(80)))
    assert table.hits["user:a"] == 80
    assert table.statements < 80 and table.most_in_flight == 1
    # Each request has its own place: exactly 50 pass, exactly as if counted one by one.
    assert sorted(s.remaining for s in states) == [0] * 31 + list(range(1, 50))
    assert sum(not s.exceeded for s in states) == 50
    assert (await counter.count("user:b", 50, 60)).remaining == 49  # a count of its own


async def test_a_failed_statement_fails_its_requests_and_the_next_ones_are_counted() -> None:
    table = FakeCounterTable()
    calls = 0

    @asynccontextmanager
    async def flaky() -> AsyncIterator[Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")
        async with table.session() as session:
            yield session

    counter = SharedCounter(flaky)  # type: ignore[arg-type]
    try:
        await counter.count("user:a", 5, 60)
    except ConnectionError:
        pass
    else:
        raise AssertionError("the failure reaches the request")
    assert (await counter.count("user:a", 5, 60)).remaining == 4


# Local first (RATE_LIMIT_FLUSH_SECONDS > 0). The interval is long here so that no statement runs
# on its own during a test: `settle()` stands for an interval passing.
FOREVER = 3600.0


async def test_far_from_the_limit_a_request_waits_for_no_statement_and_the_limit_is_exact() -> None:
    table = FakeCounterTable()
    counter = SharedCounter(table.session, flush_seconds=FOREVER)  # type: ignore[arg-type]
    states = [await counter.count("user:a", 1000, 60) for _ in range(1100)]
    # The first request reads the count; then up to the exact zone (the last 100 of 1,000)
    # nothing waits for the database; the zone is counted one statement a request.
    assert counter.exact_zone(1000) == 100
    assert table.statements == 1 + 100
    assert [s.remaining for s in states[:1000]] == list(range(999, -1, -1))
    assert [s.exceeded for s in states] == [False] * 1000 + [True] * 100
    # Refusals past the limit are decided here too, and counted at the next statement.
    assert table.hits["user:a"] == 1000
    await counter.settle()
    assert table.hits["user:a"] == 1100


async def test_two_instances_hold_the_limit_while_each_sees_the_other_within_an_interval() -> None:
    table = FakeCounterTable()
    first, second = (
        SharedCounter(table.session, flush_seconds=FOREVER)  # type: ignore[arg-type]
        for _ in range(2)
    )
    admitted = 0
    for _ in range(20):  # rounds of 30 requests each, fewer than the exact zone of 100
        for counter in (first, second):
            states = [await counter.count("user:a", 1000, 60) for _ in range(30)]
            admitted += sum(not s.exceeded for s in states)
        await first.settle()
        await second.settle()
    assert admitted == 1000
    assert table.hits["user:a"] == 1200


async def test_a_small_limit_is_counted_one_statement_a_request() -> None:
    table = FakeCounterTable()
    counter = SharedCounter(table.session, flush_seconds=FOREVER)  # type: ignore[arg-type]
    states = [await counter.count("user:a", 8, 60) for _ in range(9)]
    # 8 is within the smallest exact zone (50): a statement each, but the ninth, past the limit
    # as counted by the eighth's statement, is refused here.
    assert table.statements == 8
    assert [s.remaining for s in states] == [7, 6, 5, 4, 3, 2, 1, 0, 0]


async def test_after_a_failed_statement_the_next_request_waits_for_the_database() -> None:
    table = FakeCounterTable()
    failing = False

    @asynccontextmanager
    async def flaky() -> AsyncIterator[Any]:
        if failing:
            raise ConnectionError("database away")
        async with table.session() as session:
            yield session

    counter = SharedCounter(flaky, flush_seconds=0.01)  # type: ignore[arg-type]
    await counter.count("user:a", 1000, 60)
    await counter.count("user:a", 1000, 60)  # decided here
    failing = True
    # Wait (bounded) until the background statement has failed and what it knew is dropped:
    # then a request does not pass on an unknown count, the failure reaches it.
    for _ in range(2000):
        try:
            await counter.count("user:a", 1000, 60)
        except ConnectionError:
            break
        await asyncio.sleep(0.005)
    else:
        raise AssertionError("no request waited for the database once it failed")
    failing = False
    assert not (await counter.count("user:a", 1000, 60)).exceeded
