"""`python -m devstack.bench_keepa`: what a 1,000-item batch with 30% repeated ASINs costs in Keepa
tokens and requests, and how long it takes when tokens refill at a basic plan's 20 a minute.

The simulated Keepa refills 20 tokens per *simulated* minute at `--time-scale` simulated minutes
per real minute (600: 200 tokens per real second). The batch starts on a warm pipeline with an
empty bucket, so every token is waited for: the worst case (a full Keepa bucket holds an hour of
refill, 1,200 tokens). Two analysis-service instances share the budget. A benchmark, not a test:
it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from av_shared.identifiers import isbn10_check_digit

from .stack import REPO_ROOT, Stack, StackConfig

REFILL_PER_MINUTE = 20  # Keepa basic plan


def batch_items(items: int, repeated: float, seed: int) -> list[str]:
    """`items` identifiers of which `repeated` (a share) repeat an earlier one, shuffled so that
    repeats land in other chunks as well as in the same one."""
    rng = random.Random(seed)
    unique = items - round(items * repeated)
    books = sorted(
        {
            f"{n:09d}" + isbn10_check_digit(f"{n:09d}")
            for n in rng.sample(range(10**8, 10**9), unique)
        }
    )
    lines = books + [rng.choice(books) for _ in range(items - unique)]
    rng.shuffle(lines)
    return lines


async def login(http: httpx.AsyncClient) -> dict[str, str]:
    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "benchmark-password"
    (
        await http.post("/api/v1/auth/register", json={"email": email, "password": password})
    ).raise_for_status()
    token = await http.post("/api/v1/auth/token", data={"username": email, "password": password})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def submit_and_wait(
    http: httpx.AsyncClient, headers: dict[str, str], lines: list[str]
) -> dict[str, Any]:
    body = {"name": "bench-keepa", "items": [{"identifier": i, "buy_cost": 2.0} for i in lines]}
    accepted = await http.post("/api/v1/batches", json=body, headers=headers)
    accepted.raise_for_status()
    while True:
        batch = (await http.get(f"/api/v1/batches/{accepted.json()['id']}", headers=headers)).json()
        if batch["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return batch  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)


async def fetch_budget(stack: Stack) -> Any:
    conn = await asyncpg.connect(stack.admin_url)
    try:
        return await conn.fetchrow(
            "SELECT tokens_spent_total, requests_total, max_tokens "
            "FROM analysis.keepa_tokens WHERE id = 1"
        )
    finally:
        await conn.close()


async def run(stack: Stack, lines: list[str], start_tokens: int) -> None:
    async with (
        httpx.AsyncClient(base_url=stack.gateway_url, timeout=120) as http,
        httpx.AsyncClient(base_url=stack.keepa_base_url, timeout=30) as sim,
    ):
        headers = await login(http)
        # Warm-up, not measured: one book through the whole pipeline (consumers joined, Keepa's
        # bucket learned), then one more against a drained bucket, so that the budget learns
        # the bucket is (nearly) empty, as it would be after a long batch.
        warm_up = batch_items(2, 0.0, seed=-1)
        await submit_and_wait(http, headers, warm_up[:1])
        (await sim.post("/_sim/tokens", json={"tokens_left": start_tokens})).raise_for_status()
        await submit_and_wait(http, headers, warm_up[1:])
        stats = (await sim.get("/_sim/stats")).json()
        seen, start = len(stats["requests"]), stats["tokens_left"]
        before = await fetch_budget(stack)
        started, started_at = time.perf_counter(), time.time()
        batch = await submit_and_wait(http, headers, lines)
        wall = time.perf_counter() - started
        requests = (await sim.get("/_sim/stats")).json()["requests"][seen:]
        for request in requests:
            request["at"] -= started_at  # seconds after the submission
    after = await fetch_budget(stack)
    conn = await asyncpg.connect(stack.admin_url)
    try:
        per_instance = await conn.fetch(
            "SELECT processed_by, count(*) AS n FROM analysis.analyses WHERE batch_id = $1 "
            "GROUP BY processed_by ORDER BY processed_by",
            uuid.UUID(batch["id"]),
        )
    finally:
        await conn.close()
    budget = {
        "tokens": after["tokens_spent_total"] - before["tokens_spent_total"],
        "requests": after["requests_total"] - before["requests_total"],
        "bucket": after["max_tokens"],
    }
    report(lines, batch, wall, requests, budget, per_instance, stack.config.keepa_time_scale, start)


def report(
    lines: list[str],
    batch: dict[str, Any],
    wall: float,
    requests: list[dict[str, Any]],
    budget: dict[str, Any],
    per_instance: list[Any],
    time_scale: float,
    start: int,
) -> None:
    served = [r for r in requests if r["status"] == 200]
    fetched = Counter(a for r in served for a in r["asins"])
    tokens = sum(r["tokens_consumed"] for r in requests)
    statuses = Counter(r["status"] for r in requests)
    per_second = REFILL_PER_MINUTE * time_scale / 60
    print(
        f"batch: {len(lines)} items, {len(set(lines))} unique ASINs "
        f"({len(lines) - len(set(lines))} repeats); {batch['status']}, "
        f"{batch['items_processed']} analysed, {batch['items_failed']} failed"
    )
    print(
        f"keepa-sim: {tokens} tokens spent, {len(served)} requests served "
        f"(all requests by status: {dict(sorted(statuses.items()))}), "
        f"max {max((len(r['asins']) for r in requests), default=0)} ASINs per request, "
        f"{len(fetched)} ASINs fetched, {sum(fetched.values()) - len(fetched)} fetched twice"
    )
    print(
        f"budget (analysis.keepa_tokens): {budget['tokens']} tokens reserved, "
        f"{budget['requests']} requests, learned bucket {budget['bucket']:.0f}"
    )
    print("analysed by: " + ", ".join(f"{r['processed_by']} {r['n']}" for r in per_instance))
    if requests:
        print(
            f"Keepa requests from {requests[0]['at']:.1f} s to {requests[-1]['at']:.1f} s "
            f"after the submission (the rest of the wall time is the pipeline around them)"
        )
    bound = max(0, tokens - start) / per_second
    print(
        f"wall time: {wall:.1f} s at {REFILL_PER_MINUTE} tokens/simulated min x {time_scale:g} "
        f"= {per_second:g} tokens/real s, starting with {start} tokens in the bucket; the "
        f"refill alone needs {bound:.1f} s ({bound / wall:.0%} of the wall time)"
    )
    print(
        f"real Keepa at {REFILL_PER_MINUTE} tokens/min: {tokens / REFILL_PER_MINUTE:.0f} min "
        f"of refill for these tokens from an empty bucket "
        f"({max(0, tokens - start) / REFILL_PER_MINUTE:.0f} min with this start); the wall "
        f"time scaled back is {wall * time_scale / 60:.0f} min"
    )


async def bench(args: argparse.Namespace, state_dir: Path) -> None:
    stack = Stack(
        StackConfig(
            state_dir=state_dir,
            fast=True,
            conventional_ports=False,
            analysis_instances=args.analysis_instances,
            keepa_refill_rate=REFILL_PER_MINUTE,
            keepa_time_scale=args.time_scale,
            extra_env={"LOG_LEVEL": "WARNING"},
        )
    )
    try:
        await stack.start_infra()
        await stack.start_services()
        await stack.wait_ready()
        await run(stack, batch_items(args.items, args.repeated, args.seed), args.start_tokens)
    finally:
        await stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeated", type=float, default=0.30, help="share of repeated ASINs")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=600.0,
        help="simulated minutes per real minute (600: 200 tokens/real s)",
    )
    parser.add_argument("--start-tokens", type=int, default=0, help="bucket at the start")
    parser.add_argument("--analysis-instances", type=int, default=2)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    state_dir = Path(REPO_ROOT / ".devstack" / "bench-keepa")
    shutil.rmtree(state_dir, ignore_errors=True)  # a fresh database: no cached snapshots
    state_dir.mkdir(parents=True)
    state_dir.chmod(0o755)  # the PostgreSQL OS user must reach its data directory
    asyncio.run(bench(args, state_dir))


if __name__ == "__main__":
    main()
