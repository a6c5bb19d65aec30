"""`make bench`: what 1,000 open live-progress streams (SSE) cost one gateway instance, and how
long an event takes from the batch service to every stream.

A stack with one gateway and a Keepa simulator paced to about one chunk (100 books) a second, so
a batch runs for a minute and the batch service publishes a progress event about every second.
The same batch size runs twice on fresh books: once with no stream open (the reference), once
followed by N streams of one seller opened right after the submission. Figures: the gateway's
resident memory before and with the streams open, its CPU time over each batch, the time to
open the streams, and the delivery latency of every event to every stream: from the event's
`occurred_at` (written by the batch service, same machine and clock) to its arrival on the
stream, read back from the status topic by its id. The clients are raw asyncio sockets on the
same two cores. A benchmark, not a test: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from av_shared.events import BatchProgressed, parse_event
from av_shared.identifiers import isbn10_check_digit
from av_shared.topics import BATCH_STATUS
from gateway.streams.messages import stream_id

from .bench import login
from .stack import REPO_ROOT, Stack, StackConfig

TERMINAL = (b'"COMPLETED"', b'"FAILED"', b'"CANCELLED"')
ID_LINE = re.compile(rb"^id: (\d+)$", re.MULTILINE)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def isbns(first: int, count: int) -> list[str]:
    return [f"{n:09d}" + isbn10_check_digit(f"{n:09d}") for n in range(first, first + count)]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


@dataclass
class StreamClient:
    """One SSE stream over a raw socket (chunked transfer): when each event id arrived."""

    received: list[tuple[int, float]] = field(default_factory=list)
    ended: bool = False
    error: str | None = None
    refused: int = 0  # 503s answered while opening (retried a second later, as EventSource)
    opened_at: float = 0.0
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # open, or given up

    async def run(
        self, host: str, port: int, path: str, token: str, opening: asyncio.Semaphore
    ) -> None:
        try:
            while True:
                async with opening:
                    reader, writer = await asyncio.open_connection(host, port)
                    request = (
                        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}"
                        "\r\nAccept: text/event-stream\r\n\r\n"
                    )
                    writer.write(request.encode())
                    status = await reader.readline()
                    while (await reader.readline()) not in (b"\r\n", b""):
                        pass
                if b" 503 " in status:
                    self.refused += 1
                    writer.close()
                    await asyncio.sleep(1.0)
                    continue
                if b" 200 " not in status:
                    self.error = status.decode().strip()
                    return
                self.opened_at = time.time()
                self.settled.set()
                await self._read_chunks(reader)
                writer.close()
                return
        except OSError as exc:
            self.error = repr(exc)
        finally:
            self.settled.set()

    async def _read_chunks(self, reader: asyncio.StreamReader) -> None:
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                self.ended = True
                return
            chunk = await reader.readexactly(size + 2)
            now = time.time()
            for match in ID_LINE.finditer(chunk):
                self.received.append((int(match.group(1)), now))


async def submit(http: httpx.AsyncClient, headers: dict[str, str], books: list[str]) -> str:
    body = {"name": "streams", "items": [{"identifier": i, "buy_cost": 2.0} for i in books]}
    accepted = await http.post("/api/v1/batches", json=body, headers=headers)
    accepted.raise_for_status()
    return str(accepted.json()["id"])


async def wait_terminal(http: httpx.AsyncClient, headers: dict[str, str], batch_id: str) -> None:
    while True:
        batch = (await http.get(f"/api/v1/batches/{batch_id}", headers=headers)).json()
        if batch["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return
        await asyncio.sleep(0.5)


async def event_times(bootstrap: str, batch_id: str) -> dict[int, float]:
    """stream id -> occurred_at of the batch's BatchProgressed events, from the status topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        await consumer.topics()  # the metadata, with the topic's partitions
        partitions = sorted(consumer.partitions_for_topic(BATCH_STATUS.name) or ())
        parts = [TopicPartition(BATCH_STATUS.name, p) for p in partitions]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        found: dict[int, float] = {}
        while [p for p in parts if await consumer.position(p) < ends[p]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    value = record.value or b""
                    if record.key != batch_id.encode() or b"batch.progressed" not in value:
                        continue
                    event = parse_event(value)
                    assert isinstance(event, BatchProgressed)
                    sid = stream_id(event.status, event.items_processed, event.items_failed)
                    found.setdefault(sid, event.occurred_at.timestamp())
        return found
    finally:
        await consumer.stop()


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def run(args: argparse.Namespace) -> None:
    state_dir = REPO_ROOT / ".devstack" / f"bench-streams-{uuid.uuid4().hex[:8]}"
    stack = Stack(
        StackConfig(
            state_dir=state_dir,
            fast=True,
            conventional_ports=False,
            analysis_instances=1,
            # tokens a real second = refill * time scale / 60: about one chunk a second
            keepa_refill_rate=args.books_per_second * 60 // 10,
            keepa_time_scale=10,
            extra_env={"LOG_LEVEL": "WARNING", "RATE_LIMIT_REQUESTS": "0"},
        )
    )
    try:
        await stack.start_infra()
        await stack.start_services()
        await stack.wait_ready()
        gateway = stack.processes["gateway"].pid
        assert gateway is not None
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=120) as http:
            headers = await login(http)
            token = headers["Authorization"].split()[1]
            # Reference: the same work with no stream open.
            cpu0, t0 = cpu_seconds(gateway), time.perf_counter()
            reference = await submit(http, headers, isbns(200_000_000, args.items))
            await wait_terminal(http, headers, reference)
            ref_cpu, ref_wall = cpu_seconds(gateway) - cpu0, time.perf_counter() - t0
            rss_before = rss_mib(gateway)

            cpu0, t0 = cpu_seconds(gateway), time.perf_counter()
            batch_id = await submit(http, headers, isbns(300_000_000, args.items))
            clients = [StreamClient() for _ in range(args.streams)]
            opening = asyncio.Semaphore(args.open_concurrency)
            path = f"/api/v1/batches/{batch_id}/events"
            tasks = [
                asyncio.create_task(
                    client.run("127.0.0.1", stack.gateway_port, path, token, opening)
                )
                for client in clients
            ]
            await asyncio.gather(*(c.settled.wait() for c in clients))
            open_s = time.perf_counter() - t0
            rss_open = rss_mib(gateway)
            await asyncio.gather(*tasks)
            cpu, wall = cpu_seconds(gateway) - cpu0, time.perf_counter() - t0
            rss_after = rss_mib(gateway)
        times = await event_times(stack.bootstrap, batch_id)
    finally:
        await stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    report(
        args,
        clients,
        times,
        open_s,
        (rss_before, rss_open, rss_after),
        (ref_cpu, ref_wall),
        (cpu, wall),
    )


def report(
    args: argparse.Namespace,
    clients: list[StreamClient],
    times: dict[int, float],
    open_s: float,
    rss: tuple[float, float, float],
    reference: tuple[float, float],
    streamed: tuple[float, float],
) -> None:
    latencies: list[float] = []
    spreads: dict[int, list[float]] = {}
    all_open = max((c.opened_at for c in clients), default=0.0)
    for client in clients:
        for sid, at in client.received[1:]:  # the first message is the state read at connect
            # delivery with every stream open: events after the last stream opened
            if sid in times and times[sid] > all_open:
                latencies.append(at - times[sid])
                spreads.setdefault(sid, []).append(at)
    ended = sum(c.ended for c in clients)
    errors = [c.error for c in clients if c.error]
    messages = sum(len(c.received) for c in clients)
    fanout = [max(v) - min(v) for v in spreads.values() if len(v) > 1]
    print(
        f"{args.streams} SSE streams on one gateway, one batch of {args.items} books "
        f"({len(times)} progress/status events):"
    )
    print(
        f"  opened in {open_s:.1f} s ({args.open_concurrency} at a time; "
        f"{sum(c.refused for c in clients)} answers 503, retried); {ended} ended after the "
        f"terminal event; {messages} messages received; errors {len(errors)} {errors[:3] or ''}"
    )
    print(
        f"  gateway RSS {rss[0]:.0f} MiB before -> {rss[1]:.0f} MiB with the streams open "
        f"({(rss[1] - rss[0]) * 1024 / args.streams:.0f} KiB a stream) -> {rss[2]:.0f} MiB after"
    )
    ref_cpu, ref_wall = reference
    cpu, wall = streamed
    print(
        f"  gateway CPU: {ref_cpu:.1f} s over {ref_wall:.0f} s without streams "
        f"({100 * ref_cpu / ref_wall:.0f}% of a core); {cpu:.1f} s over {wall:.0f} s with "
        f"them ({100 * cpu / wall:.0f}%), opening included"
    )
    if latencies:
        print(
            f"  delivery latency, batch service event -> stream: p50 "
            f"{quantile(latencies, 50) * 1000:.0f} ms, p99 {quantile(latencies, 99) * 1000:.0f}"
            f" ms, max {max(latencies) * 1000:.0f} ms over {len(latencies)} deliveries; "
            f"first to last stream of one event: p50 {quantile(fanout, 50) * 1000:.0f} ms, "
            f"max {max(fanout) * 1000:.0f} ms (events after the last stream opened)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--books-per-second", type=int, default=100)
    parser.add_argument(
        "--open-concurrency", type=int, default=20, help="streams being opened at once"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
