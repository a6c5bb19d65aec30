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
