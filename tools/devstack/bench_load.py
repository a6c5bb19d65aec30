"""`python -m devstack.bench_load`: the gateway under load. 200 concurrent clients (each its own
seller) for 60 s mix batch submissions, status polls and analysis lists; prints throughput,
p50/p99 per kind of request and overall, and every error (non-2xx answer or transport error).

By default it starts its own stack (two analysis-service instances, the Keepa simulator with
unlimited tokens, quotas raised so that the load measures the system, not the limits);
`--gateway-url` runs it against a stack that is already up. A benchmark, not a test: it prints
figures and exits 1 only when there were errors.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from av_shared.identifiers import isbn10_check_digit

from .stack import REPO_ROOT, Stack, StackConfig

# Limits high enough that 200 clients measure the system: the rate limiter still counts every
# request in PostgreSQL (its cost is part of the figures), it just never says 429.
LOAD_ENV = {
    "LOG_LEVEL": "WARNING",
    "RATE_LIMIT_REQUESTS": "1000000",
    "AUTH_RATE_LIMIT_REQUESTS": "0",
    "DEFAULT_MAX_OPEN_BATCHES": "100000",
    "DEFAULT_MAX_ITEMS_PER_DAY": "100000000",
}
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    batches: list[tuple[dict[str, str], str]] = field(default_factory=list)
    items_submitted: int = 0

    def record(self, kind: str, seconds: float, error: str | None) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        if error is not None:
            self.errors[f"{kind}: {error}"] += 1


def random_isbn(rng: random.Random) -> str:
    first9 = f"{rng.randrange(10**9):09d}"
    return first9 + isbn10_check_digit(first9)


async def seller_headers(http: httpx.AsyncClient) -> dict[str, str]:
    email, password = f"load-{uuid.uuid4().hex[:12]}@example.com", "load-test-password"
    created = await http.post("/api/v1/auth/register", json={"email": email, "password": password})
    created.raise_for_status()
    token = await http.post("/api/v1/auth/token", data={"username": email, "password": password})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def client(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    results: Results,
    deadline: float,
    items_per_batch: int,
    seed: int,
) -> None:
    """One seller: submits a small batch now and then, polls its batches, lists analyses."""
    rng = random.Random(seed)
    mine: list[str] = []
    while time.perf_counter() < deadline:
        roll = rng.random()
        if roll < 0.1 or not mine:
            kind, method, path = "submit", "POST", "/api/v1/batches"
            body = {
                "name": "load",
                "items": [
                    {"identifier": random_isbn(rng), "buy_cost": 2.5}
                    for _ in range(items_per_batch)
                ],
            }
            expected = 202
        elif roll < 0.7:
            kind, method, path = "poll", "GET", f"/api/v1/batches/{rng.choice(mine)}"
            body, expected = None, 200
        else:
            kind, method, expected = "list", "GET", 200
            body = None
            path = "/api/v1/analyses?size=50" + (
                f"&batch_id={rng.choice(mine)}" if rng.random() < 0.5 else ""
            )
        started = time.perf_counter()
        error: str | None = None
        try:
            response = await http.request(method, path, json=body, headers=headers)
            if response.status_code != expected:
                error = f"{response.status_code} {response.text[:120]}"
            elif kind == "submit":
                mine.append(response.json()["id"])
                results.batches.append((headers, mine[-1]))
                results.items_submitted += items_per_batch
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        results.record(kind, time.perf_counter() - started, error)


def report(results: Results, seconds: float, clients: int) -> None:
    everything = [s for values in results.latencies.values() for s in values]
    total = len(everything)
    print(
        f"\n{clients} concurrent clients for {seconds:.0f} s: {total} requests, "
        f"{total / seconds:.0f} requests/s, errors {sum(results.errors.values())}"
    )
    for kind in ("submit", "poll", "list"):
        values = results.latencies.get(kind, [])
        if len(values) >= 2:
            q = statistics.quantiles(values, n=100)
            print(
                f"  {kind:<6} {len(values):>7} requests ({len(values) / seconds:>5.0f}/s)  "
                f"p50 {q[49] * 1000:7.1f} ms  p99 {q[98] * 1000:7.1f} ms"
            )
    if len(everything) >= 2:
        q = statistics.quantiles(everything, n=100)
        print(
            f"  {'all':<6} {total:>7} requests ({total / seconds:>5.0f}/s)  "
            f"p50 {q[49] * 1000:7.1f} ms  p99 {q[98] * 1000:7.1f} ms"
        )
    for error, count in results.errors.most_common(10):
        print(f"  error x{count}: {error}")


async def drain(http: httpx.AsyncClient, results: Results, timeout: float) -> None:
    """After the load: wait for the submitted batches to finish, report how they ended."""
    started = time.perf_counter()
    pending = list(results.batches)
    statuses: Counter[str] = Counter()
    while pending and time.perf_counter() - started < timeout:
        still = []
        for headers, batch_id in pending:
            batch = (await http.get(f"/api/v1/batches/{batch_id}", headers=headers)).json()
            if batch.get("status") in TERMINAL:
                statuses[batch["status"]] += 1
            else:
                still.append((headers, batch_id))
        pending = still
        if pending:
            await asyncio.sleep(1)
    statuses["unfinished"] = len(pending)
    print(
        f"  batches submitted {len(results.batches)} ({results.items_submitted} items): "
        f"{dict(statuses)} {time.perf_counter() - started:.0f} s after the load"
    )


async def run(
    base_url: str, clients: int, seconds: float, items_per_batch: int, drain_seconds: float
) -> Results:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        setup = asyncio.Semaphore(20)

        async def signed_up() -> dict[str, str]:
            async with setup:
                return await seller_headers(http)

        sellers = await asyncio.gather(*(signed_up() for _ in range(clients)))
        results = Results()
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                client(http, headers, results, deadline, items_per_batch, n)
                for n, headers in enumerate(sellers)
            )
        )
        report(results, seconds, clients)
        if drain_seconds > 0:
            await drain(http, results, drain_seconds)
    return results


async def wait_ready(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        for _ in range(600):
            try:
                if (await http.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("gateway not ready")


async def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.bench_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--items-per-batch", type=int, default=10)
    parser.add_argument("--analysis-instances", type=int, default=2)
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=120.0,
        help="wait this long for the submitted batches to finish (0: do not)",
    )
    parser.add_argument("--gateway-url", help="use a running stack instead of starting one")
    args = parser.parse_args()
    stack: Stack | None = None
    base_url = args.gateway_url
    try:
        if base_url is None:
            stack = Stack(
                StackConfig(
                    state_dir=Path(REPO_ROOT / ".devstack" / "bench-load"),
                    fast=True,
                    conventional_ports=False,
                    analysis_instances=args.analysis_instances,
                    keepa_refill_rate=1_000_000,
                    keepa_time_scale=60,
                    extra_env=dict(LOAD_ENV),
                    # 200 requests in flight: a pool of 20 makes the later ones wait for a
                    # connection (30 s, then an error) rather than for the CPU.
                    service_env={"gateway": {"DATABASE_POOL_SIZE": "50"}},
                )
            )
            await stack.start_infra()
            await stack.start_services()
            base_url = stack.gateway_url
        await wait_ready(base_url)
        results = await run(
            base_url, args.clients, args.seconds, args.items_per_batch, args.drain_seconds
        )
    finally:
        if stack is not None:
            await stack.stop()
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
