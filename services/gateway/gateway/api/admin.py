"""Administration (admins only, 403 otherwise): list sellers, disable one, set their quotas, issue
invite codes (registration mode `invite`).

A disabled seller's access tokens, refresh tokens and API keys stop working at once (every
request checks the account); enabling the account again restores them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select, update

from av_shared.pagination import (
    AFTER_DESCRIPTION,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET_ROWS,
    MAX_PAGE_SIZE,
    PAGE_DESCRIPTION,
    PAGINATION_NOTE,
    Page,
    after_key,
    capped_count,
    check_page,
    counted,
    encode_cursor,
    offset_of,
    page_answer,
    read_cursor,
)

from ..db.tables import users
from ..invites import create_invite
from ..quotas import QuotasOut, quotas_out, users_with_usage
from ..settings import GatewaySettings
from .deps import AdminUser, CacheDep, KnownQueryOnly, SessionDep, SettingsDep
from .problems import AUTHENTICATED, WITH_BODY, ProblemError, problems
from .schemas import RoleName

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=KnownQueryOnly)
ADMIN = (*AUTHENTICATED, 403)


class AdminUserOut(BaseModel):
    id: uuid.UUID
    email: str
    role: RoleName
    disabled: bool
    created_at: datetime
    quotas: QuotasOut


class UserPage(Page[AdminUserOut]):
    """Accounts, oldest first."""


class UserChangeIn(BaseModel):
    """Only the fields sent change. A quota set to null returns to the gateway's default."""

    model_config = ConfigDict(extra="forbid")

    disabled: bool | None = None
    role: RoleName | None = None
    max_items_per_day: int | None = Field(None, ge=0, le=100_000_000)
    max_open_batches: int | None = Field(None, ge=0, le=100_000)


def _view(row: Any, settings: GatewaySettings) -> AdminUserOut:
    """`row`: from quotas.users_with_usage()."""
    return AdminUserOut.model_validate(
        {
            "id": row.id,
            "email": row.email,
            "role": row.role,
            "disabled": row.disabled,
            "created_at": row.created_at,
            "quotas": quotas_out(row, settings),
        }
    )


@router.get(
    "/users",
    response_model=UserPage,
    responses=problems(*ADMIN),
    description="Accounts with their quotas and usage, oldest first (two queries whatever the "
    "page size)." + PAGINATION_NOTE,
)
async def list_users(
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET_ROWS, description=PAGE_DESCRIPTION)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    email: Annotated[str | None, Query(max_length=320, description="Part of the email")] = None,
    after: Annotated[
        str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)
    ] = None,
) -> Any:
    check_page(page, size, after)
    matching = users.c.email.contains(email.lower(), autoescape=True) if email else None
    counted_rows = select(users.c.id)
    listed = users_with_usage()
    if matching is not None:
        counted_rows, listed = counted_rows.where(matching), listed.where(matching)
    key = [users.c.created_at, users.c.id]  # ix_users_created_id
    if after is not None:
        listed = after_key(listed, key, read_cursor(after, "created", ["datetime", "uuid"]), False)
    total = await session.scalar(capped_count(counted_rows)) or 0
    read = (
        await session.execute(
            listed.order_by(*key).offset(0 if after else offset_of(page, size)).limit(size + 1)
        )
    ).all()
    rows, cursor = page_answer(read, size, lambda r: encode_cursor("created", [r.created_at, r.id]))
    return UserPage(
        items=[_view(r, settings) for r in rows],
        **counted(total),
        page=page,
        size=size,
        next=cursor,
    )


@router.get("/users/{user_id}", response_model=AdminUserOut, responses=problems(*ADMIN, 404))
async def get_user(
    user_id: uuid.UUID, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """One account with its quotas and usage."""
    row = (await session.execute(users_with_usage().where(users.c.id == user_id))).first()
    if row is None:
        raise ProblemError(404, "not-found", "Not found", "no such user")
    return _view(row, settings)


@router.patch(
    "/users/{user_id}",
    response_model=AdminUserOut,
    responses=problems(
        *ADMIN, *WITH_BODY, 404, 409, s409="An admin cannot disable or demote themself"
    ),
)
async def update_user(
    user_id: uuid.UUID,
    body: UserChangeIn,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    cache: CacheDep,
) -> Any:
    """Disable or enable a seller, change their role, set their quotas."""
    changes = body.model_dump(exclude_unset=True)
    for flag in ("disabled", "role"):
        if flag in changes and changes[flag] is None:
            del changes[flag]
    if user_id == admin.id and (changes.get("disabled") or changes.get("role") == "user"):
        raise ProblemError(
            409,
            "own-account",
            "Not on your own account",
            "an admin cannot disable or demote themself; ask another admin",
        )
    async with session.begin():
        query = update(users).where(users.c.id == user_id)
        changed = (
            await session.execute(
                (query.values(**changes) if changes else query.values(id=users.c.id)).returning(
                    users.c.id
                )
            )
        ).first()
        if changed is None:
            raise ProblemError(404, "not-found", "Not found", "no such user")
        row = (await session.execute(users_with_usage().where(users.c.id == user_id))).one()
    cache.forget_user(user_id)
    return _view(row, settings)


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = Field(None, description="only this address may spend the code")
    max_items_per_day: int | None = Field(
        None, ge=0, le=100_000_000, description="the new account's daily quota (null: default)"
    )
    days: int | None = Field(None, ge=1, le=365, description="lifetime (default INVITE_DAYS)")


class InviteOut(BaseModel):
    id: uuid.UUID
    code: str = Field(description="shown once: only a digest is stored")
    email: str | None
    max_items_per_day: int | None
    expires_at: datetime


@router.post(
    "/invites",
    status_code=201,
    response_model=InviteOut,
    responses=problems(*ADMIN, *WITH_BODY),
)
async def create_invite_code(
    body: InviteIn, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """An invite code for one registration (single use; needed when REGISTRATION_MODE is
    `invite`, the default in production)."""
    async with session.begin():
        invite = await create_invite(
            session,
            admin.id,
            timedelta(days=body.days or settings.invite_days),
            body.max_items_per_day,
            str(body.email) if body.email else None,
        )
    return InviteOut(
        id=invite.id,
        code=invite.code,
        email=str(body.email).lower() if body.email else None,
        max_items_per_day=invite.max_items_per_day,
        expires_at=invite.expires_at,
    )
