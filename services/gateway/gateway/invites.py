"""Invite codes: in `invite` registration mode (the default in production) an account is created
only with a code an admin issued, single use and short-lived. Only a digest is stored, as for
API keys: the code is shown once, to the admin who made it."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from .db.tables import invites
from .security import token_digest

INVITE_PREFIX = "avi_"


@dataclass(frozen=True)
class Invite:
    code: str  # shown once
    id: uuid.UUID
    expires_at: datetime
    max_items_per_day: int | None


async def create_invite(
    session: AsyncSession,
    created_by: uuid.UUID | None,
    lifetime: timedelta,
    max_items_per_day: int | None,
    email: str | None = None,
) -> Invite:
    """A new code (the caller commits); `email`: only that address may spend it."""
    code = INVITE_PREFIX + secrets.token_urlsafe(24)
    invite_id = uuid.uuid4()
    expires = (
        await session.execute(
            invites.insert()
            .values(
                id=invite_id,
                code_hash=token_digest(code),
                email=email.lower() if email else None,
                created_by=created_by,
                max_items_per_day=max_items_per_day,
                expires_at=func.now() + lifetime,
            )
            .returning(invites.c.expires_at)
        )
    ).scalar_one()
    return Invite(code, invite_id, expires, max_items_per_day)


@dataclass(frozen=True)
class SpentInvite:
    id: uuid.UUID
    max_items_per_day: int | None


async def spend_invite(
    session: AsyncSession, code: str, email: str, user_id: uuid.UUID
) -> SpentInvite | None:
    """Mark the code used by `user_id` (the caller commits, with the new account): None when it
    is unknown, used, expired or for another email. One statement: two registrations racing
    for one code cannot both have it."""
    row = (
        await session.execute(
            update(invites)
            .where(
                invites.c.code_hash == token_digest(code),
                invites.c.used_at.is_(None),
                invites.c.expires_at > func.now(),
                (invites.c.email.is_(None)) | (invites.c.email == email.lower()),
            )
            .values(used_at=func.now(), used_by=user_id)
            .returning(invites.c.id, invites.c.max_items_per_day)
        )
    ).first()
    return SpentInvite(row.id, row.max_items_per_day) if row else None
