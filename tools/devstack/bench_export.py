"""`make bench`: a batch's export and a page of its analyses, each beside its reference in the
same run:

- `GET /api/v1/batches/{id}/export` of a batch of `--items` lines (default 100,000: a batch of
  `--seed-items`, 500, analysed through the pipeline, its analyses cloned in SQL) as CSV
  (rows/s, median of `--runs`), beside PostgreSQL's own `COPY` of the same analysis rows (the
  same JSON arrays the analysis service streams) into nothing: the database's limit. The
  gateway's resident memory before and after shows whether the export streams at constant
  memory. Then the same batch as XLSX and the BUY lines as an InventoryLab Buy List (one run).
- `GET /api/v1/analyses?batch_id=...&size=500` (page 1 and a middle page, sequential requests,
  median and p90), beside the analysis service's own answer to the gateway and the raw SQL of
  the same page over asyncpg.

A benchmark, not a test: it prints figures; it exits non-zero only when the stack does not
start or the batch does not complete.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import Text, cast, func, select, text
from sqlalchemy.dialects import postgresql

from analysis_service.api.routes import EXPORT_FIELDS, EXPORT_FROM
from analysis_service.db.tables import analyses
from av_shared.internal_auth import ServiceTokens
from av_shared.pagination import MAX_OFFSET_ROWS

from .bench import login, unique_isbns
from .stack import REPO_ROOT, Stack, StackConfig


def rss_mb(pid: int | None) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines() if pid else []:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def submit_and_wait(
    http: httpx.AsyncClient, headers: dict[str, str], items: int
) -> tuple[str, float]:
    body = {
        "name": "bench-export",
        # Costs from 0.25 to 9.25: a mix of BUY, WATCH and PASS.
        "items": [
            {"identifier": isbn, "buy_cost": 0.25 + (n % 10)}
            for n, isbn in enumerate(unique_isbns(items))
        ],
    }
    started = time.perf_counter()
    accepted = await http.post("/api/v1/batches", json=body, headers=headers)
    accepted.raise_for_status()
    batch_id: str = accepted.json()["id"]
    while True:
        batch = (await http.get(f"/api/v1/batches/{batch_id}", headers=headers)).json()
        if batch["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            break
        await asyncio.sleep(1)
    elapsed = time.perf_counter() - started
    print(f"batch of {items:,} lines: {batch['status']} in {elapsed:.1f} s")
    if batch["status"] != "COMPLETED":
        raise RuntimeError(f"batch ended {batch['status']}")
    return batch_id, elapsed


async def clone_analyses(admin_url: str, batch_id: str, items: int) -> int:
    """Copies of the batch's analyses (new ids, item numbers past the last) until it has
    `items`: an export reads rows, so a large export needs no large pipeline run first."""
    conn = await asyncpg.connect(admin_url)
    try:
        columns = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'analysis' AND table_name = 'analyses' ORDER BY ordinal_position"
            )
        ]
        base = await conn.fetchval(
            "SELECT max(item_no) + 1 FROM analysis.analyses WHERE batch_id = $1",
            uuid.UUID(batch_id),
        )
        copies = -(-items // base) - 1
        chosen = {"id": "gen_random_uuid()", "item_no": f"item_no + n * {int(base)}"}
        values = ", ".join(chosen.get(c, f'"{c}"') for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        await conn.execute(
            f"INSERT INTO analysis.analyses ({names}) "
            f"SELECT {values} FROM analysis.analyses, generate_series(1, {copies}) AS n "
            f"WHERE batch_id = $1 AND item_no + n * {int(base)} < {items}",
            uuid.UUID(batch_id),
        )
        await conn.execute("ANALYZE analysis.analyses")
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM analysis.analyses WHERE batch_id = $1", uuid.UUID(batch_id)
            )
        )
    finally:
        await conn.close()


async def copy_reference(admin_url: str, batch_id: str) -> tuple[int, float]:
    """PostgreSQL's COPY of the export's rows (the same JSON arrays), read and dropped."""
    query = (
        select(cast(func.json_build_array(*EXPORT_FIELDS.values()), Text))
        .select_from(EXPORT_FROM)
        .where(text(f"batch_id = '{uuid.UUID(batch_id)}'"))
        .order_by(analyses.c.item_no)
    )
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    conn = await asyncpg.connect(admin_url)
    received = 0

    async def sink(chunk: bytes) -> None:
        nonlocal received
        received += chunk.count(b"\n")

    try:
        started = time.perf_counter()
        await conn.copy_from_query(sql, output=sink)
        return received, time.perf_counter() - started
    finally:
        await conn.close()


async def timed_get(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, str]
) -> tuple[float, int]:
    started = time.perf_counter()
    size = 0
    async with http.stream("GET", url, headers=headers, params=params) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            size += len(chunk)
    return time.perf_counter() - started, size


async def export_figures(
    stack: Stack,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    batch_id: str,
    args: argparse.Namespace,
) -> None:
    rows, copy_s = await copy_reference(stack.admin_url, batch_id)
    print(f"{'PostgreSQL COPY of the same rows (reference)':<52} {rows / copy_s:>9,.0f} rows/s")
    gateway = stack.processes["gateway"]
    before = rss_mb(gateway.pid)
    url = f"/api/v1/batches/{batch_id}/export"
    runs = [await timed_get(http, url, headers, {}) for _ in range(args.runs)]
    seconds = statistics.median(s for s, _ in runs)
    after = rss_mb(gateway.pid)
    print(
        f"{'GET .../export (CSV), median of ' + str(args.runs):<52} {rows / seconds:>9,.0f} "
        f"rows/s ({seconds:.2f} s, {runs[0][1] / 1e6:.1f} MB) -> {copy_s / seconds:.2f}x COPY; "
        f"gateway RSS {before:.0f} -> {after:.0f} MB"
    )
    seconds, size = await timed_get(http, url, headers, {"format": "xlsx"})
    print(
        f"{'GET .../export?format=xlsx':<52} {rows / seconds:>9,.0f} rows/s "
        f"({seconds:.2f} s, {size / 1e6:.1f} MB); gateway RSS {rss_mb(gateway.pid):.0f} MB"
    )
    seconds, size = await timed_get(http, url, headers, {"format": "inventorylab"})
    print(f"{'GET .../export?format=inventorylab (BUY lines)':<52} {seconds:.2f} s, {size:,} bytes")


def spread(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms, p90 {p90 * 1000:6.1f} ms"


async def page_figures(
    stack: Stack,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    batch_id: str,
    args: argparse.Namespace,
) -> None:
    owner = (await http.get("/api/v1/users/me", headers=headers)).json()["id"]
    tokens = ServiceTokens(stack.internal_auth_secret)
    conn = await asyncpg.connect(stack.admin_url)
    middle = max(1, min(args.items // 1000, MAX_OFFSET_ROWS // 500))  # offsets are capped
    try:
        for page in (1, middle):
            params = {"batch_id": batch_id, "size": "500", "page": str(page)}
            public, internal, raw = [], [], []
            for _ in range(args.page_requests):
                public.append((await timed_get(http, "/api/v1/analyses", headers, params))[0])
                internal.append(
                    (
                        await timed_get(
                            http,
                            f"{stack.analysis_url(0)}/internal/analyses",
                            tokens.header("analysis-service"),
                            {**params, "owner_id": owner},
                        )
                    )[0]
                )
                started = time.perf_counter()
                await conn.fetch(
                    "SELECT * FROM analysis.analyses WHERE batch_id = $1 AND owner_id = $2 "
                    "ORDER BY created_at DESC, id DESC OFFSET $3 LIMIT 500",
                    uuid.UUID(batch_id),
                    uuid.UUID(owner),
                    (page - 1) * 500,
                )
                raw.append(time.perf_counter() - started)
            print(f"GET /api/v1/analyses?batch_id=..&size=500&page={page}")
            print(f"  {'at the gateway':<42} {spread(public)}")
            print(f"  {'the analysis service alone':<42} {spread(internal)}")
            print(f"  {'raw SQL of the page, asyncpg (reference)':<42} {spread(raw)}")
    finally:
        await conn.close()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="CSV exports (median)")
    parser.add_argument(
        "--seed-items",
        type=int,
        default=500,
        help="lines analysed through the pipeline; their analyses are cloned up to --items",
    )
    parser.add_argument("--page-requests", type=int, default=30)
    args = parser.parse_args()
    state_dir = REPO_ROOT / ".devstack" / f"bench-export-{uuid.uuid4().hex[:8]}"
    stack = Stack(
        StackConfig(
            state_dir=state_dir,
            fast=True,
            conventional_ports=False,
            keepa_refill_rate=1_000_000,
            keepa_time_scale=60,
            extra_env={"LOG_LEVEL": "WARNING", "RATE_LIMIT_REQUESTS": "1000000000"},
        )
    )
    try:
        await stack.start_infra()
        await stack.start_services()
        await stack.wait_ready()
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=600) as http:
            headers = await login(http)
            batch_id, _ = await submit_and_wait(http, headers, min(args.items, args.seed_items))
            if args.items > args.seed_items:
                rows = await clone_analyses(stack.admin_url, batch_id, args.items)
                print(f"analyses of the batch cloned in SQL to {rows:,} rows")
            await export_figures(stack, http, headers, batch_id, args)
            await page_figures(stack, http, headers, batch_id, args)
    finally:
        await stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
