"""Password hashing (argon2), signed access tokens (JWT, HS256), refresh tokens and API keys.

Refresh tokens and API keys are 256-bit random strings: a fast SHA-256 of them is what is stored
(guessing is hopeless, unlike passwords), so a lookup is one indexed equality.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_T = TypeVar("_T")
ALGORITHM = "HS256"
API_KEY_PREFIX = "avk_"  # tells an API key from a JWT in `Authorization: Bearer`
REFRESH_PREFIX = "avr_"
API_KEY_SHOWN_CHARS = 12  # "avk_" and 8 characters, kept to let a seller recognise the key
# An access token is for this API, from this gateway: a token signed with the same secret for
# another purpose (or by anything else holding it) does not pass for one.
ACCESS_AUDIENCE = "arbitragevault-api"
ACCESS_ISSUER = "arbitragevault-gateway"
# Without `exp` a token would never end; without `sid` revoking its login would not end it.
REQUIRED_CLAIMS = ["exp", "iat", "sid", "aud", "iss", "sub"]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_UNKNOWN_ACCOUNT_HASH = _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """False for a wrong password; an unknown account (None) takes as long, hiding it exists."""
    try:
        return (
            _hasher.verify(password_hash or _UNKNOWN_ACCOUNT_HASH, password)
            and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(
    user_id: uuid.UUID, role: str, secret: str, minutes: int, session_id: uuid.UUID
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "sid": str(session_id),
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
        "aud": ACCESS_AUDIENCE,
        "iss": ACCESS_ISSUER,
        "typ": "access",
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, secret: str) -> dict[str, Any] | None:
    """The claims of a valid access token of this gateway; None for anything else."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=ACCESS_AUDIENCE,
            issuer=ACCESS_ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError:
        return None
    return claims if claims.get("typ") == "access" else None


class VerifiedTokens:
    """Access tokens whose signature and claims this instance has checked: a token never
    changes, so a second use needs only its expiry checked (login revocation is checked apart,
    by the credential cache). Invalid tokens are not remembered: nobody can fill this with junk;
    at `max_entries` it starts afresh."""

    def __init__(self, secret: str, max_entries: int = 100_000) -> None:
        self._secret = secret
        self._max_entries = max_entries
        self._known: dict[str, tuple[float, dict[str, Any]]] = {}

    def claims(self, token: str) -> dict[str, Any] | None:
        known = self._known.get(token)
        if known is not None:
            if known[0] > time.time():
                return known[1]
            del self._known[token]
            return None
        claims = decode_access_token(token, self._secret)
        if claims is not None:
            if len(self._known) >= self._max_entries:
                self._known.clear()
            self._known[token] = (float(claims["exp"]), claims)
        return claims


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def is_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_PREFIX)


class HashingBusy(Exception):
    """More sign-ins wait for a password hash than the queue allows."""


class PasswordHashing:
    """Password hashes off the event loop, at most `concurrency` at once and `queue` waiting:
    argon2 costs a core for a good part of a second, so a flood of sign-ins would otherwise take
    every core from the requests of signed-in sellers. Past the queue, `HashingBusy` at once."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency, self._queue = concurrency, queue
        self._wanted = 0  # computing or waiting

    async def _run(self, work: Callable[[], _T]) -> _T:
        if self._wanted >= self._concurrency + self._queue:
            raise HashingBusy()
        self._wanted += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work)
        finally:
            self._wanted -= 1

    async def hash(self, password: str) -> str:
        return await self._run(lambda: hash_password(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await self._run(lambda: verify_password(password_hash, password))
