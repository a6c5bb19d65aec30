"""Dependencies of the routes: the database session, the current user, the internal services.

A caller authenticates with a JWT access token (`Authorization: Bearer`) or an API key
(`Authorization: Bearer avk_...` or `X-API-Key`). Every authenticated request is counted against
the caller's rate limit, shared by all gateway instances through PostgreSQL: the request guard
authenticates before it reads the body or checks anything else, so a request that then fails
(413, 415, 422, 404, ...) is counted like one that succeeds.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..adapters.internal import InternalServices
from ..auth_cache import CredentialCache
from ..db.tables import api_keys, auth_sessions, users
from ..domain.sign_in import client_bucket
from ..ratelimit import SharedCounter, count_request, too_many_requests
from ..security import PasswordHashing, VerifiedTokens, is_api_key, token_digest
from ..settings import GatewaySettings
from ..streams.batch_cache import BatchCache
from .problems import ProblemError

oauth2 = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="An access token, or an API key (avk_...)",
)
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from POST /api/v1/api-keys"
)
LAST_USED_PRECISION = timedelta(minutes=1)  # at most one write per key and minute


@dataclass(frozen=True)
class CurrentUserInfo:
    id: uuid.UUID
    email: str
    role: str
    max_items_per_day: int | None = None  # None: the default setting
    max_open_batches: int | None = None
    session_id: uuid.UUID | None = None  # the login an access token belongs to
    api_key_id: uuid.UUID | None = None  # the API key the request came with

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


async def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessions() as session:
        yield session


async def get_services(request: Request) -> InternalServices:
    return request.app.state.services  # type: ignore[no-any-return]


async def get_credential_cache(request: Request) -> CredentialCache:
    """This instance's cache of credentials: a route that changes an account, a login or an API
    key forgets that user here at once (other instances learn of it by NOTIFY)."""
    return request.app.state.credential_cache  # type: ignore[no-any-return]


async def get_batch_cache(request: Request) -> BatchCache:
    """This instance's batch reads (gateway.streams.batch_cache), fed by the progress hub."""
    return request.app.state.progress_hub.cache  # type: ignore[no-any-return]


async def get_password_hashing(request: Request) -> PasswordHashing:
    return request.app.state.password_hashing  # type: ignore[no-any-return]


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
HashingDep = Annotated[PasswordHashing, Depends(get_password_hashing)]
CacheDep = Annotated[CredentialCache, Depends(get_credential_cache)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
ServicesDep = Annotated[InternalServices, Depends(get_services)]
BatchCacheDep = Annotated[BatchCache, Depends(get_batch_cache)]


def unauthorized(detail: str = "missing or invalid credentials") -> ProblemError:
    return ProblemError(
        401, "unauthorized", "Not authenticated", detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _user_info(row: Any, **extra: Any) -> CurrentUserInfo:
    if row is None or row.disabled:
        raise unauthorized("account unknown or disabled")
    return CurrentUserInfo(
        row.id, row.email, row.role, row.max_items_per_day, row.max_open_batches, **extra
    )


def _access_claims(request: Request, token: str) -> tuple[uuid.UUID, uuid.UUID]:
    """(user, login) of a valid access token (its expiry checked every time)."""
    tokens: VerifiedTokens = request.app.state.verified_tokens
    claims = tokens.claims(token)
    if claims is None:
        raise unauthorized("invalid or expired access token")
    try:
        return uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"]))
    except ValueError:
        raise unauthorized() from None


async def _by_access_token(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> CurrentUserInfo:
    # Every access token belongs to a login of its user (`sid` is required): ending the login
    # ends the token, whoever holds it.
    row = (
        await session.execute(
            select(users)
            .join(
                auth_sessions,
                and_(
                    auth_sessions.c.id == session_id,
                    auth_sessions.c.user_id == users.c.id,
                    auth_sessions.c.revoked_at.is_(None),
                ),
            )
            .where(users.c.id == user_id)
        )
    ).first()
    if row is None:
        raise unauthorized("this login was signed out or revoked; log in again")
    return _user_info(row, session_id=session_id)


async def _by_api_key(session: AsyncSession, key: str) -> tuple[CurrentUserInfo, datetime | None]:
    """The key's user and when the key expires (None: never)."""
    row = (
        await session.execute(
            select(users, api_keys.c.id.label("key_id"), api_keys.c.expires_at.label("key_expires"))
            .join(api_keys, api_keys.c.user_id == users.c.id)
            .where(
                api_keys.c.key_hash == token_digest(key),
                api_keys.c.revoked_at.is_(None),
                or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > func.now()),
            )
        )
    ).first()
    if row is None:
        raise unauthorized("unknown, revoked or expired API key")
    user = _user_info(row, api_key_id=row.key_id)
    now = datetime.now(UTC)
    await session.execute(
        update(api_keys)
        .where(
            api_keys.c.id == row.key_id,
            or_(
                api_keys.c.last_used_at.is_(None),
                api_keys.c.last_used_at < now - LAST_USED_PRECISION,
            ),
        )
        .values(last_used_at=now)
    )
    await session.commit()
    return user, row.key_expires


async def _identify(request: Request, credential: str) -> CurrentUserInfo:
    """Who `credential` is: from this instance's cache (gateway.auth_cache, at most
    CACHE_SECONDS old and forgotten when PostgreSQL announces a change), else from PostgreSQL."""
    cache: CredentialCache = request.app.state.credential_cache
    if is_api_key(credential):
        key: tuple[str, ...] = ("key", token_digest(credential))
    else:
        user_id, session_id = _access_claims(request, credential)
        key = ("login", str(user_id), str(session_id))
    cached = cache.get(key)
    if cached is not None:
        user, expires = cached
        if expires is None or expires > datetime.now(UTC):
            return user  # type: ignore[no-any-return]

    async def load() -> tuple[uuid.UUID, Any, float | None]:
        # Its own short session: the route's session stays free for its own transaction.
        async with request.app.state.runtime.sessions() as session:
            if key[0] == "key":
                user, expires = await _by_api_key(session, credential)
            else:
                user, expires = await _by_access_token(session, user_id, session_id), None
        ttl = None if expires is None else (expires - datetime.now(UTC)).total_seconds()
        return user.id, (user, expires), ttl

    user, _ = await cache.load_once(key, load)
    return user  # type: ignore[no-any-return]


async def authenticate(request: Request) -> CurrentUserInfo:
    """The caller of `request`, counted against their rate limit (401/429 otherwise). The request
    guard calls it before it reads a body; the route's `CurrentUser` is then this user."""
    settings: GatewaySettings = request.app.state.settings
    credential = await api_key_header(request) or await oauth2(request)
    if not credential:
        raise unauthorized()
    user = await _identify(request, credential)
    request.state.user = user
    if settings.rate_limit_requests:
        counter: SharedCounter = request.app.state.rate_counter
        state = await counter.count(
            f"user:{user.id}", settings.rate_limit_requests, settings.rate_limit_window_seconds
        )
        request.state.rate_limit = state
        if state.exceeded:
            raise too_many_requests(state, "your account")
    return user


async def get_current_user(
    request: Request,
    # Declared for the OpenAPI document's security schemes; `authenticate` reads the headers.
    token: Annotated[str | None, Depends(oauth2)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> CurrentUserInfo:
    known = getattr(request.state, "user", None)
    if isinstance(known, CurrentUserInfo):  # authenticated (and counted) by the request guard
        return known
    return await authenticate(request)


CurrentUser = Annotated[CurrentUserInfo, Depends(get_current_user)]


async def get_admin(user: CurrentUser) -> CurrentUserInfo:
    if not user.is_admin:
        raise ProblemError(403, "forbidden", "Admins only", "this needs the admin role")
    return user


AdminUser = Annotated[CurrentUserInfo, Depends(get_admin)]


async def limit_by_client(request: Request, settings: SettingsDep) -> None:
    """Register, token and refresh: counted per client address (slows password guessing)."""
    if not settings.auth_rate_limit_requests:
        return
    address = client_bucket(request.client.host) if request.client else "unknown"
    async with request.app.state.runtime.sessions() as session:
        state = await count_request(
            session,
            f"ip:{address}",
            settings.auth_rate_limit_requests,
            settings.rate_limit_window_seconds,
        )
    request.state.rate_limit = state
    if state.exceeded:
        raise too_many_requests(state, "sign-in requests from your address")


_QUERY_PARAMETERS: dict[int, frozenset[str]] = {}


def _query_parameters(route: APIRoute) -> frozenset[str]:
    key = id(route)
    if key not in _QUERY_PARAMETERS:
        names: set[str] = set()
        stack = [route.dependant]  # the route's own parameters and its dependencies'
        while stack:
            dependant = stack.pop()
            names.update(param.alias for param in dependant.query_params)
            stack.extend(dependant.dependencies)
        _QUERY_PARAMETERS[key] = frozenset(names)
    return _QUERY_PARAMETERS[key]


async def known_query_only(request: Request) -> None:
    """A query parameter the route does not take is a 422 naming it: a misspelt filter
    (`min_roii=50`) must not answer everything unfiltered."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _query_parameters(route)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        why = "unknown query parameter; this endpoint takes " + (
            ", ".join(sorted(known)) if known else "none"
        )
        raise ProblemError(
            422,
            "validation",
            "Request validation failed",
            f"{unknown[0]}: {why}",
            errors=[{"field": name, "message": why} for name in unknown[:100]],
        )


KnownQueryOnly = [Depends(known_query_only)]
