"""The simulated token bucket, the test controls, and the command line."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import httpx
from keepa_harness import API_KEY, RunningSim


async def test_each_product_costs_a_token_and_the_bucket_refills(keepa_sim: RunningSim) -> None:
    await keepa_sim.control("tokens", {"tokens_left": 100, "refill_rate": 0})
    body = (await keepa_sim.product(asin="0593655036,0316769487,0316769487,B0ABCDEFGH")).json()
    assert body["tokensConsumed"] == 3  # duplicates are served and charged once
    assert body["tokensLeft"] == 97
    await keepa_sim.control("tokens", {"refill_rate": 20, "time_scale": 60})  # 20 tokens/s
    await asyncio.sleep(0.3)
    assert (await keepa_sim.stats())["tokens_left"] >= 100


async def test_empty_bucket_answers_429_with_refill_in(keepa_sim: RunningSim) -> None:
    await keepa_sim.control("tokens", {"tokens_left": 2, "refill_rate": 20, "time_scale": 1})
    response = await keepa_sim.product(asin="0316769487,0593655036,B0ABCDEFGH")
    assert response.status_code == 429
    body = response.json()
    assert "products" not in body and body["tokensConsumed"] == 0
    assert body["tokensLeft"] == 2 and body["refillRate"] == 20
    assert 0 < body["refillIn"] <= 3000  # at 20 tokens/min the next one is at most 3 s away
    requests = (await keepa_sim.stats())["requests"]
    assert [(r["status"], r["tokens_consumed"]) for r in requests] == [(429, 0)]


async def test_refill_rate_is_reported_per_real_minute(keepa_sim: RunningSim) -> None:
    body = (await keepa_sim.product(asin="0316769487")).json()
    assert body["refillRate"] == 20 * 60  # default: 20/min simulated 60x faster
    assert body["refillIn"] <= 50


async def test_faults_are_served_in_order_then_stop(keepa_sim: RunningSim) -> None:
    await keepa_sim.control("faults", {"status": 503, "count": 2})
    statuses = [(await keepa_sim.product(asin="0316769487")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    stats = await keepa_sim.stats()
    assert [r["tokens_consumed"] for r in stats["requests"]] == [0, 0, 1]
    assert stats["faults"] == []


async def test_bad_control_requests_say_why(keepa_sim: RunningSim) -> None:
    response = await keepa_sim.http.post("/_sim/faults", json={"count": 2})
    assert response.status_code == 422 and "status" in response.json()["error"]


async def test_reset_restores_the_bucket_and_clears_the_log(keepa_sim: RunningSim) -> None:
    await keepa_sim.control("tokens", {"tokens_left": 0, "refill_rate": 0})
    await keepa_sim.control("faults", {"delay_ms": 10, "count": 5})
    await keepa_sim.product(asin="0316769487")
    reset = await keepa_sim.control("reset")
    assert reset["tokens_left"] == 1200 and reset["refill_rate"] == 20
    stats = await keepa_sim.stats()
    assert stats["requests"] == [] and stats["faults"] == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_command_line_and_environment(samples_dir: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "KEEPA_SIM_SAMPLES_DIR": str(samples_dir),
        "KEEPA_SIM_REFILL_RATE": "5",
        "KEEPA_SIM_INITIAL_TOKENS": "3",
        "KEEPA_SIM_LOG_LEVEL": "warning",
    }
    cmd = [
        sys.executable,
        "-m",
        "keepa_sim",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--time-scale",
        "1",
    ]
    proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=asyncio.subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(200):
                try:
                    await http.get("/_sim/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            params = {"key": API_KEY, "domain": "1", "asin": "0593655036", "stats": "180"}
            body = (await http.get("/product", params=params)).json()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)
    assert body["products"][0]["title"].startswith("The Anxious Generation")
    assert body["refillRate"] == 5 and body["tokensLeft"] == 2
