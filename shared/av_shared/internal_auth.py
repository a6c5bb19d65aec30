"""Service-to-service authentication of the internal HTTP APIs.

The gateway is the only caller of the internal APIs. Every call carries a signed, short-lived
service token (JWT, HS256 with `INTERNAL_AUTH_SECRET`): issuer `gateway`, audience the service
called (`batch-service`, `analysis-service`), `iat` and `exp` required, a lifetime of
`TOKEN_SECONDS`. A token for one service is refused by the other (audience), an expired or
unsigned one by both. Reads are per owner: `owner_id` is required on every `/internal/...` route;
the admin view of every owner is a separate route tree, `/internal/admin/...`, whose tokens must
carry the `admin` scope (the gateway mints those only for an admin's request).
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request

ALGORITHM = "HS256"
ISSUER = "gateway"
TOKEN_SECONDS = 60
ADMIN_PREFIX = "/internal/admin/"
DEV_INTERNAL_SECRET = "dev-only-internal-secret-change-me-0123456789"


class ServiceTokens:
    """Mints the caller's tokens; one is reused for half its lifetime (signing per request would
    cost the read path)."""

    def __init__(self, secret: str, issuer: str = ISSUER) -> None:
        self._secret = secret
        self._issuer = issuer
        self._cache: dict[tuple[str, bool], tuple[float, str]] = {}

    def header(self, audience: str, *, admin: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(audience, admin=admin)}"}

    def token(self, audience: str, *, admin: bool = False) -> str:
        now = time.time()
        cached = self._cache.get((audience, admin))
        if cached is not None and cached[0] > now + TOKEN_SECONDS / 2:
            return cached[1]
        expires = now + TOKEN_SECONDS
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": audience,
            "iat": int(now),
            "exp": int(expires),
            "scope": "admin" if admin else "owner",
        }
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        self._cache[(audience, admin)] = (expires, token)
        return token


def verify_service_token(token: str, *, secret: str, audience: str) -> dict[str, Any] | None:
    """The claims of a valid token for `audience`, or None."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
    except jwt.PyJWTError:
        return None
    return claims


def service_auth(audience: str, secret: str) -> Any:
    """A FastAPI dependency for a service's internal routes: 401 without a valid token for this
    service, 403 for an admin route without the admin scope."""

    async def check(request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        claims = (
            verify_service_token(token, secret=secret, audience=audience)
            if scheme.lower() == "bearer" and token
            else None
        )
        if claims is None:
            raise HTTPException(
                401, "a valid service token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        if request.url.path.startswith(ADMIN_PREFIX) and claims.get("scope") != "admin":
            raise HTTPException(403, "the admin view needs an admin-scoped service token")

    return Depends(check)


async def _owner_scope(request: Request, owner_id: uuid.UUID | None = None) -> uuid.UUID | None:
    """The owner a read is limited to: required, except on the admin routes (None: all)."""
    if owner_id is None and not request.url.path.startswith(ADMIN_PREFIX):
        raise HTTPException(422, "owner_id is required (the admin view is /internal/admin/...)")
    return owner_id


Owner = Annotated[uuid.UUID | None, Depends(_owner_scope)]


def mount_internal_api(app: FastAPI, router: APIRouter, *, audience: str, secret: str) -> None:
    """The service's internal routes at /internal (per owner) and /internal/admin (all owners),
    every one behind the service token."""
    auth = [service_auth(audience, secret)]
    app.include_router(router, prefix="/internal", dependencies=auth)
    app.include_router(
        router, prefix=ADMIN_PREFIX.rstrip("/"), dependencies=auth, include_in_schema=False
    )
