"""The per-seller rate limit holds across gateway instances (its counters are in PostgreSQL).

A stack of its own: two gateways and a low limit. The window is an hour so that it does not roll
over during the test (a fixed window would then start counting afresh).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devstack.stack import Stack, StackConfig
from tests.e2e.conftest import register

LIMIT = 8
AUTH_LIMIT = 6


@pytest.fixture(scope="module")
async def two_gateways(state_dir: Path) -> AsyncIterator[Stack]:
    system = Stack(
        StackConfig(
            state_dir=state_dir / "rate-limit",
            fast=True,
            conventional_ports=False,
            gateway_instances=2,
            partitions=3,
            keepa_refill_rate=1000,
            extra_env={
                "RATE_LIMIT_REQUESTS": str(LIMIT),
                "RATE_LIMIT_WINDOW_SECONDS": "3600",
                "AUTH_RATE_LIMIT_REQUESTS": str(AUTH_LIMIT),
                # A deployment configured as gateways once were: the first to register this
                # email became an admin, although nothing proved they owned it.
                "ADMIN_EMAILS": "owner@example.com",
            },
        )
    )
    try:
        await system.start_infra()
        await system.start_services()
        await system.wait_ready()
        yield system
    finally:
        await system.stop()


async def test_limit_is_shared_by_two_gateway_instances(two_gateways: Stack) -> None:
    async with (
        httpx.AsyncClient(base_url=two_gateways.gateway_instance_url(0)) as first,
        httpx.AsyncClient(base_url=two_gateways.gateway_instance_url(1)) as second,
    ):
        seller = await register(first)  # 2 of the address's sign-in requests
        other = await register(second)  # 4
        answers = [
            await (first, second)[n % 2].get("/api/v1/users/me", headers=seller.headers)
            for n in range(LIMIT + 1)
        ]
        assert [a.status_code for a in answers] == [200] * LIMIT + [429]
        # One count for both instances: each answer has one request fewer left.
        assert [int(a.headers["ratelimit-remaining"]) for a in answers] == [
            *range(LIMIT - 1, -1, -1),
            0,
        ]
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["limit"] == "requests_per_window"
        assert refused.headers["ratelimit-limit"] == str(LIMIT)
        assert 0 < int(refused.headers["retry-after"]) <= 3600
        assert refused.headers["retry-after"] == refused.headers["ratelimit-reset"]
        assert (await first.get("/api/v1/config", headers=seller.headers)).status_code == 429
        # Another seller has a count of their own.
        assert (await second.get("/api/v1/users/me", headers=other.headers)).status_code == 200


async def test_sign_in_requests_are_limited_per_address_and_registering_makes_no_admin(
    two_gateways: Stack,
) -> None:
    """Admins are made only by `python -m gateway.admin promote EMAIL` (test_auth.py)."""
    async with httpx.AsyncClient(base_url=two_gateways.gateway_instance_url(1)) as http:
        created = await http.post(
            "/api/v1/auth/register",
            json={"email": "Owner@example.com", "password": "correct horse battery"},
        )
        assert created.status_code == 201 and created.json()["role"] == "user"
        wrong = {"username": "owner@example.com", "password": "guess guess"}
        answers = [(await http.post("/api/v1/auth/token", data=wrong)) for _ in range(AUTH_LIMIT)]
        codes = [a.status_code for a in answers]
        assert 429 in codes and set(codes[: codes.index(429)]) <= {401}, codes
        assert int(answers[codes.index(429)].headers["retry-after"]) > 0
