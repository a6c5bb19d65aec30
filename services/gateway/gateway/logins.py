"""Logins: a login holds one live refresh token at a time, rotated on every refresh.

Using a refresh token a second time (it was stolen, or replayed) revokes the whole login: the
thief's and the seller's tokens stop working together, and the seller logs in again. Refreshing
renews a login, but never past its absolute lifetime (SESSION_MAX_DAYS from the sign-in): a
stolen refresh token kept fresh does not last for ever.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .db.tables import auth_sessions, refresh_tokens, sign_in_failures, users
from .domain.sign_in import BackoffPolicy
from .security import new_refresh_token, token_digest

# Wrong passwords further apart than this start a new count.
SIGN_IN_FAILURES_REMEMBERED = timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    session_id: uuid.UUID
    refresh_token: str
    expires_at: datetime  # of the refresh token (and the login, unless refreshed)


@dataclass(frozen=True)
class Refreshed:
    user: Any  # the users row
    issued: Issued


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, revoked or reused (then its login is revoked)."""


async def start_login(
    session: AsyncSession, user_id: uuid.UUID, lifetime: timedelta, max_age: timedelta
) -> Issued:
    """A new login and its first refresh token (the caller commits)."""
    session_id, expires = uuid.uuid4(), datetime.now(UTC) + min(lifetime, max_age)
    await session.execute(
        auth_sessions.insert().values(id=session_id, user_id=user_id, expires_at=expires)
    )
    return await _issue(session, session_id, expires)


async def _issue(session: AsyncSession, session_id: uuid.UUID, expires: datetime) -> Issued:
    token = new_refresh_token()
    await session.execute(
        refresh_tokens.insert().values(
            token_hash=token_digest(token), session_id=session_id, expires_at=expires
        )
    )
    return Issued(session_id, token, expires)


async def rotate(
    session: AsyncSession, token: str, lifetime: timedelta, max_age: timedelta
) -> Refreshed:
    """Spend `token` for a new one of the same login, which lives `lifetime` but ends at the
    latest `max_age` after the sign-in. Commits; raises RefreshRefused."""
    now = datetime.now(UTC)
    async with session.begin():  # commits in every case: a reuse must leave the login revoked
        refused, result = await _rotate(session, token, lifetime, max_age, now)
    if refused:
        raise RefreshRefused(refused)
    assert result is not None
    return result


async def _rotate(
    session: AsyncSession, token: str, lifetime: timedelta, max_age: timedelta, now: datetime
) -> tuple[str | None, Refreshed | None]:
    row = (
        await session.execute(
            select(
                refresh_tokens.c.used_at,
                refresh_tokens.c.expires_at,
                auth_sessions.c.id.label("session_id"),
                auth_sessions.c.revoked_at,
                auth_sessions.c.user_id,
                auth_sessions.c.created_at,
            )
            .join(auth_sessions, auth_sessions.c.id == refresh_tokens.c.session_id)
            .where(refresh_tokens.c.token_hash == token_digest(token))
            .with_for_update(of=refresh_tokens)
        )
    ).first()
    if row is None:
        return "unknown refresh token", None
    if row.revoked_at is not None:
        return "this login was signed out or revoked; log in again", None
    if row.used_at is not None:
        await _revoke(session, row.session_id, "refresh token reused", now)
        return "refresh token already used: the login is revoked; log in again", None
    ends = row.created_at + max_age
    if ends <= now:
        return "this login reached its maximum lifetime (SESSION_MAX_DAYS); log in again", None
    if row.expires_at <= now:
        return "refresh token expired; log in again", None
    user = (await session.execute(select(users).where(users.c.id == row.user_id))).one()
    if user.disabled:
        return "account disabled", None
    await session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == token_digest(token))
        .values(used_at=now)
    )
    expires = min(now + lifetime, ends)
    await session.execute(
        update(auth_sessions).where(auth_sessions.c.id == row.session_id).values(expires_at=expires)
    )
    return None, Refreshed(user, await _issue(session, row.session_id, expires))


async def revoke_login(
    session: AsyncSession, session_id: uuid.UUID, reason: str, user_id: uuid.UUID | None = None
) -> bool:
    """Revoke a login (only `user_id`'s, when given). The caller commits."""
    return await _revoke(session, session_id, reason, datetime.now(UTC), user_id)


async def revoke_logins_of(
    session: AsyncSession, user_id: uuid.UUID, reason: str, keep: uuid.UUID | None = None
) -> int:
    """Revoke every live login of `user_id` but `keep`; how many. The caller commits."""
    query = update(auth_sessions).where(
        auth_sessions.c.user_id == user_id, auth_sessions.c.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(auth_sessions.c.id != keep)
    result = await session.execute(
        query.values(revoked_at=datetime.now(UTC), revoke_reason=reason).returning(
            auth_sessions.c.id
        )
    )
    return len(result.all())


async def login_of(session: AsyncSession, refresh_token: str) -> uuid.UUID | None:
    return await session.scalar(
        select(refresh_tokens.c.session_id).where(
            refresh_tokens.c.token_hash == token_digest(refresh_token)
        )
    )


async def _revoke(
    session: AsyncSession,
    session_id: uuid.UUID,
    reason: str,
    now: datetime,
    user_id: uuid.UUID | None = None,
) -> bool:
    query = update(auth_sessions).where(
        auth_sessions.c.id == session_id, auth_sessions.c.revoked_at.is_(None)
    )
    if user_id is not None:
        query = query.where(auth_sessions.c.user_id == user_id)
    result = await session.execute(
        query.values(revoked_at=now, revoke_reason=reason).returning(auth_sessions.c.id)
    )
    return result.first() is not None


async def sign_in_locked_for(session: AsyncSession, email: str) -> float:
    """Seconds until `email` may try a password again (0: now). On the database clock, which
    every gateway instance shares."""
    seconds = await session.scalar(
        select(func.extract("epoch", sign_in_failures.c.locked_until - func.now())).where(
            sign_in_failures.c.email == email, sign_in_failures.c.locked_until > func.now()
        )
    )
    return float(seconds or 0.0)


async def record_failed_sign_in(session: AsyncSession, email: str, policy: BackoffPolicy) -> int:
    """Count a wrong password for `email` and lock it as the policy says (the caller commits);
    answers the failures in a row. One statement: concurrent guesses each count."""
    table = sign_in_failures
    stale = table.c.last_failed_at < func.now() - SIGN_IN_FAILURES_REMEMBERED
    failures = (
        await session.execute(
            insert(table)
            .values(email=email, failures=1, last_failed_at=func.now(), locked_until=func.now())
            .on_conflict_do_update(
                index_elements=[table.c.email],
                set_={
                    "failures": case((stale, 1), else_=table.c.failures + 1),
                    "last_failed_at": func.now(),
                },
            )
            .returning(table.c.failures)
        )
    ).scalar_one()
    lock = policy.lock_seconds(failures)
    if lock:
        await session.execute(
            update(table)
            .where(table.c.email == email)
            .values(locked_until=func.now() + timedelta(seconds=lock))
        )
    return int(failures)


async def clear_failed_sign_ins(session: AsyncSession, email: str) -> None:
    await session.execute(delete(sign_in_failures).where(sign_in_failures.c.email == email))
