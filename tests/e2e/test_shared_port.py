"""Scaling the gateway out on one machine without a balancer: several gateway processes listen
on one port (REUSE_PORT, SO_REUSEPORT) and the kernel spreads new connections over them. Each
answers as the only one would, and when one dies the others go on serving the port."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devstack.ports import listens
from devstack.stack import Stack, StackConfig
from tests.e2e.conftest import register


@pytest.fixture(scope="module")
async def shared_port(state_dir: Path) -> AsyncIterator[Stack]:
    system = Stack(
        StackConfig(
            state_dir=state_dir / "shared-port",
            fast=True,
            conventional_ports=False,
            gateway_instances=2,
            gateway_shared_port=True,
            partitions=3,
            keepa_refill_rate=1000,
        )
    )
    try:
        await system.start_infra()
        await system.start_services()
        await system.wait_ready()
        yield system
    finally:
        await system.stop()


def fresh_connections(stack: Stack) -> httpx.AsyncClient:
    """A client that opens a new connection per request: each one is the kernel's to place."""
    return httpx.AsyncClient(
        base_url=stack.gateway_url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    )


async def test_two_gateways_serve_one_port_and_one_dying_leaves_it_served(
    shared_port: Stack,
) -> None:
    port = shared_port.gateway_ports[0]
    assert shared_port.gateway_ports == [port, port]
    first, second = shared_port.processes["gateway"], shared_port.processes["gateway-1"]
    assert first.proc is not None and second.proc is not None
    assert listens(first.proc.pid, port) and listens(second.proc.pid, port)
    async with fresh_connections(shared_port) as http:
        seller = await register(http)
        for _ in range(20):
            me = await http.get("/api/v1/users/me", headers=seller.headers)
            assert me.status_code == 200, me.text
        # One process dies without a goodbye: the port stays served by the other one.
        os.kill(first.proc.pid, signal.SIGKILL)
        await first.proc.wait()
        for _ in range(20):
            me = await http.get("/api/v1/users/me", headers=seller.headers)
            assert me.status_code == 200, me.text
