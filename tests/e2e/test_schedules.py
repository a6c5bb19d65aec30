"""Scheduled batches through a stack with two gateway instances, both running the scheduler:
a schedule runs on its interval, each run an ordinary batch of the owner linked to it, and no
due time is run twice (the scheduler's leader lock, and the run row unique per due time);
pause stops the runs, resume starts them from now; cron timing and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import Stack
from tests.e2e.conftest import Seller, register
from tests.e2e.test_webhooks import eventually, started, webhook_stack_config
from tests.helpers import admin_fetch, isbn10s, items_for


@pytest.fixture(scope="module")
async def two_gateways(state_dir: Path) -> AsyncIterator[Stack]:
    config = webhook_stack_config(
        state_dir / "schedules",
        gateways=2,
        gateway={"SCHEDULER_TICK_SECONDS": "0.3", "MIN_SCHEDULE_INTERVAL_MINUTES": "1"},
    )
    async for system in started(config):
        yield system


@pytest.fixture
async def client(two_gateways: Stack) -> AsyncIterator[httpx.AsyncClient]:
    # The seller talks to the second instance; both schedule.
    async with httpx.AsyncClient(base_url=two_gateways.gateway_instance_url(1), timeout=60) as h:
        yield h


async def runs(seller: Seller, schedule_id: str) -> list[dict[str, Any]]:
    answer = await seller.get(f"/api/v1/schedules/{schedule_id}/runs")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def at_least_runs(seller: Seller, schedule_id: str, count: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = await runs(seller, schedule_id)
        return found if len(found) >= count else None

    return await eventually(check, f"{count} runs of schedule {schedule_id}")  # type: ignore[no-any-return]


async def create(seller: Seller, **body: Any) -> dict[str, Any]:
    answer = await seller.post("/api/v1/schedules", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_a_schedule_runs_twice_and_each_due_time_once(
    two_gateways: Stack, client: httpx.AsyncClient
) -> None:
    seller = await register(client)
    lines = items_for(isbn10s(3, seed=1701), cost=2.5)
    schedule = await create(seller, name="weekly restock", items=lines, interval_minutes=1)
    assert schedule["config"] == "latest" and schedule["line_count"] == 3
    [ran] = (await at_least_runs(seller, schedule["id"], 1))[:1]
    current = (await seller.get(f"/api/v1/schedules/{schedule['id']}")).json()
    # The next due time is an interval after the first one ...
    interval = datetime.fromisoformat(current["next_run_at"]) - datetime.fromisoformat(
        ran["due_at"]
    )
    assert interval >= timedelta(minutes=1)
    # ... brought forward here rather than waited for: the second due time is now (and after
    # the first, which may have been less than a second ago).
    first_due = datetime.fromisoformat(ran["due_at"])
    soon = max(datetime.now(UTC) - timedelta(seconds=1), first_due + timedelta(milliseconds=1))
    await seller.patch(
        f"/api/v1/schedules/{schedule['id']}", json={"next_run_at": soon.isoformat()}
    )
    first, second = sorted(
        (await at_least_runs(seller, schedule["id"], 2))[:2], key=lambda r: r["due_at"]
    )
    assert first["due_at"] == ran["due_at"] and second["due_at"] > first["due_at"]
    for run in (first, second):
        assert run["batch_id"] and run["error"] is None
        batch = await seller.wait_terminal(run["batch_id"])
        assert batch["status"] == "COMPLETED" and batch["name"] == "weekly restock"
        analyses = await seller.all_analyses(run["batch_id"])
        assert sorted(a["identifier"] for a in analyses) == sorted(i["identifier"] for i in lines)
        assert {a["buy_cost"] for a in analyses} == {2.5}

    # Two instances ticked every 0.3 s all along: one batch per due time, no more.
    rows = await admin_fetch(
        two_gateways.admin_url,
        "SELECT due_at, count(*) AS n, count(batch_id) AS batches FROM gateway.scheduled_runs"
        " WHERE schedule_id = $1 GROUP BY due_at",
        schedule["id"],
    )
    assert rows and all(r["n"] == 1 and r["batches"] == 1 for r in rows)
    batches = (await seller.get("/api/v1/batches", params={"size": 100})).json()
    assert batches["total"] == len(rows)

    # Paused: the next due time passes without a run (shown by a later schedule running first).
    paused = await seller.patch(f"/api/v1/schedules/{schedule['id']}", json={"paused": True})
    assert paused.status_code == 200 and paused.json()["paused"] is True
    before = len(await runs(seller, schedule["id"]))
    await seller.patch(
        f"/api/v1/schedules/{schedule['id']}",
        json={"next_run_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()},
    )
    later = await create(seller, name="probe", items=lines[:1], interval_minutes=60)
    await at_least_runs(seller, later["id"], 1)
    assert len(await runs(seller, schedule["id"])) == before
    resumed = await seller.patch(f"/api/v1/schedules/{schedule['id']}", json={"paused": False})
    assert resumed.json()["paused"] is False
    assert datetime.fromisoformat(resumed.json()["next_run_at"]) > datetime.now(UTC)


async def test_cron_timing_and_bad_input(client: httpx.AsyncClient) -> None:
    seller = await register(client)
    lines = items_for(isbn10s(1, seed=1702))
    weekly = await create(seller, name="mondays", items=lines, cron="0 6 * * 1")
    upcoming = datetime.fromisoformat(weekly["next_run_at"])
    assert (upcoming.weekday(), upcoming.hour, upcoming.minute) == (0, 6, 0)
    assert timedelta(0) < upcoming - datetime.now(UTC) <= timedelta(days=7)
    listed = (await seller.get("/api/v1/schedules")).json()
    assert [s["id"] for s in listed] == [weekly["id"]]

    async def refused(body: dict[str, Any], field: str, status: int = 422) -> None:
        answer = await seller.post("/api/v1/schedules", json={"name": "x", "items": lines, **body})
        assert answer.status_code == status, answer.text
        assert field in answer.text, answer.text

    await refused({"cron": "every monday"}, "cron")
    await refused({"cron": "0 6 31 * *"}, "cron")  # not every month has a 31st
    await refused({"cron": "*/5 * * * *"}, "cron")  # more often than hourly
    await refused({"interval_minutes": 0}, "interval_minutes")
    await refused({"cron": "0 6 * * 1", "interval_minutes": 60}, "interval_minutes")
    await refused({}, "cron")
    await refused({"interval_minutes": 60, "config": 7}, "config", status=404)
    other = await register(seller.http)
    assert (await other.get(f"/api/v1/schedules/{weekly['id']}")).status_code == 404
    assert (await other.delete(f"/api/v1/schedules/{weekly['id']}")).status_code == 404
    assert (await seller.delete(f"/api/v1/schedules/{weekly['id']}")).status_code == 204
    assert (await seller.get("/api/v1/schedules")).json() == []
