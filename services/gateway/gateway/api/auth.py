"""Accounts and tokens: register, log in (OAuth2 password flow), refresh, revoke, log out (here or
everywhere), change the password.

Registering never makes an admin (nothing proves the registrant owns the email): admins are
made with `python -m gateway.admin promote EMAIL`."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.tables import users
from ..domain.sign_in import BackoffPolicy
from ..invites import spend_invite
from ..logins import (
    Issued,
    RefreshRefused,
    clear_failed_sign_ins,
    login_of,
    record_failed_sign_in,
    revoke_login,
    revoke_logins_of,
    rotate,
    sign_in_locked_for,
    start_login,
)
from ..quotas import QuotasOut, quotas_view
from ..security import HashingBusy, PasswordHashing, create_access_token
from ..settings import GatewaySettings
from .deps import (
    CacheDep,
    CurrentUser,
    HashingDep,
    KnownQueryOnly,
    SessionDep,
    SettingsDep,
    limit_by_client,
    unauthorized,
)
from .problems import AUTHENTICATED, COMMON, WITH_BODY, ProblemError, invalid, problems
from .schemas import Email, RoleName

router = APIRouter(prefix="/api/v1", tags=["auth"], dependencies=KnownQueryOnly)
ByClient = [Depends(limit_by_client)]
# Sign-in endpoints are limited per client address (429), not authenticated.
PUBLIC_BODY = (*COMMON, 429, *WITH_BODY)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=8, max_length=256)
    invite_code: str | None = Field(
        None,
        max_length=100,
        description="an admin's invite code: required when the gateway's registration mode is "
        "`invite` (the default in production)",
    )


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

    refresh_token: str = Field(
        min_length=1,
        max_length=200,
        # What /auth/token and /auth/refresh hand out: `avr_` and URL-safe base64 (RFC 4648).
        pattern=r"^avr_[A-Za-z0-9_-]+$",
        description="A refresh token as /api/v1/auth/token or /api/v1/auth/refresh sent it",
    )


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


@router.post(
    "/auth/register",
    status_code=201,
    response_model=UserOut,
    dependencies=ByClient,
    responses=problems(
        *PUBLIC_BODY,
        403,
        409,
        s403="Registration is closed",
        s409="An account with this email exists",
    ),
)
async def register(
    body: RegisterIn, session: SessionDep, settings: SettingsDep, hashing: HashingDep
) -> UserOut:
    """Create an account (a seller: `user`). The answer says whether the email has an account
    already (409): see the README's security section. Who may register is the gateway's
    REGISTRATION_MODE: anyone, holders of an invite code, or nobody (403)."""
    mode = settings.effective_registration_mode
    if mode == "closed":
        raise ProblemError(
            403, "registration-closed", "Registration is closed", "ask an admin for an account"
        )
    if mode == "invite" and not body.invite_code:
        raise invalid("invite_code", "registration needs an invite code; ask an admin for one")
    user_id = uuid.uuid4()
    email = body.email.lower()
    password_hash = await _hashed(hashing, body.password)
    async with session.begin():
        created = (
            await session.execute(
                insert(users)
                .values(
                    id=user_id,
                    email=email,
                    role="user",
                    password_hash=password_hash,
                    max_items_per_day=settings.effective_new_account_items,
                )
                .on_conflict_do_nothing(index_elements=["email"])
                .returning(users.c.id)
            )
        ).first()
        if created is not None and body.invite_code:
            await _spend(session, body.invite_code, email, user_id)
    if created is None:
        raise ProblemError(
            409,
            "email-taken",
            "Email already registered",
            "an account with this email exists; log in instead",
        )
    return UserOut.model_validate({"id": user_id, "email": email, "role": "user"})


async def _spend(session: AsyncSession, code: str, email: str, user_id: uuid.UUID) -> None:
    """Spend the invite on the new account, which gets the quota the invite names (else the
    one of new accounts); an unusable code undoes the registration."""
    spent = await spend_invite(session, code, email, user_id)
    if spent is None:
        raise invalid("invite_code", "unknown, used, expired or for another email")
    if spent.max_items_per_day is not None:
        await session.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(max_items_per_day=spent.max_items_per_day)
        )


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
    form: Annotated[TokenForm, Form()],
    session: SessionDep,
    settings: SettingsDep,
    hashing: HashingDep,
) -> TokenOut:
    """Log in: an access token (short-lived) and a refresh token (single use, rotated).

    Wrong passwords in a row for one email lock it for a while, doubling with each further one
    (SIGN_IN_FREE_FAILURES, SIGN_IN_LOCK_BASE_SECONDS, SIGN_IN_LOCK_MAX_SECONDS): a 429 with
    `Retry-After`, whatever the password, known email or not. A correct password clears it."""
    email = form.username.lower()
    async with session.begin():
        locked = await sign_in_locked_for(session, email)
        row = (await session.execute(select(users).where(users.c.email == email))).first()
    if locked > 0:
        raise _locked(locked)
    if not await _verified(hashing, row.password_hash if row else None, form.password):
        async with session.begin():
            await record_failed_sign_in(session, email, _backoff(settings))
        raise unauthorized("wrong email or password")
    if row is None or row.disabled:
        raise unauthorized("wrong email or password")
    async with session.begin():
        await clear_failed_sign_ins(session, email)
        issued = await start_login(session, row.id, *_lifetimes(settings))
    return _tokens(row.id, row.role, issued, settings)


def _backoff(settings: GatewaySettings) -> BackoffPolicy:
    return BackoffPolicy(
        free_failures=settings.sign_in_free_failures,
        base_lock_seconds=settings.sign_in_lock_base_seconds,
        max_lock_seconds=settings.sign_in_lock_max_seconds,
    )


def _locked(seconds: float) -> ProblemError:
    wait = max(1, math.ceil(seconds))
    return ProblemError(
        429,
        "sign-in-locked",
        "Too many wrong passwords",
        f"too many wrong passwords for this email in a row; retry in {wait} s",
        headers={"Retry-After": str(wait)},
        limit="wrong_passwords_in_a_row",
    )


def _busy() -> ProblemError:
    return ProblemError(
        503,
        "busy",
        "Too many sign-ins at once",
        "the service is checking too many passwords right now; retry in a second",
        headers={"Retry-After": "1"},
    )


async def _verified(hashing: PasswordHashing, password_hash: str | None, password: str) -> bool:
    try:
        return await hashing.verify(password_hash, password)
    except HashingBusy:
        raise _busy() from None


async def _hashed(hashing: PasswordHashing, password: str) -> str:
    try:
        return await hashing.hash(password)
    except HashingBusy:
        raise _busy() from None


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
    body: PasswordChangeIn,
    user: CurrentUser,
    session: SessionDep,
    cache: CacheDep,
    hashing: HashingDep,
) -> Response:
    """Change your password. Every other login of yours ends (whoever knew the old password may
    have logged in); the login this request came with stays. API keys keep working: list and
    delete those you do not trust. Counted like sign-in requests (it checks a password)."""
    async with session.begin():
        current = await session.scalar(select(users.c.password_hash).where(users.c.id == user.id))
    if not await _verified(hashing, current, body.current_password):
        raise invalid("current_password", "not your current password")
    new_hash = await _hashed(hashing, body.new_password)
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
