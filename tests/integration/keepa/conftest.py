"""A Keepa simulator on a real TCP port for the whole session, reset before every test."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from keepa_harness import API_KEY, ClientFactory, RunningSim

from analysis_service.adapters.keepa_client import KeepaClient
from keepa_sim import SimConfig, create_app, default_samples_dir


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def keepa_sim() -> AsyncIterator[RunningSim]:
    app = create_app(SimConfig())  # defaults: the shared samples dir, 20 tokens/min at 60x
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # the OS picks a free port; handing uvicorn the socket avoids races
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # surfaces the startup error
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield RunningSim(url, http)
    server.should_exit = True
    await task


@pytest_asyncio.fixture(loop_scope="session", autouse=True)
async def _fresh_sim(request: pytest.FixtureRequest) -> None:
    if "keepa_sim" in request.fixturenames:
        sim: RunningSim = request.getfixturevalue("keepa_sim")
        await sim.control("reset")


@pytest_asyncio.fixture(loop_scope="session")
async def make_client(keepa_sim: RunningSim) -> AsyncIterator[ClientFactory]:
    """Clients on the simulator with fast backoff so retry tests take milliseconds."""
    clients: list[KeepaClient] = []

    def factory(**overrides: Any) -> KeepaClient:
        options: dict[str, Any] = {
            "base_url": keepa_sim.url,
            "api_key": API_KEY,
            "backoff_base_s": 0.01,
            "backoff_cap_s": 0.05,
            "read_timeout_s": 5.0,
            **overrides,
        }
        client = KeepaClient(**options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    path: Path = default_samples_dir()  # raises when the packaged samples are missing
    return path


@pytest.fixture(scope="session")
def recorded(samples_dir: Path) -> Callable[[str], dict[str, Any]]:
    cache: dict[str, dict[str, Any]] = {}

    def load(name: str) -> dict[str, Any]:
        if name not in cache:
            cache[name] = json.loads((samples_dir / name).read_text())
        return cache[name]

    return load


@pytest.fixture
def fixed_clock() -> Iterator[Callable[[], float]]:
    yield lambda: 1_760_409_339.0  # the recorded envelope's timestamp
