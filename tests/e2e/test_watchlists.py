"""Watchlists through the whole stack: a watched book the engine does not recommend turns BUY
when the simulator's price for it rises; the scheduler re-analyses the list as a batch of the
owner, the alert is stored with the analysis before and after, and a signed alert.triggered
webhook arrives exactly once per alert. Alerts are edge-triggered: a run that finds the same
market raises none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import Stack
from tests.e2e.conftest import Seller, register
from tests.e2e.test_webhooks import (
    Receiver,
    assert_signed,
    create_webhook,
    eventually,
    receiver,
    started,
    webhook_stack_config,
)
from tests.helpers import isbn10s, items_for

__all__ = ["receiver"]  # the fixture, used by name
MONEY_RULES = {"min_profit", "min_roi_percent"}
CHEAP, DEAR = 1.0, 6.0
RISE = 3.0


@pytest.fixture(scope="module")
async def watch_stack(state_dir: Path) -> AsyncIterator[Stack]:
    config = webhook_stack_config(
        state_dir / "watchlists",
        gateway={"SCHEDULER_TICK_SECONDS": "0.5"},
    )
    # Every run fetches the market again: the simulator's price change is seen at once.
    config.service_env["analysis-service"] = {"MARKET_CACHE_TTL_SECONDS": "0"}
    async for system in started(config):
        yield system


@pytest.fixture
async def client(watch_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=watch_stack.gateway_url, timeout=60) as http:
        yield http


def failed_rules(analysis: dict[str, Any]) -> set[str]:
    return {r["rule"] for r in analysis["reasons"] if r["passed"] is False}


async def money_bound_book(seller: Seller) -> tuple[dict[str, Any], dict[str, Any]]:
    """A book that is a BUY at a low cost and not at a higher one only for the money rules
    (its demand and competition pass): (its analysis at the higher cost, one not BUY at all)."""
    books = isbn10s(80, seed=1601)
    cheap = await seller.submit(items_for(books, cost=CHEAP))
    dear = await seller.submit(items_for(books, cost=DEAR))
    for batch in (cheap, dear):
        assert (await seller.wait_terminal(batch["id"], 300))["status"] == "COMPLETED"
    at_cheap = {a["identifier"]: a for a in await seller.all_analyses(cheap["id"])}
    at_dear = {a["identifier"]: a for a in await seller.all_analyses(dear["id"])}
    bound = [
        a
        for i, a in at_dear.items()
        if at_cheap[i]["recommendation"] == "BUY"
        and a["recommendation"] == "PASS"
        and failed_rules(a) <= MONEY_RULES
        and a["asin"]
    ]
    never = [a for a in at_dear.values() if a["recommendation"] == "PASS" and a not in bound]
    assert bound and never, "the synthetic catalogue has such books (seeded)"
    return bound[0], never[0]


async def alerts_of(seller: Seller, watchlist_id: str) -> list[dict[str, Any]]:
    answer = await seller.get("/api/v1/alerts", params={"watchlist_id": watchlist_id})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


async def run_now(seller: Seller, watchlist_id: str) -> int:
    """Move the next run to now; the number of runs before it."""
    runs = (await seller.get(f"/api/v1/watchlists/{watchlist_id}/runs")).json()
    moved = await seller.patch(
        f"/api/v1/watchlists/{watchlist_id}", json={"next_run_at": datetime.now(UTC).isoformat()}
    )
    assert moved.status_code == 200, moved.text
    return len(runs)


async def evaluated_runs(seller: Seller, watchlist_id: str, count: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        runs = (await seller.get(f"/api/v1/watchlists/{watchlist_id}/runs")).json()
        done = [r for r in runs if r["evaluated_at"] is not None]
        return runs if len(done) >= count else None

    return await eventually(check, f"{count} evaluated runs of watchlist {watchlist_id}")  # type: ignore[no-any-return]


async def test_a_watched_book_turns_buy_when_its_price_rises(
    watch_stack: Stack, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    seller = await register(client)
    hook = await create_webhook(seller, receiver.url, ["alert.triggered"])
    book, unchanged = await money_bound_book(seller)

    created = await seller.post("/api/v1/watchlists", json={"name": "maybe later"})
    assert created.status_code == 201, created.text
    watchlist = created.json()
    assert watchlist["interval_minutes"] == 24 * 60 and watchlist["items"] == []
    threshold = round(book["sell_price"] * 1.5, 2)
    added = await seller.post(
        f"/api/v1/watchlists/{watchlist['id']}/items",
        json={
            "from_analysis": book["id"],
            "alert_on": [
                {"kind": "becomes_buy"},
                {"kind": "sell_price_above", "value": threshold},
            ],
        },
    )
    assert added.status_code == 201, added.text
    item = added.json()
    assert (item["identifier"], item["buy_cost"]) == (book["identifier"], DEAR)
    assert item["last_analysis"]["recommendation"] == "PASS"
    control = await seller.post(
        f"/api/v1/watchlists/{watchlist['id']}/items",
        json={"from_analysis": unchanged["id"]},
    )
    assert control.status_code == 201, control.text

    async with httpx.AsyncClient(base_url=watch_stack.keepa_base_url) as sim:
        rise = await sim.post("/_sim/prices", json={"asin": book["asin"], "factor": RISE})
        assert rise.status_code == 200, rise.text
    await run_now(seller, watchlist["id"])
    [run] = await evaluated_runs(seller, watchlist["id"], 1)
    assert run["batch_id"] and run["error"] is None

    found = await alerts_of(seller, watchlist["id"])
    assert sorted(a["kind"] for a in found) == ["becomes_buy", "sell_price_above"]
    for alert in found:
        assert alert["item_id"] == item["id"] and alert["batch_id"] == run["batch_id"]
        assert alert["before"]["id"] == book["id"] and alert["before"]["recommendation"] == "PASS"
        assert alert["after"]["recommendation"] == "BUY"
        assert alert["after"]["sell_price"] > threshold
        assert alert["after"]["batch_id"] == run["batch_id"]
    # The run is an ordinary batch of the seller's.
    batch = (await seller.get(f"/api/v1/batches/{run['batch_id']}")).json()
    assert batch["status"] == "COMPLETED" and batch["items_total"] == 2

    def delivered_alerts() -> list[Any]:
        got = receiver.of_type("alert.triggered")
        return got if len(got) >= 2 else []

    requests = await eventually(delivered_alerts, "two alert.triggered webhooks")
    assert len({r.headers["ArbitrageVault-Delivery"] for r in requests}) == len(requests) == 2
    for request in requests:
        assert_signed(request, hook["secret"])
    data = sorted((r.json["data"] for r in requests), key=lambda d: d["kind"])
    assert [d["alert_id"] for d in data] == [
        a["id"] for a in sorted(found, key=lambda a: a["kind"])
    ]
    assert data[0]["before"]["recommendation"] == "PASS"
    assert data[0]["after"]["recommendation"] == "BUY"
    assert data[0]["identifier"] == book["identifier"]

    # The list moved on a day; a second run over the same market raises nothing new.
    detail = (await seller.get(f"/api/v1/watchlists/{watchlist['id']}")).json()
    assert datetime.fromisoformat(detail["next_run_at"]) > datetime.now(UTC)
    assert {i["last_analysis"]["recommendation"] for i in detail["items"]} >= {"BUY"}
    await run_now(seller, watchlist["id"])
    await evaluated_runs(seller, watchlist["id"], 2)
    assert len(await alerts_of(seller, watchlist["id"])) == 2
    assert len(receiver.of_type("alert.triggered")) == 2


async def test_watchlist_input_is_checked(client: httpx.AsyncClient) -> None:
    seller, other = await register(client), await register(client)
    too_often = await seller.post("/api/v1/watchlists", json={"name": "x", "interval_minutes": 5})
    assert too_often.status_code == 422
    assert too_often.json()["errors"][0]["field"] == "interval_minutes"
    watchlist = (await seller.post("/api/v1/watchlists", json={"name": "x"})).json()
    path = f"/api/v1/watchlists/{watchlist['id']}/items"
    missing = await seller.post(path, json={"identifier": "0593655036"})
    assert missing.status_code == 422
    unknown = await seller.post(
        path, json={"from_analysis": "00000000-0000-4000-8000-000000000000"}
    )
    assert unknown.status_code == 404 and "from_analysis" in unknown.json()["detail"]
    valueless = await seller.post(
        path,
        json={"identifier": "0593655036", "buy_cost": 2, "alert_on": [{"kind": "profit_above"}]},
    )
    assert valueless.status_code == 422 and "alert_on" in valueless.json()["errors"][0]["field"]
    ok = await seller.post(
        path,
        json={
            "identifier": "978-0-593-65503-0",
            "buy_cost": 2.5,
            "alert_on": [{"kind": "roi_above", "value": 80}, {"kind": "amazon_leaves"}],
        },
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["last_analysis"] is None
    assert (await other.get(f"/api/v1/watchlists/{watchlist['id']}")).status_code == 404
    assert (
        await other.post(path, json={"identifier": "0593655036", "buy_cost": 1})
    ).status_code == 404
    assert (await seller.get("/api/v1/watchlists")).json()[0]["item_count"] == 1
    assert (await seller.delete(f"/api/v1/watchlists/{watchlist['id']}")).status_code == 204
    assert (await seller.get("/api/v1/watchlists")).json() == []
