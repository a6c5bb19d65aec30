"""Issue 11, items 5 and 10: what an access token must carry, the development secret refused at
start-up, and the headers and operator routes of the public port. In process, without a
database: where a route needs one, its lookups are replaced."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest

from gateway.api import auth
from gateway.logins import Issued, Refreshed
from gateway.main import create_app
from gateway.security import (
    ACCESS_AUDIENCE,
    ACCESS_ISSUER,
    create_access_token,
    decode_access_token,
)
from gateway.settings import DEV_JWT_SECRET, GatewaySettings, InsecureSecret, refuse_dev_secrets

SECRET = "s" * 40
USER, LOGIN = uuid.uuid4(), uuid.uuid4()
STRONG = {"jwt_secret": SECRET, "internal_auth_secret": "i" * 40}


def _claims(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(USER),
        "role": "user",
        "typ": "access",
        "sid": str(LOGIN),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "aud": ACCESS_AUDIENCE,
        "iss": ACCESS_ISSUER,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _forged(**changes: Any) -> str:
    return jwt.encode(_claims(**changes), SECRET, algorithm="HS256")


# -- access tokens --------------------------------------------------------------------------------
def test_a_minted_token_names_its_login_audience_and_issuer() -> None:
    token = create_access_token(USER, "admin", SECRET, 5, LOGIN)
    claims = decode_access_token(token, SECRET)
    assert claims is not None
    assert (claims["sub"], claims["sid"], claims["role"]) == (str(USER), str(LOGIN), "admin")
    assert (claims["aud"], claims["iss"]) == (ACCESS_AUDIENCE, ACCESS_ISSUER)
    assert claims["exp"] - claims["iat"] == 300
    assert decode_access_token(_forged(), SECRET) is not None  # what the forgeries differ from


@pytest.mark.parametrize("missing", ["exp", "iat", "sid", "aud", "iss", "sub"])
def test_a_token_without_a_required_claim_is_refused(missing: str) -> None:
    assert decode_access_token(_forged(**{missing: None}), SECRET) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "another-api"},
        {"iss": "someone-else"},
        {"typ": "refresh"},
        {"exp": datetime.now(UTC) - timedelta(seconds=1)},
    ],
)
def test_a_token_for_another_audience_issuer_or_use_is_refused(changes: dict[str, Any]) -> None:
    assert decode_access_token(_forged(**changes), SECRET) is None


def test_the_reported_forgery_is_refused() -> None:
    """Signed with the development secret, with neither `exp` nor `sid` (nor aud/iss)."""
    token = jwt.encode(
        {"sub": str(USER), "role": "admin", "typ": "access"}, DEV_JWT_SECRET, algorithm="HS256"
    )
    assert decode_access_token(token, DEV_JWT_SECRET) is None


# -- the development secret -----------------------------------------------------------------------
@pytest.mark.parametrize("secret", [DEV_JWT_SECRET, "short-but-custom"])
async def test_the_gateway_refuses_to_start_with_a_development_secret(secret: str) -> None:
    app = create_app(GatewaySettings(jwt_secret=secret))
    with pytest.raises(InsecureSecret, match="ALLOW_DEV_SECRETS"):
        async with app.router.lifespan_context(app):
            pass  # never reached: refused before anything is started


@pytest.mark.parametrize(
    "settings",
    [
        {"allow_dev_secrets": True},  # what devstack sets for `make run` and the test stacks
        {"jwt_secret": SECRET},
        {"environment": "production", **STRONG},
    ],
)
def test_a_strong_secret_or_the_local_switch_starts(settings: dict[str, Any]) -> None:
    refuse_dev_secrets(GatewaySettings(**settings))


def test_production_refuses_the_development_secret_even_with_the_switch() -> None:
    with pytest.raises(ValueError, match="JWT_SECRET"):
        GatewaySettings(
            environment="production", allow_dev_secrets=True, internal_auth_secret="i" * 40
        )


# -- headers --------------------------------------------------------------------------------------
class FakeRuntime:
    """Enough of a ServiceRuntime for /metrics: no database (reported as down), no consumers."""

    consumers: list[Any] = []
    consumer_restarts = 0
    consumers_started = False

    def __init__(self) -> None:
        self.relay = SimpleNamespace(published_total=3, backlog=self._away)

    @staticmethod
    async def _away() -> int:
        raise OSError("no database in this test")

    consumer_lag = _away

    @asynccontextmanager
    async def sessions(self) -> AsyncIterator[None]:
        yield None  # a route that would use it is replaced


@asynccontextmanager
async def _client(
    base_url: str = "http://gateway", **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(GatewaySettings(**{"auth_rate_limit_requests": 0, **settings}))
    app.state.runtime = FakeRuntime()
    app.state.reconciler = SimpleNamespace(republished_total=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http:
        yield http


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/openapi.json"),
        ("GET", "/api/v1/users/me"),
        ("POST", "/api/v1/batches"),
        ("GET", "/no-such-page"),
    ],
)
async def test_every_answer_says_nosniff_and_no_hsts_over_plain_http(
    method: str, path: str
) -> None:
    async with _client() as http:
        response = await http.request(method, path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers


async def test_an_unexpected_error_says_nosniff_too() -> None:
    """A 500 is answered by Starlette's error middleware, outside the app's own middleware."""
    app = create_app(GatewaySettings())

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        response = await http.get("/broken")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("base_url", "settings"),
    [
        ("https://gateway", {}),  # TLS ends at the gateway itself
        ("http://gateway", {"behind_tls": True}),  # TLS ends at a proxy in front of it
    ],
)
async def test_hsts_when_served_over_tls(base_url: str, settings: dict[str, Any]) -> None:
    async with _client(base_url, **settings) as http:
        for path in ("/health", "/api/v1/users/me"):
            hsts = (await http.get(path)).headers["strict-transport-security"]
            assert hsts.startswith("max-age=") and int(hsts[8:].split(";")[0]) >= 31_536_000


async def test_token_answers_are_not_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    async def rotate(*_: Any) -> Refreshed:
        user = SimpleNamespace(id=USER, role="user")
        return Refreshed(user, Issued(LOGIN, "avr_next", datetime.now(UTC) + timedelta(days=9)))

    monkeypatch.setattr(auth, "rotate", rotate)
    async with _client(jwt_secret=SECRET) as http:
        fresh = await http.post("/api/v1/auth/refresh", json={"refresh_token": "avr_spent"})
        refused = await http.post("/api/v1/auth/token", data={})  # 422: no username
        health = await http.get("/health")
    assert fresh.status_code == 200, fresh.text
    assert decode_access_token(fresh.json()["access_token"], SECRET) is not None
    for answer in (fresh, refused):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["pragma"] == "no-cache"
    assert "cache-control" not in health.headers


# -- /metrics on the public port ------------------------------------------------------------------
async def test_metrics_are_open_in_development_without_a_token() -> None:
    async with _client() as http:
        metrics = await http.get("/metrics")
    assert (
        metrics.status_code == 200
        and 'av_outbox_published_total{service="gateway"} 3' in metrics.text
    )


@pytest.mark.parametrize("environment", ["development", "production"])
async def test_metrics_need_the_metrics_token_when_one_is_set(environment: str) -> None:
    async with _client(environment=environment, metrics_token="m" * 32, **STRONG) as http:
        answers = [
            await http.get("/metrics", headers=headers)
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": f"Bearer {'m' * 31}"},
                {"Authorization": f"Basic {'m' * 32}"},
            )
        ]
        allowed = await http.get("/metrics", headers={"Authorization": f"Bearer {'m' * 32}"})
    for refused in answers:
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "av_" not in refused.text
    assert allowed.status_code == 200 and "av_outbox_published_total" in allowed.text


async def test_production_does_not_serve_metrics_publicly_without_a_token() -> None:
    async with _client(environment="production", **STRONG) as http:
        hidden = await http.get("/metrics", headers={"Authorization": "Bearer anything"})
        health = await http.get("/health")
    assert hidden.status_code == 404 and "av_" not in hidden.text
    assert hidden.headers["content-type"] == "application/problem+json"
    assert health.status_code == 200
