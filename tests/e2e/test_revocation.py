"""Revocations reach every gateway instance although each remembers credentials for a few
seconds (gateway.auth_cache): a login signed out, an API key deleted, an account disabled (by an
admin, or by the CLI in another process) is refused on the other instance too.

The documented bound is REVOCATION_BOUND_SECONDS (the NOTIFY's delivery), CACHE_SECONDS at worst;
the tests poll with a far more generous timeout, so that a slow machine does not fail them.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from devstack.stack import Stack, StackConfig
from gateway.auth_cache import CACHE_SECONDS
from tests.e2e.conftest import register

GENEROUS = 60.0  # seconds: far beyond the bound, never a tight timing


@pytest.fixture(scope="module")
async def two_gateways(state_dir: Path) -> AsyncIterator[Stack]:
    system = Stack(
        StackConfig(
            state_dir=state_dir / "revocation",
            fast=True,
            conventional_ports=False,
            gateway_instances=2,
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


@pytest.fixture
async def clients(
    two_gateways: Stack,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(base_url=two_gateways.gateway_instance_url(0), timeout=30) as a,
        httpx.AsyncClient(base_url=two_gateways.gateway_instance_url(1), timeout=30) as b,
    ):
        yield a, b


async def eventually(status: int, request: Callable[[], Awaitable[httpx.Response]]) -> float:
    """Poll until `request` answers `status`; the seconds it took."""
    started = time.monotonic()
    while True:
        answer = await request()
        if answer.status_code == status:
            return time.monotonic() - started
        assert time.monotonic() - started < GENEROUS, (answer.status_code, answer.text)
        await asyncio.sleep(0.05)


async def test_a_logout_ends_the_token_on_every_instance(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = clients
    seller = await register(first)
    headers = {"Authorization": f"Bearer {seller.token}"}
    for http in (first, second):  # remembered by both instances now
        assert (await http.get("/api/v1/users/me", headers=headers)).status_code == 200
    assert (await first.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    # The instance that signed out forgets at once; the other when PostgreSQL tells it.
    assert (await first.get("/api/v1/users/me", headers=headers)).status_code == 401
    await eventually(401, lambda: second.get("/api/v1/users/me", headers=headers))


async def test_a_deleted_api_key_is_refused_on_every_instance(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = clients
    seller = await register(first)
    created = (await seller.post("/api/v1/api-keys", json={"name": "script"})).json()
    key = {"X-API-Key": created["key"]}
    for http in (first, second):
        assert (await http.get("/api/v1/users/me", headers=key)).status_code == 200
    assert (await seller.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 204
    assert (await first.get("/api/v1/users/me", headers=key)).status_code == 401
    await eventually(401, lambda: second.get("/api/v1/users/me", headers=key))


async def _promote(stack: Stack, email: str) -> None:
    env = {**os.environ, **stack.common_env("gateway", "gateway-admin")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.admin", "promote", email, env=env
    )
    assert await proc.wait() == 0


async def test_a_disabled_account_and_a_changed_role_reach_every_instance(
    two_gateways: Stack,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = clients
    boss, seller = await register(first), await register(first)
    boss_headers = {"Authorization": f"Bearer {boss.token}"}
    seller_headers = {"Authorization": f"Bearer {seller.token}"}
    for http in (first, second):
        assert (await http.get("/api/v1/users/me", headers=boss_headers)).json()["role"] == "user"
        assert (await http.get("/api/v1/users/me", headers=seller_headers)).status_code == 200
    # Promoted by the CLI, another process: both instances learn of it by NOTIFY.
    await _promote(two_gateways, boss.email)
    for http in (first, second):

        async def role(http: httpx.AsyncClient = http) -> httpx.Response:
            answer = await http.get("/api/v1/users/me", headers=boss_headers)
            return httpx.Response(200 if answer.json()["role"] == "admin" else 409)

        await eventually(200, role)
    seller_id = (await first.get("/api/v1/users/me", headers=seller_headers)).json()["id"]
    disabled = await boss.patch(f"/api/v1/admin/users/{seller_id}", json={"disabled": True})
    assert disabled.status_code == 200, disabled.text
    assert (await first.get("/api/v1/users/me", headers=seller_headers)).status_code == 401
    await eventually(401, lambda: second.get("/api/v1/users/me", headers=seller_headers))


def test_the_cache_bound_is_a_few_seconds() -> None:
    assert 0 < CACHE_SECONDS <= 5
