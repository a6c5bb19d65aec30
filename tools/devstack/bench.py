"""`make bench`: a 10,000-item batch through the gateway, items/s end to end, twice on a fresh
database: cold (every book fetched from the Keepa simulator, tokens unlimited: the simulator
making up 10,000 products is part of the time) and warm (the same books again, served from the
snapshot cache: the pipeline alone). Then p50/p99 of GET /api/v1/batches/{id} under 100
concurrent clients. A benchmark, not a test: it prints figures, it asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
import uuid

import httpx

from av_shared.identifiers import isbn10_check_digit

from .stack import REPO_ROOT, Stack, StackConfig


def unique_isbns(count: int) -> list[str]:
    return [
        f"{n:09d}" + isbn10_check_digit(f"{n:09d}") for n in range(100_000_000, 100_000_000 + count)
    ]


async def login(http: httpx.AsyncClient) -> dict[str, str]:
    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "benchmark-password"
    await http.post("/api/v1/auth/register", json={"email": email, "password": password})
    token = await http.post("/api/v1/auth/token", data={"username": email, "password": password})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def run_batch(
    http: httpx.AsyncClient, headers: dict[str, str], items: int, label: str
) -> tuple[str, float]:
    body = {
        "name": "bench",
        "items": [{"identifier": i, "buy_cost": 2.0} for i in unique_isbns(items)],
    }
    started = time.perf_counter()
    accepted = await http.post("/api/v1/batches", json=body, headers=headers)
    accepted.raise_for_status()
    accept_s = time.perf_counter() - started
    batch_id = accepted.json()["id"]
    while True:
        batch = (await http.get(f"/api/v1/batches/{batch_id}", headers=headers)).json()
        if batch["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            break
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    print(
        f"{label} batch of {items} items: {batch['status']} in {elapsed:.1f} s "
        f"(202 after {accept_s * 1000:.0f} ms) -> {items / elapsed:.0f} items/s end to end; "
        f"processed {batch['items_processed']}, failed {batch['items_failed']}"
    )
    return batch_id, elapsed


async def poll_latency(
    base_url: str, headers: dict[str, str], batch_id: str, clients: int, seconds: float
) -> None:
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30
    ) as http:

        async def client() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                response = await http.get(f"/api/v1/batches/{batch_id}")
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    errors[response.status_code] = errors.get(response.status_code, 0) + 1

        await asyncio.gather(*(client() for _ in range(clients)))
    q = statistics.quantiles(latencies, n=100)
    print(
        f"GET /api/v1/batches/{{id}}, {clients} concurrent clients, {seconds:.0f} s: "
        f"{len(latencies)} requests ({len(latencies) / seconds:.0f}/s), "
        f"p50 {q[49] * 1000:.1f} ms, "
        f"p99 {q[98] * 1000:.1f} ms, errors {sum(errors.values())} {errors or ''}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--analysis-instances", type=int, default=2)
    args = parser.parse_args()
    state_dir = REPO_ROOT / ".devstack" / f"bench-{uuid.uuid4().hex[:8]}"  # a cold cache
    stack = Stack(
        StackConfig(
            state_dir=state_dir,
            fast=True,
            conventional_ports=False,
            analysis_instances=args.analysis_instances,
            keepa_refill_rate=1_000_000,
            keepa_time_scale=60,
            # Capacity is measured, not the per-seller rate limit (1,200 requests/min by default).
            extra_env={"LOG_LEVEL": "WARNING", "RATE_LIMIT_REQUESTS": "0"},
            service_env={"gateway": {"DATABASE_POOL_SIZE": "50"}},
        )
    )
    try:
        await stack.start_infra()
        await stack.start_services()
        await stack.wait_ready()
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=120) as http:
            headers = await login(http)
            batch_id, _ = await run_batch(http, headers, args.items, "cold (Keepa fetches)")
            await run_batch(http, headers, args.items, "warm (snapshot cache)")
        await poll_latency(stack.gateway_url, headers, batch_id, args.clients, args.seconds)
    finally:
        await stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
