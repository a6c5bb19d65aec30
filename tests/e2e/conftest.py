from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import Stack, StackConfig


@pytest.fixture(scope="session")
async def stack(state_dir: Path) -> AsyncIterator[Stack]:
    """The whole system, every service its own OS process, shared by the e2e tests."""
    system = Stack(
        StackConfig(
            state_dir=state_dir / "e2e",
            fast=True,
            conventional_ports=False,
            analysis_instances=2,
            partitions=12,
            keepa_refill_rate=1000,
            keepa_time_scale=60,
            extra_env={"CHUNK_DEADLINE_SECONDS": "120", "LOG_LEVEL": "INFO"},
        )
    )
    try:
        await system.start_infra()
        await system.start_services()
        await system.wait_ready()
        yield system
    finally:
        await system.stop()


class Seller:
    """A registered user talking to the gateway over HTTP."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        email: str,
        token: str,
        refresh_token: str | None = None,
        password: str | None = None,
    ) -> None:
        self.http, self.email, self.token = http, email, token
        self.refresh_token, self.password = refresh_token, password
        self.headers = {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, **kw)

    async def patch(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kw)

    async def submit(
        self, items: list[dict[str, Any]], name: str = "test batch", **extra: Any
    ) -> dict[str, Any]:
        response = await self.post("/api/v1/batches", json={"name": name, "items": items, **extra})
        assert response.status_code == 202, response.text
        return response.json()  # type: ignore[no-any-return]

    async def wait_terminal(self, batch_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            batch = (await self.get(f"/api/v1/batches/{batch_id}")).json()
            if batch["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                return batch  # type: ignore[no-any-return]
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"batch {batch_id} still {batch['status']}: {batch}")
            await asyncio.sleep(0.25)

    async def all_analyses(self, batch_id: str) -> list[dict[str, Any]]:
        """Every page by its `next` cursor (offsets stop at 10,000 rows)."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"batch_id": batch_id, "size": 500}
        while True:
            body = (await self.get("/api/v1/analyses", params=params)).json()
            found += body["items"]
            if body.get("next") is None:
                return found
            params = {**params, "after": body["next"]}


async def register(http: httpx.AsyncClient, email: str | None = None) -> Seller:
    email = email or f"seller-{uuid.uuid4().hex[:12]}@example.com"
    password = "correct horse battery"
    created = await http.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    token = await http.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    tokens = token.json()
    return Seller(http, email, tokens["access_token"], tokens.get("refresh_token"), password)


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as client:
        yield client


@pytest.fixture
async def seller(http: httpx.AsyncClient) -> Seller:
    return await register(http)


@pytest.fixture
async def other_seller(http: httpx.AsyncClient) -> Seller:
    return await register(http)
