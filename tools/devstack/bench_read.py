"""`make bench`: the read path under load, measured with `wrk` (2 threads x 100 connections,
15 s each) beside a bare FastAPI route (`devstack.bare_app`: the same Python and uvicorn, another
port) in the same run:

- `GET /api/v1/batches/{id}` with a JWT, then with an API key;
- `GET /api/v1/users/me` (authentication and the rate limit alone, no internal call);
- `GET /api/v1/analyses?batch_id=...&size=100`.

The rate limit is on (its code path is measured) but set high enough that the load is not
refused: at the default 1,200 requests/min almost every request would be a 429. A benchmark, not
a test: it prints req/s, p99 and the ratio to the bare route; it exits non-zero only when `wrk`
is missing or the stack does not start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from .bench import login, unique_isbns
from .ports import free_port, wait_for_port
from .stack import PYTHON, REPO_ROOT, Stack, StackConfig


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p99_ms: float
    non_2xx: int
    errors: str

    def line(self) -> str:
        extra = f", non-2xx {self.non_2xx}" if self.non_2xx else ""
        extra += f", socket errors: {self.errors}" if self.errors else ""
        return f"{self.requests_per_s:8.0f} req/s, p99 {self.p99_ms:7.1f} ms{extra}"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


async def wrk(url: str, headers: dict[str, str], args: argparse.Namespace) -> WrkResult:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    process = await asyncio.create_subprocess_exec(*command, url, stdout=subprocess.PIPE)
    out = (await process.communicate())[0].decode()
    if process.returncode:
        raise RuntimeError(f"wrk exited with {process.returncode}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:\s+(.*)", out)
    return WrkResult(
        rps, p99, int(non_2xx.group(1)) if non_2xx else 0, errors.group(1).strip() if errors else ""
    )


async def profile(stack: Stack, seconds: int) -> dict[str, list[tuple[str, float]]]:
    """py-spy (when installed) on each service during a run: its hottest frames by own time."""
    spy = shutil.which("py-spy", path=f"{Path(PYTHON).parent}:{os.environ.get('PATH', '')}")
    if spy is None:
        return {}
    running = {}
    for name, process in stack.processes.items():
        if process.pid is None or not any(s in name for s in ("gateway", "batch", "analysis")):
            continue
        out = stack.config.state_dir / f"profile-{name}.txt"
        running[name] = (
            out,
            await asyncio.create_subprocess_exec(
                spy,
                "record",
                "--nonblocking",
                "-r",
                "50",
                "-d",
                str(seconds),
                "-f",
                "raw",
                "-o",
                str(out),
                "-p",
                str(process.pid),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        )
    summary: dict[str, list[tuple[str, float]]] = {}
    for name, (out, spying) in running.items():
        await spying.wait()
        summary[name] = _hottest(out)
    return summary


def _hottest(raw: Path) -> list[tuple[str, float]]:
    own: Counter[str] = Counter()
    for line in raw.read_text().splitlines() if raw.exists() else []:
        stack_text, _, count = line.rpartition(" ")
        own[stack_text.split(";")[-1]] += int(count)
    total = sum(own.values()) or 1
    return [(frame, n / total) for frame, n in own.most_common(8)]


def report(label: str, result: WrkResult, bare: WrkResult) -> None:
    print(
        f"{label:<48} {result.line()}   -> {result.requests_per_s / bare.requests_per_s:.2f}x "
        f"bare req/s, p99 {result.p99_ms / bare.p99_ms:.1f}x bare"
    )


async def prepare(stack: Stack, items: int) -> tuple[dict[str, str], dict[str, str], str]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=120) as http:
        jwt_headers = await login(http)
        created = await http.post("/api/v1/api-keys", json={"name": "bench"}, headers=jwt_headers)
        created.raise_for_status()
        key_headers = {"X-API-Key": created.json()["key"]}
        body = {
            "name": "bench-read",
            "items": [{"identifier": i, "buy_cost": 2.0} for i in unique_isbns(items)],
        }
        accepted = await http.post("/api/v1/batches", json=body, headers=jwt_headers)
        accepted.raise_for_status()
        batch_id = accepted.json()["id"]
        for _ in range(600):
            batch = (await http.get(f"/api/v1/batches/{batch_id}", headers=jwt_headers)).json()
            if batch["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                break
            await asyncio.sleep(0.2)
        print(f"batch of {items} items: {batch['status']}")
        return jwt_headers, key_headers, batch_id


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument(
        "--gateways",
        type=int,
        default=1,
        help="gateway processes sharing the port (REUSE_PORT): scaling out on one machine",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy each service during the JWT run (own time per frame)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "bench_read: `wrk` is missing: install it (Debian: apt-get install -y wrk)",
            file=sys.stderr,
        )
        return 2
    state_dir = REPO_ROOT / ".devstack" / f"bench-read-{uuid.uuid4().hex[:8]}"
    stack = Stack(
        StackConfig(
            state_dir=state_dir,
            fast=True,
            conventional_ports=False,
            keepa_refill_rate=1_000_000,
            keepa_time_scale=60,
            gateway_instances=args.gateways,
            gateway_shared_port=args.gateways > 1,
            # The rate limit counts every request (its code path is measured) but never refuses.
            extra_env={"LOG_LEVEL": "WARNING", "RATE_LIMIT_REQUESTS": "1000000000"},
        )
    )
    bare_port = free_port()
    bare = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "devstack.bare_app", str(bare_port), cwd=REPO_ROOT / "tools"
    )
    try:
        await stack.start_infra()
        await stack.start_services()
        await stack.wait_ready()
        await wait_for_port(bare_port, 30)
        jwt_headers, key_headers, batch_id = await prepare(stack, args.items)
        base = stack.gateway_url
        print(
            f"wrk: {args.threads} threads x {args.connections} connections, {args.seconds} s each"
            f"; {args.gateways} gateway process(es) on one port"
        )
        reference = await wrk(f"http://127.0.0.1:{bare_port}/bare", {}, args)
        print(f"{'bare FastAPI route (reference)':<48} {reference.line()}")
        profiled = asyncio.create_task(profile(stack, args.seconds - 2)) if args.profile else None
        report(
            "GET /api/v1/batches/{id}, JWT",
            await wrk(f"{base}/api/v1/batches/{batch_id}", jwt_headers, args),
            reference,
        )
        if profiled is not None:
            for name, frames in (await profiled).items():
                print(f"  profile of {name} (own time, py-spy):")
                for frame, share in frames:
                    print(f"    {share * 100:5.1f}%  {frame}")
        report(
            "GET /api/v1/batches/{id}, API key",
            await wrk(f"{base}/api/v1/batches/{batch_id}", key_headers, args),
            reference,
        )
        report(
            "GET /api/v1/users/me (auth + rate limit alone), JWT",
            await wrk(f"{base}/api/v1/users/me", jwt_headers, args),
            reference,
        )
        report(
            "GET /api/v1/analyses?batch_id=..&size=100, JWT",
            await wrk(f"{base}/api/v1/analyses?batch_id={batch_id}&size=100", jwt_headers, args),
            reference,
        )
    finally:
        bare.terminate()
        await bare.wait()
        await stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
