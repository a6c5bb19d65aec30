"""Accounts, tokens, API keys, admins, tenant isolation, business config and quotas, end to end
on the shared stack (the rate limit across two gateways: test_rate_limit.py)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from devstack.stack import Stack
from gateway.api import admin as admin_api
from gateway.api.deps import CurrentUserInfo
from gateway.settings import DEV_JWT_SECRET, GatewaySettings
from tests.e2e.conftest import Seller, register
from tests.helpers import isbn10s, items_for

SAMPLE_BOOK = "0593655036"
PUBLIC = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
}


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.request.url, response.text)
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def promote(stack: Stack, email: str) -> None:
    """The documented way to make the first admin: `python -m gateway.admin promote EMAIL`."""
    env = {**os.environ, **stack.common_env("gateway", "gateway-admin")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.admin", "promote", email, env=env
    )
    assert await proc.wait() == 0


@pytest.fixture(scope="module")
async def admin(stack: Stack) -> AsyncIterator[Seller]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as http:
        boss = await register(http)
        assert (await boss.get("/api/v1/users/me")).json()["role"] == "user"
        await promote(stack, boss.email)
        # The CLI's change reaches the gateway by NOTIFY (gateway.auth_cache): the token it has
        # works as an admin's within the revocation bound (polled, generously).
        deadline = time.monotonic() + 60
        while (await boss.get("/api/v1/users/me")).json()["role"] != "admin":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        yield boss


def assert_not_stored(response: httpx.Response) -> None:
    """A token answer: no cache (browser, proxy) may keep it."""
    assert response.headers["cache-control"] == "no-store", response.headers
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_register_login_refresh_revoke_logout(http: httpx.AsyncClient) -> None:
    seller = await register(http)
    assert_not_stored(
        await http.post(
            "/api/v1/auth/register",
            json={"email": f"x{seller.email}", "password": "another password"},
        )
    )
    assert_not_stored(
        await http.post(
            "/api/v1/auth/token", data={"username": seller.email, "password": seller.password}
        )
    )
    assert (
        await http.post(
            "/api/v1/auth/register",
            json={"email": seller.email.upper(), "password": "another password"},
        )
    ).status_code == 409
    assert_unauthorized(
        await http.post(
            "/api/v1/auth/token", data={"username": seller.email, "password": "wrong password"}
        )
    )
    assert_unauthorized(
        await http.post(
            "/api/v1/auth/token",
            data={"username": "nobody@example.com", "password": "wrong password"},
        )
    )
    me = await seller.get("/api/v1/users/me")
    assert me.status_code == 200 and me.json()["role"] == "user"

    # Refresh rotates: a new pair, the old refresh token spent.
    first = seller.refresh_token
    rotated = await http.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200, rotated.text
    assert_not_stored(rotated)
    pair = rotated.json()
    assert pair["refresh_token"] != first and pair["token_type"] == "bearer"
    fresh = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await http.get("/api/v1/users/me", headers=fresh)).status_code == 200
    # The spent token used again (stolen?): the whole login is revoked, new tokens included.
    assert_unauthorized(await http.post("/api/v1/auth/refresh", json={"refresh_token": first}))
    assert_unauthorized(
        await http.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    )
    assert_unauthorized(await http.get("/api/v1/users/me", headers=fresh))
    assert_unauthorized(await seller.get("/api/v1/users/me"))  # same login: revoked too

    # Revoke: a login's refresh token sent to /auth/revoke ends that login only.
    login_a, login_b = await _login(http, seller), await _login(http, seller)
    revoked = await http.post(
        "/api/v1/auth/revoke",
        json={"refresh_token": login_a["refresh"]},
        headers=login_b["headers"],
    )
    assert revoked.status_code == 204
    assert_unauthorized(
        await http.post("/api/v1/auth/refresh", json={"refresh_token": login_a["refresh"]})
    )
    assert_unauthorized(await http.get("/api/v1/users/me", headers=login_a["headers"]))
    assert (await http.get("/api/v1/users/me", headers=login_b["headers"])).status_code == 200

    # Logout ends the login of the access token used.
    assert (await http.post("/api/v1/auth/logout", headers=login_b["headers"])).status_code == 204
    assert_unauthorized(await http.get("/api/v1/users/me", headers=login_b["headers"]))
    assert_unauthorized(
        await http.post("/api/v1/auth/refresh", json={"refresh_token": login_b["refresh"]})
    )
    assert_unauthorized(
        await http.post("/api/v1/auth/refresh", json={"refresh_token": "avr_not-a-token"})
    )


async def _login(http: httpx.AsyncClient, seller: Seller) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/auth/token", data={"username": seller.email, "password": seller.password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return {
        "headers": {"Authorization": f"Bearer {body['access_token']}"},
        "refresh": body["refresh_token"],
    }


def _forge(**claims: Any) -> dict[str, str]:
    """An access token signed with the development secret (which this stack runs with)."""
    token = jwt.encode(
        {"typ": "access", "role": "admin", **claims}, DEV_JWT_SECRET, algorithm="HS256"
    )
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_without_exp_or_login_is_refused_and_so_is_a_revoked_login(
    http: httpx.AsyncClient,
) -> None:
    """The reported forgery: the development secret, neither `exp` nor `sid`, after the victim
    logged out. Every access token must name its login, audience and issuer, and expire."""
    victim = await register(http)
    victim_id = (await victim.get("/api/v1/users/me")).json()["id"]
    assert_unauthorized(await http.get("/api/v1/users/me", headers=_forge(sub=victim_id)))
    claims = jwt.decode(victim.token, options={"verify_signature": False})
    assert {"exp", "iat", "sid", "aud", "iss"} <= set(claims)
    complete = {k: claims[k] for k in ("sub", "sid", "aud", "iss", "iat", "exp")}
    for missing in ("exp", "iat", "sid", "aud", "iss"):
        incomplete = {k: v for k, v in complete.items() if k != missing}
        assert_unauthorized(await http.get("/api/v1/users/me", headers=_forge(**incomplete)))
    unknown_login = complete | {"sid": str(uuid.uuid4())}
    assert_unauthorized(await http.get("/api/v1/users/me", headers=_forge(**unknown_login)))
    # With every claim the development secret signs for anyone: why only `make run` and the
    # tests may start a gateway with it (ALLOW_DEV_SECRETS).
    forged = _forge(**complete)
    assert (await http.get("/api/v1/users/me", headers=forged)).status_code == 200
    assert (await victim.post("/api/v1/auth/logout")).status_code == 204
    assert_unauthorized(await http.get("/api/v1/users/me", headers=forged))
    assert_unauthorized(await http.get("/api/v1/users/me", headers=_forge(sub=victim_id)))


async def test_changing_the_password_ends_every_other_login(http: httpx.AsyncClient) -> None:
    seller = await register(http)
    elsewhere = await _login(http, seller)
    key = (await seller.post("/api/v1/api-keys", json={"name": "cron"})).json()["key"]
    wrong = await seller.post(
        "/api/v1/auth/password",
        json={"current_password": "not my password", "new_password": "a new long password"},
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
    assert (await http.get("/api/v1/users/me", headers=elsewhere["headers"])).status_code == 200

    changed = await seller.post(
        "/api/v1/auth/password",
        json={"current_password": seller.password, "new_password": "a new long password"},
    )
    assert changed.status_code == 204, changed.text
    assert_unauthorized(await http.get("/api/v1/users/me", headers=elsewhere["headers"]))
    assert_unauthorized(
        await http.post("/api/v1/auth/refresh", json={"refresh_token": elsewhere["refresh"]})
    )
    # The login that changed it goes on; so do API keys (not logins: delete them to end them).
    assert (await seller.get("/api/v1/users/me")).status_code == 200
    assert (
        await http.post("/api/v1/auth/refresh", json={"refresh_token": seller.refresh_token})
    ).status_code == 200
    assert (await http.get("/api/v1/users/me", headers={"X-API-Key": key})).status_code == 200
    assert_unauthorized(
        await http.post(
            "/api/v1/auth/token", data={"username": seller.email, "password": seller.password}
        )
    )
    assert (
        await http.post(
            "/api/v1/auth/token", data={"username": seller.email, "password": "a new long password"}
        )
    ).status_code == 200


async def test_log_out_everywhere_ends_every_login(http: httpx.AsyncClient) -> None:
    seller = await register(http)
    logins = [await _login(http, seller) for _ in range(2)]
    other = await register(http)
    assert (await seller.post("/api/v1/auth/logout-all")).status_code == 204
    assert_unauthorized(await seller.get("/api/v1/users/me"))
    assert_unauthorized(
        await http.post("/api/v1/auth/refresh", json={"refresh_token": seller.refresh_token})
    )
    for login in logins:
        assert_unauthorized(await http.get("/api/v1/users/me", headers=login["headers"]))
        assert_unauthorized(
            await http.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh"]})
        )
    assert (await other.get("/api/v1/users/me")).status_code == 200  # only the seller's own
    assert (await _login(http, seller))["refresh"]  # and logging in again works


async def test_refreshing_never_extends_a_login_past_its_absolute_lifetime(
    http: httpx.AsyncClient,
    stack: Stack,
) -> None:
    """SESSION_MAX_DAYS (90) from the sign-in: the login is aged in the database."""
    seller = await register(http)
    sid = jwt.decode(seller.token, options={"verify_signature": False})["sid"]

    async def signed_in_days_ago(days: float) -> None:
        engine = create_async_engine(stack.common_env("gateway", "aging")["DATABASE_URL"])
        try:
            async with engine.begin() as db:
                await db.execute(
                    text(
                        "UPDATE gateway.auth_sessions SET created_at = "
                        "now() - make_interval(secs => :s) WHERE id = :id"
                    ),
                    {"s": days * 86_400, "id": sid},
                )
        finally:
            await engine.dispose()

    await signed_in_days_ago(89.5)
    late = await http.post("/api/v1/auth/refresh", json={"refresh_token": seller.refresh_token})
    assert late.status_code == 200, late.text
    assert 0 < late.json()["refresh_expires_in"] <= 12 * 3600  # not another 30 days
    await signed_in_days_ago(90.01)
    ended = await http.post(
        "/api/v1/auth/refresh", json={"refresh_token": late.json()["refresh_token"]}
    )
    assert_unauthorized(ended)
    assert "maximum lifetime" in ended.json()["detail"]


async def test_an_api_key_can_expire(seller: Seller, http: httpx.AsyncClient) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    for expires_at in (past.isoformat(), "2999-01-01T00:00:00"):  # past; no time zone
        refused = await seller.post(
            "/api/v1/api-keys", json={"name": "x", "expires_at": expires_at}
        )
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "expires_at"
    soon = datetime.now(UTC) + timedelta(seconds=3)
    created = await seller.post(
        "/api/v1/api-keys", json={"name": "for a day", "expires_at": soon.isoformat()}
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert datetime.fromisoformat(key["expires_at"]) == soon
    by_key = {"X-API-Key": key["key"]}
    assert (await http.get("/api/v1/users/me", headers=by_key)).status_code == 200
    listed = (await seller.get("/api/v1/api-keys")).json()
    assert [datetime.fromisoformat(k["expires_at"]) for k in listed] == [soon]
    await asyncio.sleep(max(0.0, soon.timestamp() - time.time()) + 0.5)
    assert_unauthorized(await http.get("/api/v1/users/me", headers=by_key))
    assert (await seller.get("/api/v1/api-keys")).json() == []  # no longer live


async def test_every_endpoint_requires_authentication(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    checked = 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        # Every path parameter is an id but a book's identifier.
        concrete = re.sub(
            r"\{(\w+)\}",
            lambda m: "0593655036" if m[1] == "identifier" else str(uuid.uuid4()),
            path,
        )
        for method in operations:
            if (method.upper(), path) in PUBLIC:
                continue
            for headers in (
                {},
                {"Authorization": "Bearer not-a-jwt"},
                {"X-API-Key": "avk_not-a-key"},
                {"Authorization": "Bearer avk_not-a-key"},
            ):
                body: dict[str, object] | None = {} if method in ("post", "put", "patch") else None
                assert_unauthorized(
                    await http.request(method.upper(), concrete, headers=headers, json=body)
                )
            checked += 1
    assert checked >= 18  # every authenticated operation of the API


async def test_other_sellers_ids_answer_404(seller: Seller, other_seller: Seller) -> None:
    batch = await seller.submit(items_for([SAMPLE_BOOK]))
    done = await seller.wait_terminal(batch["id"])
    assert done["status"] == "COMPLETED"
    [analysis] = await seller.all_analyses(batch["id"])
    key = (await seller.post("/api/v1/api-keys", json={"name": "script"})).json()

    assert (await other_seller.get(f"/api/v1/batches/{batch['id']}")).status_code == 404
    assert (
        await other_seller.patch(
            f"/api/v1/batches/{batch['id']}/status", json={"status": "CANCELLED"}
        )
    ).status_code == 404
    assert (await other_seller.get(f"/api/v1/analyses/{analysis['id']}")).status_code == 404
    listed = (await other_seller.get("/api/v1/analyses", params={"batch_id": batch["id"]})).json()
    assert listed["total"] == 0 and listed["items"] == []
    assert batch["id"] not in [
        b["id"] for b in (await other_seller.get("/api/v1/batches")).json()["items"]
    ]
    assert (await other_seller.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 404
    assert key["id"] not in [k["id"] for k in (await other_seller.get("/api/v1/api-keys")).json()]
    # The config is per seller: one seller's change is not the other's.
    assert (
        await seller.put("/api/v1/config", json={"strategy": {"name": "textbook"}})
    ).status_code == 200
    theirs = (await other_seller.get("/api/v1/config")).json()
    assert theirs["version"] == 0 and theirs["strategy"]["name"] == "balanced"
    assert (await other_seller.get("/api/v1/config/history")).json()["total"] == 0
    # The owner still sees everything; the key still works.
    assert (await seller.get(f"/api/v1/analyses/{analysis['id']}")).status_code == 200
    assert (
        await seller.http.get("/api/v1/users/me", headers={"X-API-Key": key["key"]})
    ).status_code == 200


async def test_api_keys_by_either_header(seller: Seller, http: httpx.AsyncClient) -> None:
    created = await seller.post("/api/v1/api-keys", json={"name": "repricer"})
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith("avk_") and key["key"].startswith(key["prefix"])
    listed = (await seller.get("/api/v1/api-keys")).json()
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]

    for headers in ({"Authorization": f"Bearer {key['key']}"}, {"X-API-Key": key["key"]}):
        me = await http.get("/api/v1/users/me", headers=headers)
        assert me.status_code == 200 and me.json()["email"] == seller.email
        batch = await http.post(
            "/api/v1/batches",
            headers=headers,
            json={"name": "by key", "items": items_for([SAMPLE_BOOK])},
        )
        assert batch.status_code == 202, batch.text
        assert (await seller.get(f"/api/v1/batches/{batch.json()['id']}")).status_code == 200
    assert (await seller.get("/api/v1/api-keys")).json()[0]["last_used_at"] is not None

    assert (await seller.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 204
    assert_unauthorized(await http.get("/api/v1/users/me", headers={"X-API-Key": key["key"]}))
    assert (await seller.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 404


async def test_config_is_validated_and_versioned(seller: Seller) -> None:
    start = await seller.get("/api/v1/config")
    assert start.status_code == 200 and start.headers["etag"] == '"0"'
    assert start.json()["version"] == 0 and start.json()["strategy"]["min_roi_percent"] == 30

    for body, field in (
        ({"strategy": {"min_roi_percent": -5}}, "strategy.min_roi_percent"),
        ({"seller_costs": {"prep_per_unit": 0.123}}, "seller_costs.prep_per_unit"),
        ({"seller_costs": {"sales_tax_percent": 101}}, "seller_costs.sales_tax_percent"),
        ({"strategy": {"name": "yolo"}}, "strategy.name"),
        ({"batch_defaults": {"condition": "mint"}}, "batch_defaults.condition"),
    ):
        bad = await seller.put("/api/v1/config", json=body)
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["errors"][0]["field"] == field, bad.json()

    first = await seller.put(
        "/api/v1/config",
        json={
            "strategy": {"name": "velocity", "min_roi_percent": 25.5, "max_sales_rank": None},
            "seller_costs": {"prep_per_unit": 1.0, "sales_tax_percent": 8.25},
        },
    )
    assert first.status_code == 200, first.text
    saved = first.json()
    assert saved["version"] == 1 and first.headers["etag"] == '"1"'
    assert saved["strategy"] == {
        "name": "velocity",
        "min_roi_percent": 25.5,
        "min_profit": 2.0,
        "min_velocity_score": 60,
        "max_sales_rank": None,
        "max_competing_fba_offers": 25,
        "max_amazon_buy_box_percent": 50,
        # Engine 2026.12.5: min_roi_percent given without rank_bands is one threshold at every
        # rank (the preset's bands dropped); 180 days to sell, the default.
        "rank_bands": None,
        "sell_within_days": 180,
    }
    assert saved["seller_costs"] == {
        "inbound_shipping_per_lb": 0.5,
        "prep_per_unit": 1.0,
        "sales_tax_percent": 8.25,
        "inbound_placement": "amazon_optimized",
    }
    assert (await seller.get("/api/v1/config")).json() == saved

    stale = await seller.put("/api/v1/config", json={}, headers={"If-Match": '"0"'})
    assert stale.status_code == 412
    second = await seller.put(
        "/api/v1/config", json={"batch_defaults": {"condition": "new"}}, headers={"If-Match": '"1"'}
    )
    assert second.status_code == 200 and second.json()["version"] == 2
    history = (await seller.get("/api/v1/config/history")).json()
    assert history["total"] == 2
    assert [v["version"] for v in history["items"]] == [2, 1]
    assert history["items"][1] == saved and history["items"][0]["created_at"] >= saved["created_at"]


async def test_a_batch_keeps_the_config_it_was_submitted_with(seller: Seller) -> None:
    lines = items_for([SAMPLE_BOOK, *isbn10s(4, seed=55)])
    assert (
        await seller.put(
            "/api/v1/config",
            json={"strategy": {"min_roi_percent": 12.5}, "seller_costs": {"prep_per_unit": 1.25}},
        )
    ).status_code == 200
    early = await seller.submit(lines, name="before the change")
    assert early["config_version"] == 1
    assert (
        await seller.put(
            "/api/v1/config",
            json={
                "strategy": {"min_roi_percent": 77},
                "seller_costs": {"prep_per_unit": 0.1},
                "batch_defaults": {"condition": "new"},
            },
        )
    ).status_code == 200
    late = await seller.submit(lines, name="after the change")
    assert late["config_version"] == 2
    overridden = await seller.submit(lines, name="own strategy", strategy={"min_roi_percent": 5})

    expected = {
        early["id"]: ("12.5", 1.25, "used"),
        late["id"]: ("77", 0.1, "new"),
        overridden["id"]: ("5", 0.1, "new"),
    }
    for batch_id, (roi, prep, condition) in expected.items():
        assert (await seller.wait_terminal(batch_id))["status"] == "COMPLETED"
        analyses = await seller.all_analyses(batch_id)
        assert len(analyses) == len(lines)
        for analysis in analyses:
            [rule] = [r for r in analysis["reasons"] if r["rule"] == "min_roi_percent"]
            assert float(rule["threshold"].removeprefix(">= ").removesuffix("%")) == float(roi)
            assert analysis["condition"] == condition
            if analysis["fees"] is not None:
                assert analysis["fees"]["prep"] == prep


async def test_admin_lists_disables_and_sees_every_batch(
    admin: Seller, seller: Seller, http: httpx.AsyncClient
) -> None:
    assert (await seller.get("/api/v1/admin/users")).status_code == 403
    assert (
        await seller.patch(f"/api/v1/admin/users/{uuid.uuid4()}", json={"disabled": True})
    ).status_code == 403
    found = (await admin.get("/api/v1/admin/users", params={"email": seller.email})).json()
    assert found["total"] == 1
    [listed] = found["items"]
    assert listed["email"] == seller.email and listed["role"] == "user"
    assert listed["quotas"]["custom"] is False

    batch = await seller.submit(items_for([SAMPLE_BOOK]))
    assert (await admin.get(f"/api/v1/batches/{batch['id']}")).status_code == 200
    key = (await seller.post("/api/v1/api-keys", json={"name": "cron"})).json()["key"]

    off = await admin.patch(f"/api/v1/admin/users/{listed['id']}", json={"disabled": True})
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert_unauthorized(await seller.get("/api/v1/users/me"))
    assert_unauthorized(await http.get("/api/v1/users/me", headers={"X-API-Key": key}))
    assert_unauthorized(
        await http.post("/api/v1/auth/refresh", json={"refresh_token": seller.refresh_token})
    )
    assert_unauthorized(
        await http.post(
            "/api/v1/auth/token", data={"username": seller.email, "password": seller.password}
        )
    )
    assert (
        await admin.patch(f"/api/v1/admin/users/{listed['id']}", json={"disabled": False})
    ).status_code == 200
    assert (await seller.get("/api/v1/users/me")).status_code == 200
    own = (await admin.get("/api/v1/users/me")).json()["id"]
    assert (
        await admin.patch(f"/api/v1/admin/users/{own}", json={"disabled": True})
    ).status_code == 409
    assert (await admin.get(f"/api/v1/admin/users/{uuid.uuid4()}")).status_code == 404


async def test_quotas_name_the_exceeded_limit(admin: Seller, seller: Seller) -> None:
    me = (await seller.get("/api/v1/users/me")).json()
    limits = await admin.patch(
        f"/api/v1/admin/users/{me['id']}", json={"max_items_per_day": 60, "max_open_batches": 1}
    )
    assert limits.status_code == 200, limits.text
    assert limits.json()["quotas"]["custom"] is True

    first = await seller.submit(items_for(isbn10s(40, seed=77)), name="open one")
    busy = await seller.post(
        "/api/v1/batches", json={"name": "second", "items": items_for([SAMPLE_BOOK])}
    )
    assert busy.status_code == 409, busy.text
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.json()["limit"] == "max_open_batches"
    assert "max_open_batches" in busy.json()["detail"]

    await seller.wait_terminal(first["id"])  # finished: no longer open
    await seller.submit(items_for(isbn10s(15, seed=78)), name="second")  # 55 items today
    over = await seller.post(
        "/api/v1/batches", json={"name": "too many", "items": items_for(isbn10s(6, seed=79))}
    )
    assert over.status_code == 429, over.text
    problem = over.json()
    assert problem["limit"] == "max_items_per_day" and problem["used"] == 55
    assert 0 < int(over.headers["retry-after"]) <= 86_400
    assert (await admin.get(f"/api/v1/admin/users/{me['id']}")).json()["quotas"][
        "items_today"
    ] == 55
    mine = (await seller.get("/api/v1/users/me/quotas")).json()
    assert mine["open_batches"] in (0, 1)  # the second batch may have finished already
    assert {k: v for k, v in mine.items() if k != "open_batches"} == {
        "max_items_per_day": 60,
        "max_open_batches": 1,
        "custom": True,
        "items_today": 55,
    }

    back = await admin.patch(
        f"/api/v1/admin/users/{me['id']}",
        json={"max_items_per_day": None, "max_open_batches": None},
    )
    assert back.json()["quotas"]["custom"] is False
    await seller.submit(items_for(isbn10s(6, seed=79)), name="defaults again")


async def test_a_replayed_idempotency_key_is_charged_once(seller: Seller) -> None:
    async def items_today() -> int:
        return int((await seller.get("/api/v1/users/me/quotas")).json()["items_today"])

    before = await items_today()
    book = {"identifier": SAMPLE_BOOK, "buy_cost": 3.0}
    first = await seller.post("/api/v1/analyses", json=book, headers={"Idempotency-Key": "scan-1"})
    assert first.status_code == 201, first.text
    assert await items_today() == before + 1
    for _ in range(2):
        again = await seller.post(
            "/api/v1/analyses", json=book, headers={"Idempotency-Key": "scan-1"}
        )
        assert again.status_code == 201, again.text
        assert again.json()["id"] == first.json()["id"]
    assert await items_today() == before + 1  # the replays cost nothing
    other = await seller.post("/api/v1/analyses", json=book, headers={"Idempotency-Key": "scan-2"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    unkeyed = await seller.post("/api/v1/analyses", json=book)
    assert unkeyed.status_code == 201
    assert await items_today() == before + 3


async def test_the_admin_user_list_costs_two_queries(
    admin: Seller, stack: Stack, http: httpx.AsyncClient
) -> None:
    """Not 1 + 2 per account: the page is read with its quotas and usage in one query."""
    for _ in range(3):
        await register(http)
    engine = create_async_engine(stack.common_env("gateway", "query-count")["DATABASE_URL"])
    async with engine.connect() as warm:  # the dialect's own first-connect queries
        await warm.execute(text("SELECT 1"))
    statements: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda _conn, _cursor, sql, *_: statements.append(sql),
    )
    me = (await admin.get("/api/v1/users/me")).json()
    try:
        async with async_sessionmaker(engine)() as session:
            page = await admin_api.list_users(
                admin=CurrentUserInfo(uuid.UUID(me["id"]), me["email"], "admin"),
                session=session,
                settings=GatewaySettings(),
                page=1,
                size=50,
                email=None,
            )
    finally:
        await engine.dispose()
    assert len(page.items) >= 4
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2, statements
    over_http = (await admin.get("/api/v1/admin/users", params={"size": 50})).json()
    assert [u["id"] for u in over_http["items"]] == [str(u.id) for u in page.items]
