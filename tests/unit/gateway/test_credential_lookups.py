"""Who a credential is, looked up once: concurrent misses of one credential share one lookup
(gateway.auth_cache.CredentialCache.load_once), a lookup that raced with a revocation is not
shared with requests that came after it, and a verified access token needs only its expiry
checked again (gateway.security.VerifiedTokens)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import jwt
import pytest

from gateway.auth_cache import CredentialCache
from gateway.security import (
    ACCESS_AUDIENCE,
    ACCESS_ISSUER,
    ALGORITHM,
    VerifiedTokens,
    decode_access_token,
)

USER = uuid.uuid4()


def listening_cache() -> CredentialCache:
    cache = CredentialCache()
    cache.listening = True  # as while its LISTEN connection is up
    return cache


async def test_concurrent_misses_of_one_credential_are_one_lookup() -> None:
    cache, lookups, release = listening_cache(), 0, asyncio.Event()

    async def load() -> tuple[uuid.UUID, Any, float | None]:
        nonlocal lookups
        lookups += 1
        await release.wait()
        return USER, "seller", None

    waiting = [asyncio.create_task(cache.load_once(("login", "a"), load)) for _ in range(100)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["seller"] * 100
    assert lookups == 1
    assert cache.get(("login", "a")) == "seller"


async def test_a_lookup_begun_before_a_revocation_is_not_shared_after_it() -> None:
    cache, release = listening_cache(), asyncio.Event()
    answers = iter(["before", "after"])

    async def load() -> tuple[uuid.UUID, Any, float | None]:
        value = next(answers)
        await release.wait()
        return USER, value, None

    first = asyncio.create_task(cache.load_once(("login", "a"), load))
    await asyncio.sleep(0)
    cache.forget_user(USER)  # the login was revoked meanwhile
    second = asyncio.create_task(cache.load_once(("login", "a"), load))
    await asyncio.sleep(0)
    release.set()
    assert await first == "before"
    assert await second == "after"  # a lookup of its own, begun after the revocation
    assert cache.get(("login", "a")) == "after"


async def test_a_failed_lookup_fails_every_request_that_shared_it_and_is_not_kept() -> None:
    cache = listening_cache()

    async def load() -> tuple[uuid.UUID, Any, float | None]:
        await asyncio.sleep(0)
        raise PermissionError("revoked")

    results = await asyncio.gather(
        *(cache.load_once(("login", "a"), load) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, PermissionError) for r in results)
    assert cache.get(("login", "a")) is None


def _token(secret: str, exp: float) -> str:
    now = int(time.time())
    claims = {
        "sub": str(USER),
        "sid": str(uuid.uuid4()),
        "typ": "access",
        "aud": ACCESS_AUDIENCE,
        "iss": ACCESS_ISSUER,
        "iat": now,
        "exp": int(exp),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def test_a_verified_token_is_checked_again_for_its_expiry_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "s" * 48
    tokens, token = VerifiedTokens(secret), _token(secret, time.time() + 60)
    assert decode_access_token(token, secret) is not None
    assert tokens.claims(token) is not None
    calls = 0

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return decode_access_token(*args, **kwargs)

    monkeypatch.setattr("gateway.security.decode_access_token", counting)
    assert tokens.claims(token) is not None and calls == 0  # remembered
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    assert tokens.claims(token) is None  # expired since: refused, and forgotten


def test_tokens_of_another_secret_or_tampered_are_refused_and_not_remembered() -> None:
    tokens = VerifiedTokens("s" * 48)
    forged = _token("x" * 48, time.time() + 60)
    assert tokens.claims(forged) is None
    good = _token("s" * 48, time.time() + 60)
    assert tokens.claims(good[:-2] + ("AA" if good[-2:] != "AA" else "BB")) is None
    assert tokens.claims(good) is not None
