"""A batch's insights through the whole stack: every figure is worked out again here, by hand,
from the batch's own analyses (the lines a seller reads), and must be what the API answers; the
written summary comes from a local Chat Completions server (devstack.chat_sim) given the figures
alone, and the answer falls back to the figures when that server is down or slow."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from devstack.ports import free_port, wait_for_port
from devstack.stack import Stack
from devstack.supervisor import ManagedProcess, ProcessSpec
from tests.e2e.conftest import Seller, register
from tests.helpers import admin_fetch, isbn10s

SAMPLE_BOOK = "0593655036"  # a recorded Keepa product
LLM_KEY = "sk-insights-e2e-0123456789abcdef"
LLM_TIMEOUT = 3  # seconds, the gateway's INSIGHTS_LLM_TIMEOUT_SECONDS
GENEROUS = 60.0


def _lines(seed: int) -> list[dict[str, Any]]:
    """Cheap and dear copies of invented books and the recorded one: BUY, WATCH and PASS mixed."""
    books = isbn10s(9, seed=seed)
    costs = [0.5, 1.0, 2.0, 3.5, 5.0, 8.0, 12.0, 25.0, 60.0]
    lines: list[dict[str, Any]] = [
        {"identifier": b, "buy_cost": c} for b, c in zip(books, costs, strict=True)
    ]
    lines.append({"identifier": SAMPLE_BOOK, "buy_cost": 1.0, "quantity": 3})
    return lines


# -- the hand computation -------------------------------------------------------------------
def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def _round(value: Decimal, places: str) -> float:
    return float(value.quantize(Decimal(places), ROUND_HALF_UP))


@dataclasses.dataclass
class Line:
    rec: str
    units: int
    cash: Decimal
    profit: Decimal
    days: int | None


Stored = dict[int, dict[str, Any]]


async def _engine_totals(stack: Stack, batch_id: str) -> Stored:
    """The engine's totals of each line (copies, cash needed, profit, days to sell every copy),
    as stored: the analysis view shows them once the engine's view carries them (`_line`)."""
    rows = await admin_fetch(
        stack.admin_url,
        "SELECT item_no, quantity, total_cash_needed, total_profit, days_to_sell_all "
        "FROM analysis.analyses WHERE batch_id = $1",
        uuid.UUID(batch_id),
    )
    return {r["item_no"]: dict(r) for r in rows}


def _line(a: dict[str, Any], stored: Stored) -> Line:
    """One line with all its copies: the cost of every copy before it sells, its profit and the
    days to sell them; an analysis without totals: one copy's figures."""
    engine = {**stored[a["item_no"]], **a}
    units = int(engine["quantity"])
    cash = engine["total_cash_needed"]
    cash = _d(cash) if cash is not None else _d(a["buy_cost"]) * units
    profit = engine["total_profit"]
    if profit is None:
        profit = _d(a["profit"]) * units if a["profit"] is not None else 0
    days = engine["days_to_sell_all"]
    if days is None:
        days = a["expected_days_to_sell"]
    return Line(a["recommendation"], units, _d(cash), _d(profit), days)


def _cash_of_every_copy(a: dict[str, Any], quantity: int) -> Decimal:
    """What a seller adds up from the line: cost, sales tax, prep, inbound shipping, placement."""
    fees = a["fees"]
    per_copy = _d(a["buy_cost"]) + sum(
        (_d(fees.get(p) or 0) for p in ("sales_tax", "prep", "inbound_shipping",
                                        "inbound_placement_fee")),
        Decimal(0),
    )  # fmt: skip
    return per_copy * quantity


def _group(lines: list[Line], rec: str, analysed: int) -> dict[str, Any]:
    mine = [x for x in lines if x.rec == rec]
    cash = sum((x.cash for x in mine), Decimal(0))
    profit = sum((x.profit for x in mine), Decimal(0))
    dated = [x for x in mine if x.days is not None]
    dated_cash = sum((x.cash for x in dated), Decimal(0))
    return {
        "recommendation": rec,
        "lines": len(mine),
        "share_percent": _round(Decimal(len(mine) * 100) / analysed, "0.1"),
        "units": sum(x.units for x in mine),
        "cash_needed": _round(cash, "0.01"),
        "expected_profit": _round(profit, "0.01"),
        "roi_percent": _round(profit * 100 / cash, "0.01") if cash else None,
        "sell_through_days": max((x.days for x in dated if x.days is not None), default=None),
        "average_days_to_sell": (
            _round(sum((x.cash * (x.days or 0) for x in dated), Decimal(0)) / dated_cash, "0.1")
            if dated_cash
            else None
        ),
        "lines_without_estimate": len(mine) - len(dated),
    }


def _by_rule(analyses: list[dict[str, Any]], rec: str) -> list[dict[str, Any]]:
    mine = [a for a in analyses if a["recommendation"] == rec]
    counts: Counter[str] = Counter()
    for a in mine:
        counts.update(r["rule"] for r in a["reasons"] if r["passed"] is False)
        if a["outcome"] != "analysed":
            counts[a["outcome"]] += 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        {"rule": r, "lines": n, "share_percent": _round(Decimal(n * 100) / len(mine), "0.1")}
        for r, n in ordered
    ]


def _risks(analyses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flags: Counter[str] = Counter()
    buy: Counter[str] = Counter()
    for a in analyses:
        mine = list(a["risk_flags"])
        sales = a["estimated_monthly_sales"]
        if sales is not None and sales < 1:
            mine.append("few_sales")
        if a.get("season"):
            mine.append("seasonal")
        flags.update(mine)
        if a["recommendation"] == "BUY":
            buy.update(mine)
    return [
        {
            "risk": f,
            "lines": n,
            "buy_lines": buy[f],
            "share_percent": _round(Decimal(n * 100) / len(analyses), "0.1"),
        }
        for f, n in sorted(flags.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _picks(analyses: list[dict[str, Any]], stored: Stored) -> list[tuple[int, float]]:
    ranked = []
    for a in analyses:
        line = _line(a, stored)
        if line.rec == "BUY" and line.days is not None:
            ranked.append((-(line.profit / max(line.days, 1)), a["item_no"]))
    return [(n, _round(-per_day, "0.01")) for per_day, n in sorted(ranked)[:10]]


def _buy_rate_and_roi(analyses: list[dict[str, Any]], stored: Stored) -> tuple[float, float | None]:
    lines = [_line(a, stored) for a in analyses]
    buy = [x for x in lines if x.rec == "BUY"]
    cash = sum((x.cash for x in buy), Decimal(0))
    profit = sum((x.profit for x in buy), Decimal(0))
    rate = _round(Decimal(len(buy) * 100) / len(lines), "0.1")
    return rate, (_round(profit * 100 / cash, "0.01") if cash else None)


# -- the stack with a summary endpoint -------------------------------------------------------
@dataclasses.dataclass
class Narrated:
    gateway_url: str
    sim_url: str
    sim: ManagedProcess


@pytest.fixture(scope="module")
async def narrated(stack: Stack) -> AsyncIterator[Narrated]:
    """The local Chat Completions server, and one more gateway of the stack configured with it."""
    sim_port, gateway_port = free_port(), free_port()
    sim = ManagedProcess(
        ProcessSpec(
            "chat-sim",
            [sys.executable, "-m", "devstack.chat_sim", "--port", str(sim_port), "--api-key",
             LLM_KEY],
            log_file=stack.logs / "chat-sim.log",
            after_start=lambda: wait_for_port(sim_port, 30),
        )
    )  # fmt: skip
    base = stack.gateway_spec(0)
    gateway = ManagedProcess(
        dataclasses.replace(
            base,
            name="gateway-insights",
            env=base.env
            | {
                "GATEWAY_PORT": str(gateway_port),
                "INSTANCE_ID": "gateway-insights",
                "INSIGHTS_LLM_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
                "INSIGHTS_LLM_API_KEY": LLM_KEY,
                "INSIGHTS_LLM_MODEL": "sim-model",
                "INSIGHTS_LLM_TIMEOUT_SECONDS": str(LLM_TIMEOUT),
            },
            log_file=stack.logs / "gateway-insights.log",
            after_start=lambda: wait_for_port(gateway_port, 180),  # a busy machine
        )
    )
    try:
        await sim.start()
        await gateway.start()
        url = f"http://127.0.0.1:{gateway_port}"
        await _until_ready(url)
        yield Narrated(url, f"http://127.0.0.1:{sim_port}", sim)
    finally:
        await gateway.stop()
        await sim.stop()


async def _until_ready(url: str) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            try:
                if (await http.get(url + "/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} not ready"
            await asyncio.sleep(0.2)


async def _completed(seller: Seller, seed: int, name: str = "insights") -> dict[str, Any]:
    batch = await seller.submit(_lines(seed), name=name)
    done = await seller.wait_terminal(batch["id"], timeout=180)
    assert done["status"] == "COMPLETED", done
    return done


async def _insights(seller: Seller, batch_id: str, **params: Any) -> dict[str, Any]:
    answer = await seller.get(f"/api/v1/batches/{batch_id}/insights", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


# -- the tests -------------------------------------------------------------------------------
async def test_figures_match_a_hand_computation(seller: Seller, stack: Stack) -> None:
    earlier = await _completed(seller, seed=1512, name="earlier haul")
    batch = await _completed(seller, seed=1513, name="thrift haul")
    answer = await _insights(seller, batch["id"])
    analyses = sorted(await seller.all_analyses(batch["id"]), key=lambda a: a["item_no"])
    stored = await _engine_totals(stack, batch["id"])
    lines = [_line(a, stored) for a in analyses]
    figures = answer["figures"]

    assert (answer["status"], answer["complete"], answer["note"]) == ("COMPLETED", True, None)
    assert (figures["lines_analysed"], figures["lines_failed"]) == (len(analyses), 0) == (10, 0)
    assert figures["units"] == sum(x.units for x in lines) == 12
    for a, line, submitted in zip(analyses, lines, _lines(1513), strict=True):
        assert line.units == submitted.get("quantity", 1)
        if a["fees"]:
            assert line.cash == _cash_of_every_copy(a, line.units), a
    assert figures["totals"] == [_group(lines, r, len(lines)) for r in ("BUY", "WATCH", "PASS")]
    buy = {k: v for k, v in figures["buy"].items() if k != "sold_through_by"}
    expected_buy = _group(lines, "BUY", len(lines))
    for key in ("recommendation", "share_percent"):
        expected_buy.pop(key)
    assert buy == expected_buy
    buy_lines = [x for x in lines if x.rec == "BUY"]
    buy_cash = sum((x.cash for x in buy_lines), Decimal(0))
    for horizon in figures["buy"]["sold_through_by"]:
        sold = [x for x in buy_lines if x.days is not None and x.days <= horizon["days"]]
        cash = sum((x.cash for x in sold), Decimal(0))
        profit = sum((x.profit for x in sold), Decimal(0))
        assert horizon == {
            "days": horizon["days"],
            "cash_share_percent": _round(cash * 100 / buy_cash, "0.1") if buy_cash else 0.0,
            "expected_profit": _round(profit, "0.01"),
            "payout": _round(cash + profit, "0.01"),
        }
    assert figures["passed_because"] == _by_rule(analyses, "PASS")
    assert figures["watch_because"] == _by_rule(analyses, "WATCH")
    assert figures["risks"] == _risks(analyses)
    assert [(p["item_no"], p["profit_per_day"]) for p in figures["best_picks"]] == _picks(
        analyses, stored
    )
    compared = figures["compared_with_earlier"]
    rate, roi = _buy_rate_and_roi(analyses, stored)
    earlier_rate, earlier_roi = _buy_rate_and_roi(
        await seller.all_analyses(earlier["id"]), await _engine_totals(stack, earlier["id"])
    )
    assert (compared["batches"], compared["buy_rate_percent"], compared["roi_percent"]) == (
        1,
        rate,
        roi,
    )
    assert compared["earlier"] == [
        {
            "batch_id": earlier["id"],
            "lines": 10,
            "buy_rate_percent": earlier_rate,
            "roi_percent": earlier_roi,
        }
    ]
    assert compared["earlier_buy_rate_percent"] == earlier_rate
    # without an endpoint configured (the stack's own gateway): figures only, and why
    assert answer["narrative"] is None
    assert answer["narrative_error"].startswith("not configured")


async def test_a_running_batch_answers_its_figures_so_far(
    seller: Seller, other_seller: Seller
) -> None:
    lines = [{"identifier": i, "buy_cost": 2.0} for i in isbn10s(300, seed=1514)]
    batch = await seller.submit(lines)
    answer = await _insights(seller, batch["id"])
    assert answer["complete"] is False and answer["status"] in ("PENDING", "PROCESSING")
    assert answer["note"].endswith(f"of {len(lines)} lines analysed so far")
    assert answer["figures"]["lines_analysed"] <= len(lines)
    assert answer["narrative"] is None
    theirs = await other_seller.get(f"/api/v1/batches/{batch['id']}/insights")
    assert theirs.status_code == 404 and theirs.headers["content-type"] == (
        "application/problem+json"
    )
    done = await seller.wait_terminal(batch["id"], timeout=180)
    final = await _insights(seller, batch["id"], narrative="false")
    assert final["complete"] is True and final["note"] is None
    assert final["figures"]["lines_analysed"] == done["items_processed"] - done["items_failed"]
    assert final["narrative_error"] == "not requested (narrative=false)"


async def test_narrative_from_the_figures_alone(narrated: Narrated, stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=narrated.gateway_url, timeout=GENEROUS) as http:
        seller = await register(http)
        batch = await _completed(seller, seed=1515)
        async with httpx.AsyncClient(base_url=narrated.sim_url) as sim:
            await sim.delete("/_sim/requests")
            answer = await _insights(seller, batch["id"])
            [request] = (await sim.get("/_sim/requests")).json()
    assert answer["narrative_error"] is None
    buy = answer["figures"]["buy"]
    assert answer["narrative"].startswith(
        f"The BUY lines need ${buy['cash_needed']:,.2f} and should earn "
        f"${buy['expected_profit']:,.2f}"
    )
    body = json.loads(request["body"])
    assert set(body) == {"model", "messages"} and body["model"] == "sim-model"
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    sent = json.loads(user["content"])
    expected = dict(answer["figures"])
    expected["compared_with_earlier"]["earlier"] = [
        {k: v for k, v in b.items() if k != "batch_id"}
        for b in expected["compared_with_earlier"]["earlier"]
    ]
    assert sent == expected  # the figures and nothing else
    for secret in (seller.email, seller.token, batch["id"], stack.internal_auth_secret):
        assert secret not in request["body"]
        assert secret not in json.dumps(request["headers"])


async def test_summary_endpoint_down_or_slow_falls_back_to_the_figures(
    narrated: Narrated,
) -> None:
    async with httpx.AsyncClient(base_url=narrated.gateway_url, timeout=GENEROUS) as http:
        seller = await register(http)
        down_batch = await _completed(seller, seed=1516)
        slow_batch = await _completed(seller, seed=1517)
        await narrated.sim.stop()
        try:
            down = await _insights(seller, down_batch["id"])
        finally:
            await narrated.sim.start()
        async with httpx.AsyncClient(base_url=narrated.sim_url) as sim:
            await sim.post("/_sim/config", json={"delay_seconds": 60})
            try:
                started = time.monotonic()
                slow = await _insights(seller, slow_batch["id"])
                elapsed = time.monotonic() - started
            finally:
                await sim.post("/_sim/config", json={"delay_seconds": 0})
    assert down["narrative"] is None and down["narrative_error"].startswith("unreachable")
    assert down["figures"]["lines_analysed"] == 10
    assert slow["narrative"] is None
    assert slow["narrative_error"] == f"timeout: no summary within {LLM_TIMEOUT} s"
    assert slow["figures"]["lines_analysed"] == 10
    assert elapsed < LLM_TIMEOUT + 30  # bounded by the timeout, not by the server
