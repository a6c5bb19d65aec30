"""Accounts and tokens: register, log in (OAuth2 password flow), refresh, revoke, log out (here or
everywhere), change the password.

Registering never makes an admin (nothing proves the registrant owns the email): admins are
made with `python -m gateway.admin promote EMAIL`."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from ..db.tables import users
from ..logins import (
    Issued,
    RefreshRefused,
    login_of,
    revoke_login,
    revoke_logins_of,
    rotate,
    start_login,
)
from ..quotas import QuotasOut, quotas_view
from ..security import create_access_token, hash_password, verify_password
from ..settings import GatewaySettings
from .deps import (
    CacheDep,
    CurrentUser,
    KnownQueryOnly,
    SessionDep,
    SettingsDep,
    limit_by_client,
    unauthorized,
)
from .problems import AUTHENTICATED, COMMON, WITH_BODY, ProblemError, invalid, problems
from .schemas import RoleName

router = APIRouter(prefix="/api/v1", tags=["auth"], dependencies=KnownQueryOnly)
ByClient = [Depends(limit_by_client)]
# Sign-in endpoints are limited per client address (429), not authenticated.
PUBLIC_BODY = (*COMMON, 429, *WITH_BODY)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=8, max_length=256)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    role: RoleName


class TokenForm(BaseModel):
    """OAuth2 password flow (RFC 6749 4.3), as a form; other OAuth2 fields are ignored."""

    grant_type: Literal["password"] | None = Field(None, description="`password` if sent")
    username: str = Field(max_length=320, description="Your email")
    password: str = Field(max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str = Field(description="Single use: POST it to /api/v1/auth/refresh")
    refresh_expires_in: int


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


@router.post(
    "/auth/register",
    status_code=201,
    response_model=UserOut,
    dependencies=ByClient,
    responses=problems(*PUBLIC_BODY, 409, s409="An account with this email exists"),
)
async def register(body: RegisterIn, session: SessionDep) -> UserOut:
    """Create an account (a seller: `user`). The answer says whether the email has an account
    already (409): see the README's security section."""
    user_id = uuid.uuid4()
    email = body.email.lower()
    password_hash = await asyncio.to_thread(hash_password, body.password)  # ~50 ms of CPU
    async with session.begin():
        created = (
            await session.execute(
                insert(users)
                .values(id=user_id, email=email, role="user", password_hash=password_hash)
                .on_conflict_do_nothing(index_elements=["email"])
                .returning(users.c.id)
            )
        ).first()
    if created is None:
        raise ProblemError(
            409,
            "email-taken",
            "Email already registered",
            "an account with this email exists; log in instead",
        )
    return UserOut.model_validate({"id": user_id, "email": email, "role": "user"})


def _lifetimes(settings: GatewaySettings) -> tuple[timedelta, timedelta]:
    """A refresh token's lifetime, and its login's absolute one."""
    return timedelta(days=settings.refresh_token_days), timedelta(days=settings.session_max_days)


def _tokens(user_id: uuid.UUID, role: str, issued: Issued, settings: GatewaySettings) -> TokenOut:
    minutes = settings.access_token_minutes
    access = create_access_token(
        user_id, role, settings.jwt_secret.get_secret_value(), minutes, issued.session_id
    )
    refresh_seconds = (issued.expires_at - datetime.now(UTC)).total_seconds()
    return TokenOut(
        access_token=access,
        expires_in=minutes * 60,
        refresh_token=issued.refresh_token,
        refresh_expires_in=max(0, int(refresh_seconds)),
    )


@router.post(
    "/auth/token",
    response_model=TokenOut,
    dependencies=ByClient,
    responses=problems(*PUBLIC_BODY, 401, s401="Wrong email or password"),
)
async def create_token(
    form: Annotated[TokenForm, Form()], session: SessionDep, settings: SettingsDep
) -> TokenOut:
    """Log in: an access token (short-lived) and a refresh token (single use, rotated)."""
    async with session.begin():
        row = (
            await session.execute(select(users).where(users.c.email == form.username.lower()))
        ).first()
        known = await asyncio.to_thread(
            verify_password, row.password_hash if row else None, form.password
        )
        if row is None or row.disabled or not known:
            raise unauthorized("wrong email or password")
        issued = await start_login(session, row.id, *_lifetimes(settings))
    return _tokens(row.id, row.role, issued, settings)


@router.post(
    "/auth/refresh",
    response_model=TokenOut,
    dependencies=ByClient,
    responses=problems(
        *PUBLIC_BODY, 401, s401="The refresh token is unknown, spent, expired or revoked"
    ),
)
async def refresh_token(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> TokenOut:
    """A new access token and a new refresh token; the one sent is spent. Sending a spent refresh
    token again revokes its login (every token of it). A login ends SESSION_MAX_DAYS after its
    sign-in however often it is refreshed (`refresh_expires_in` says when)."""
    try:
        done = await rotate(session, body.refresh_token, *_lifetimes(settings))
    except RefreshRefused as exc:
        raise unauthorized(str(exc)) from None
    return _tokens(done.user.id, done.user.role, done.issued, settings)


@router.post(
    "/auth/revoke",
    status_code=204,
    response_class=Response,
    responses=problems(*AUTHENTICATED, *WITH_BODY),
)
async def revoke_token(
    body: RefreshIn, user: CurrentUser, session: SessionDep, cache: CacheDep
) -> Response:
    """Revoke the login a refresh token of yours belongs to: its refresh and access tokens stop
    working. Unknown tokens are ignored (RFC 7009)."""
    async with session.begin():
        login = await login_of(session, body.refresh_token)
        if login is not None:
            await revoke_login(session, login, "revoked", user_id=user.id)
    cache.forget_user(user.id)
    return Response(status_code=204)


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    responses=problems(*AUTHENTICATED, *WITH_BODY),
)
async def log_out(user: CurrentUser, session: SessionDep, cache: CacheDep) -> Response:
    """End the login of the access token used (an API key has none: delete the key instead)."""
    if user.session_id is not None:
        async with session.begin():
            await revoke_login(session, user.session_id, "logout", user_id=user.id)
        cache.forget_user(user.id)
    return Response(status_code=204)


@router.post(
    "/auth/logout-all",
    status_code=204,
    response_class=Response,
    responses=problems(*AUTHENTICATED, *WITH_BODY),
)
async def log_out_everywhere(user: CurrentUser, session: SessionDep, cache: CacheDep) -> Response:
    """End every login of yours, this one included: all their refresh and access tokens stop
    working. API keys are not logins: delete the ones to end (`DELETE /api/v1/api-keys/{id}`)."""
    async with session.begin():
        await revoke_logins_of(session, user.id, "logout everywhere")
    cache.forget_user(user.id)
    return Response(status_code=204)


@router.post(
    "/auth/password",
    status_code=204,
    response_class=Response,
    dependencies=ByClient,
    responses=problems(*AUTHENTICATED, *WITH_BODY),
)
async def change_password(
    body: PasswordChangeIn, user: CurrentUser, session: SessionDep, cache: CacheDep
) -> Response:
    """Change your password. Every other login of yours ends (whoever knew the old password may
    have logged in); the login this request came with stays. API keys keep working: list and
    delete those you do not trust. Counted like sign-in requests (it checks a password)."""
    async with session.begin():
        current = await session.scalar(select(users.c.password_hash).where(users.c.id == user.id))
    if not await asyncio.to_thread(verify_password, current, body.current_password):
        raise invalid("current_password", "not your current password")
    new_hash = await asyncio.to_thread(hash_password, body.new_password)
    async with session.begin():
        await session.execute(
            update(users).where(users.c.id == user.id).values(password_hash=new_hash)
        )
        await revoke_logins_of(session, user.id, "password changed", keep=user.session_id)
    cache.forget_user(user.id)
    return Response(status_code=204)


@router.get("/users/me", response_model=UserOut, responses=problems(*AUTHENTICATED))
async def get_me(user: CurrentUser) -> Any:
    """Your account."""
    return UserOut.model_validate({"id": user.id, "email": user.email, "role": user.role})


@router.get("/users/me/quotas", response_model=QuotasOut, responses=problems(*AUTHENTICATED))
async def get_my_quotas(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> QuotasOut:
    """Your limits and what you used of them (admins can change your limits)."""
    return await quotas_view(session, user.id, settings)
