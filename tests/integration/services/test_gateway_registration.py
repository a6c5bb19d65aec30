"""Who may register (REGISTRATION_MODE, issue 11): in `invite` mode, the default in production,
an account is created only with an admin's invite code, single use; the operator gets the first
code from `python -m gateway.admin invite`, admins the next ones from the API. Free accounts
cannot drain the Keepa budget."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from av_shared.topics import BATCH_SUBMISSIONS
from tests.integration.services.harness import GATEWAY, ServiceHarness, service_alone

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
async def harness(state_dir: Path) -> AsyncIterator[ServiceHarness]:
    env = {"REGISTRATION_MODE": "invite", "NEW_ACCOUNT_MAX_ITEMS_PER_DAY": "50"}
    async with service_alone(state_dir, GATEWAY, env, watch=[BATCH_SUBMISSIONS]) as running:
        yield running


async def _admin_cli(harness: ServiceHarness, *args: str) -> str:
    env = {**os.environ, **harness.stack.common_env("gateway", "gateway-admin")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.admin", *args, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out
    return out.decode().strip()


def _email() -> str:
    return f"seller-{uuid.uuid4().hex[:12]}@example.com"


async def _register(http: httpx.AsyncClient, email: str, code: str | None) -> httpx.Response:
    body = {"email": email, "password": PASSWORD}
    if code is not None:
        body["invite_code"] = code
    return await http.post("/api/v1/auth/register", json=body)


async def _login(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    token = await http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_without_an_invite_nobody_registers_and_a_code_admits_one_account(
    harness: ServiceHarness,
) -> None:
    async with httpx.AsyncClient(base_url=harness.url, timeout=30) as http:
        refused = await _register(http, _email(), None)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "invite_code"
        code = await _admin_cli(harness, "invite")
        first = await _register(http, _email(), code)
        assert first.status_code == 201, first.text
        again = await _register(http, _email(), code)  # single use
        assert again.status_code == 422 and "invite_code" in again.text
        assert (await _register(http, _email(), "avi_made-up")).status_code == 422
        # A refused registration changed nothing: the email is still free.
        email = _email()
        assert (await _register(http, email, "avi_made-up")).status_code == 422
        code = await _admin_cli(harness, "invite")
        assert (await _register(http, email, code)).status_code == 201


async def test_an_admin_invites_by_api_for_one_email_and_sets_the_new_accounts_quota(
    harness: ServiceHarness,
) -> None:
    async with httpx.AsyncClient(base_url=harness.url, timeout=30) as http:
        boss = _email()
        assert (await _register(http, boss, await _admin_cli(harness, "invite"))).status_code == 201
        await _admin_cli(harness, "promote", boss)
        headers = await _login(http, boss)  # a login after the promotion: an admin's token
        invited = _email()
        made = await http.post(
            "/api/v1/admin/invites",
            json={"email": invited, "max_items_per_day": 5000},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        code = made.json()["code"]
        assert (await _register(http, _email(), code)).status_code == 422  # another email
        assert (await _register(http, invited, code)).status_code == 201
        quotas = await http.get("/api/v1/users/me/quotas", headers=await _login(http, invited))
        assert quotas.json()["max_items_per_day"] == 5000
        # An account from the operator's code (no quota named) starts small.
        small = _email()
        assert (
            await _register(http, small, await _admin_cli(harness, "invite"))
        ).status_code == 201
        mine = await http.get("/api/v1/users/me/quotas", headers=await _login(http, small))
        assert mine.json()["max_items_per_day"] == 50
        # A seller is not an admin: no invites from them.
        refused = await http.post(
            "/api/v1/admin/invites", json={}, headers=await _login(http, small)
        )
        assert refused.status_code == 403
