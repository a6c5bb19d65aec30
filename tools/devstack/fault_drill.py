"""`python -m devstack.fault_drill`: recovery times with `make run`'s defaults, measured.

Starts the stack as `make run` does (same settings, supervised: a killed process is restarted),
with ANALYSIS_INSTANCES analysis processes and the Keepa simulator refilling KEEPA_RATE tokens a
second (by default its bucket holds one second of refill, so every batch is paced alike).
Runs one batch of LINES fresh books without a fault, then one batch per fault (SIGKILL of
an analysis instance, the batch service, the gateway, the broker with its log lost, a PostgreSQL
restart) injected when about half of the batch is analysed, then one batch with three faults
(analysis instance at ~25%, broker at ~60%, batch service at ~70%). Prints each batch's time to
COMPLETED beside the fault-free time and the bound (2x + 30 s for one fault, 3x + 60 s for
three). A measurement, not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx

from av_shared.identifiers import isbn10_check_digit

from .bench import login
from .stack import Stack, StackConfig

Fault = Callable[[], Awaitable[None]]


class Drill:
    def __init__(self, stack: Stack, lines: int) -> None:
        self.stack, self.lines = stack, lines
        self.next_isbn = 200_000_000

    async def analysed(self, batch_id: str) -> int:
        conn = await asyncpg.connect(self.stack.admin_url, timeout=5)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM analysis.analyses WHERE batch_id = $1",
                    uuid.UUID(batch_id),
                )
            )
        finally:
            await conn.close()

    async def until_analysed(self, batch_id: str, share: float) -> None:
        while True:
            try:
                if await self.analysed(batch_id) >= share * self.lines:
                    return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass  # PostgreSQL restarting
            await asyncio.sleep(0.05)

    async def crash(self, name: str) -> None:
        """SIGKILL; the supervisor restarts it, as in `make run`."""
        self.stack.processes[name].signal(signal.SIGKILL)

    async def restart_postgres(self) -> None:
        await self.stack.processes["postgres"].stop()
        await self.stack.start("postgres")

    async def batch(
        self, http: httpx.AsyncClient, headers: dict[str, str], faults: list[tuple[float, Fault]]
    ) -> tuple[float, dict[str, object]]:
        isbns = [
            f"{n:09d}" + isbn10_check_digit(f"{n:09d}")
            for n in range(self.next_isbn, self.next_isbn + self.lines)
        ]  # fresh books
        self.next_isbn += self.lines
        started = time.monotonic()
        accepted = await http.post(
            "/api/v1/batches",
            headers=headers,
            json={
                "name": "fault drill",
                "items": [{"identifier": i, "buy_cost": 2.0} for i in isbns],
            },
        )
        accepted.raise_for_status()
        batch_id = accepted.json()["id"]
        for share, fault in faults:
            await self.until_analysed(batch_id, share)
            await fault()
        while True:
            try:
                answer = await http.get(f"/api/v1/batches/{batch_id}", headers=headers)
                if answer.status_code == 200 and answer.json()["status"] in (
                    "COMPLETED",
                    "FAILED",
                    "CANCELLED",
                ):
                    return time.monotonic() - started, answer.json()
            except httpx.TransportError:
                pass  # the gateway restarting
            await asyncio.sleep(0.25)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--analysis-instances", type=int, default=2)
    parser.add_argument("--keepa-rate", type=int, default=100, help="tokens a second")
    parser.add_argument(
        "--bucket-seconds",
        type=int,
        default=1,
        help="Keepa bucket in seconds of refill, empty at start; 0: the "
        "simulator's own (an hour's, full)",
    )
    args = parser.parse_args()
    if args.bucket_seconds > 0:
        # Every batch bound by the same refill: a bucket of that many seconds' tokens, empty at
        # start (a full hour's bucket makes the first batches free and the later ones slower).
        os.environ.setdefault("KEEPA_SIM_MAX_TOKENS", str(args.keepa_rate * args.bucket_seconds))
        os.environ.setdefault("KEEPA_SIM_INITIAL_TOKENS", "0")
    state = Path(tempfile.mkdtemp(prefix="av-drill-"))
    os.chmod(state, 0o755)  # the PostgreSQL OS user must reach its data directory
    stack = Stack(
        StackConfig(
            state_dir=state,
            conventional_ports=False,
            analysis_instances=args.analysis_instances,
            keepa_refill_rate=args.keepa_rate,
            keepa_time_scale=60.0,
        )
    )  # rate a minute, x60
    drill = Drill(stack, args.lines)
    try:
        await stack.start_infra()
        await stack.start_services()
        await stack.wait_ready()
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as http:
            headers = await login(http)
            base, _ = await drill.batch(http, headers, [])
            print(
                f"fault-free: {args.lines} lines COMPLETED in {base:.1f} s "
                f"({args.analysis_instances} analysis instances, Keepa {args.keepa_rate} "
                "tokens/s)",
                flush=True,
            )
            one: list[tuple[str, Fault]] = [
                ("SIGKILL analysis-0", lambda: drill.crash("analysis-0")),
                ("SIGKILL batch-service", lambda: drill.crash("batch-service")),
                ("SIGKILL gateway", lambda: drill.crash("gateway")),
                ("SIGKILL broker (log lost)", lambda: drill.crash("broker")),
                ("PostgreSQL restart", drill.restart_postgres),
            ]
            for label, fault in one:
                await stack.wait_ready(timeout=600)
                took, batch = await drill.batch(http, headers, [(0.5, fault)])
                print(
                    f"{label:<28} {batch['status']} in {took:6.1f} s  bound "
                    f"{2 * base + 30:6.1f} s  ({took / base:.1f}x fault-free)",
                    flush=True,
                )
            await stack.wait_ready(timeout=600)
            took, batch = await drill.batch(
                http,
                headers,
                [
                    (0.25, lambda: drill.crash("analysis-0")),
                    (0.6, lambda: drill.crash("broker")),
                    (0.7, lambda: drill.crash("batch-service")),
                ],
            )
            print(
                f"{'all three in one batch':<28} {batch['status']} in {took:6.1f} s  bound "
                f"{3 * base + 60:6.1f} s  ({took / base:.1f}x fault-free)",
                flush=True,
            )
    finally:
        await stack.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
