"""Fault tests: one stack of real processes, shared by the tests of a module, with the deadlines,
leases and timeouts of `make run` (nothing shortened: recovery must not wait for a deadline).
Each test runs its own batch of at least 2,000 items over two analysis-service instances, injects
its fault mid-batch, and checks the end state: COMPLETED, every item analysed exactly once, the
counters add up, no dead letters but the planted ones, and finished within a bound derived from
the same batch's fault-free time measured on the same stack."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from devstack.stack import Stack, StackConfig
from tests.e2e.conftest import Seller, register
from tests.helpers import isbn10s, items_for

BATCH_ITEMS = 2_000
SERVICES = ("gateway", "batch-service", "analysis-0", "analysis-1")
DEAD_LETTER_SQL = (
    "SELECT (SELECT count(*) FROM gateway.dead_letters) + "
    "(SELECT count(*) FROM batch.dead_letters) + "
    "(SELECT count(*) FROM analysis.dead_letters)"
)

# Only the log level differs from `make run`: the services' logs are kept for failures.
FAULT_ENV = {"LOG_LEVEL": "INFO"}


@pytest.fixture(scope="module")
async def fault_stack(state_dir: Path) -> AsyncIterator[Stack]:
    system = Stack(
        StackConfig(
            state_dir=state_dir / f"fault-{uuid.uuid4().hex[:6]}",
            fast=True,
            conventional_ports=False,
            analysis_instances=2,
            partitions=12,
            keepa_refill_rate=5000,
            keepa_time_scale=60,
            extra_env=dict(FAULT_ENV),
        )
    )
    try:
        await system.start_infra()
        await system.start_services()
        await system.wait_ready()
        yield system
    finally:
        await system.stop()
        keep = os.environ.get("FAULT_KEEP_LOGS")  # a directory: the services' logs are copied
        if keep:
            shutil.copytree(system.logs, Path(keep), dirs_exist_ok=True)


@pytest.fixture(scope="module")
async def fault_free_seconds(fault_stack: Stack) -> float:
    """The time a batch of BATCH_ITEMS fresh books takes on this stack without a fault: the
    recovery bounds are multiples of it (measured, not assumed: machines differ)."""
    async with httpx.AsyncClient(base_url=fault_stack.gateway_url, timeout=30) as http:
        batch = await FaultBatch(await register(http), Probe(fault_stack), seed=600).submit()
        await batch.assert_exactly_once()
    return batch.elapsed


def one_fault_bound(fault_free: float) -> float:
    """After any one fault a batch completes within twice its fault-free time plus 30 s."""
    return 2 * fault_free + 30


@pytest.fixture
async def stack(fault_stack: Stack) -> AsyncIterator[Stack]:
    """Every test starts with every component running (an earlier test may have failed mid-way)."""
    for process in fault_stack.processes.values():
        if process.pid is None:
            await process.start()
    await fault_stack.wait_ready()
    yield fault_stack


@pytest.fixture
async def seller(stack: Stack) -> AsyncIterator[Seller]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as http:
        yield await register(http)


class Probe:
    """Admin SQL on the shared database: what the services stored, read from outside."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    async def value(self, sql: str, *args: Any) -> Any:
        deadline = time.monotonic() + 60
        while True:  # the database itself may be restarting in a test
            try:
                conn = await asyncpg.connect(self.stack.admin_url, timeout=5)
                try:
                    return await conn.fetchval(sql, *args)
                finally:
                    await conn.close()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.stack.admin_url, timeout=5)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def dead_letters(self) -> int:
        return int(await self.value(DEAD_LETTER_SQL))

    async def analysed(self, batch_id: str) -> int:
        return int(
            await self.value(
                "SELECT count(*) FROM analysis.analyses WHERE batch_id = $1", uuid.UUID(batch_id)
            )
        )

    async def wait_analysed(self, batch_id: str, at_least: int, timeout: float = 360) -> int:
        """Until at least `at_least` analyses of the batch are stored: the batch is mid-way."""
        deadline = time.monotonic() + timeout
        while True:
            done = await self.analysed(batch_id)
            if done >= at_least:
                return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {done} analyses of {batch_id} after {timeout}s")
            await asyncio.sleep(0.05)


@pytest.fixture
def probe(stack: Stack) -> Probe:
    return Probe(stack)


class FaultBatch:
    """A batch of fresh books (not in any cache) submitted by one seller."""

    def __init__(self, seller: Seller, probe: Probe, seed: int, items: int = BATCH_ITEMS) -> None:
        self.seller, self.probe = seller, probe
        self.identifiers = isbn10s(items, seed=seed)
        self.id = ""
        self.dead_letters_before = 0
        self.submitted_at = 0.0
        self.elapsed = 0.0  # submission to the terminal status seen by the seller

    async def submit(self) -> FaultBatch:
        self.dead_letters_before = await self.probe.dead_letters()
        self.submitted_at = time.monotonic()
        accepted = await self.seller.submit(items_for(self.identifiers), name="fault batch")
        self.id = accepted["id"]
        assert accepted["items_total"] == len(self.identifiers)
        return self

    # Long enough for Tansu's slow group rejoin after a kill; a healthy run takes seconds.
    async def wait_terminal(self, timeout: float = 360) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                response = await self.seller.get(f"/api/v1/batches/{self.id}")
                if response.status_code == 200:
                    last = response.json()
                    if last["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                        self.elapsed = time.monotonic() - self.submitted_at
                        return last
            except httpx.TransportError:
                pass  # the gateway (or what it asks) may be restarting
            await asyncio.sleep(0.25)
        raise TimeoutError(f"batch {self.id} not terminal after {timeout}s: {last}")

    async def assert_exactly_once(
        self, *, planted_dead_letters: int = 0, timeout: float = 360, within: float | None = None
    ) -> dict[str, Any]:
        """COMPLETED (within `within` seconds of its submission, when given); one analysis per
        item, none twice; counters add up; no dead letter but the planted ones."""
        batch = await self.wait_terminal(timeout)
        if within is not None:
            assert self.elapsed <= within, (
                f"COMPLETED after {self.elapsed:.1f}s, bound {within:.1f}s",
                batch,
            )
        total = len(self.identifiers)
        assert batch["status"] == "COMPLETED", batch
        assert batch["items_total"] == total
        assert batch["items_processed"] + batch["items_failed"] == total, batch
        rows, distinct = (
            await self.probe.fetch(
                "SELECT count(*), count(DISTINCT item_no) FROM analysis.analyses"
                " WHERE batch_id = $1",
                uuid.UUID(self.id),
            )
        )[0]
        assert rows == distinct == total, (rows, distinct, total)
        assert batch["items_processed"] == total, batch
        # Planted poison is dead-lettered after its retries, maybe after the batch finished.
        deadline = time.monotonic() + 120
        while True:
            letters = await self.probe.dead_letters() - self.dead_letters_before
            if letters >= planted_dead_letters or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.25)
        assert letters == planted_dead_letters, (
            letters,
            "dead letters; planted:",
            planted_dead_letters,
        )
        return batch
