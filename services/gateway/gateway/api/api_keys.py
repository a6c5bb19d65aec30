"""API keys for scripts and integrations: created (shown once), listed, deleted.

Send a key as `Authorization: Bearer avk_...` or `X-API-Key: avk_...`. Only its SHA-256 is stored.
A key may be given an expiry (`expires_at`): from then on it is a 401, as if deleted.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from sqlalchemy import ColumnElement, and_, func, or_, select, update

from ..db.tables import api_keys, users
from ..security import API_KEY_SHOWN_CHARS, new_api_key, token_digest
from .deps import CacheDep, CurrentUser, KnownQueryOnly, SessionDep, SettingsDep
from .problems import AUTHENTICATED, WITH_BODY, ProblemError, problems
from .schemas import NAME_PATTERN, DateTimeText, no_control_characters

router = APIRouter(prefix="/api/v1/api-keys", tags=["api_keys"], dependencies=KnownQueryOnly)
KeyName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(no_control_characters),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 100, "pattern": NAME_PATTERN}),
]


def _in_the_future(moment: datetime) -> datetime:
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # the calendar's very ends: year 1 east of UTC, 9999 west of it
        if moment.year == 1:
            raise ValueError("must be in the future") from None
        return datetime.max.replace(tzinfo=UTC)
    if moment <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return moment


# "In the future" is beyond JSON Schema: the document says it in words (and a past time is a 422
# naming `expires_at`).
Expiry = Annotated[AwareDatetime, DateTimeText, AfterValidator(_in_the_future)]


def _live() -> ColumnElement[bool]:
    """Neither deleted nor expired: a key that works (and counts against the cap)."""
    return and_(
        api_keys.c.revoked_at.is_(None),
        or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > func.now()),
    )


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: KeyName = Field(description="What the key is for, e.g. 'repricer script'")
    expires_at: Expiry | None = Field(
        None,
        description="When the key stops working: an RFC 3339 date-time with its offset, in the "
        "future (a time already past is refused: 422); null: when it is deleted",
    )


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it")
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown only now, store it safely")


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problems(
        *AUTHENTICATED, *WITH_BODY, 409, s409="MAX_API_KEYS_PER_USER live keys already: delete one"
    ),
)
async def create_api_key(
    body: ApiKeyIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> ApiKeyCreated:
    key, key_id, now = new_api_key(), uuid.uuid4(), datetime.now(UTC)
    async with session.begin():
        # Lock the account row: concurrent creations cannot pass the per-user cap together.
        await session.execute(select(users.c.id).where(users.c.id == user.id).with_for_update())
        active = await session.scalar(
            select(func.count()).select_from(api_keys).where(api_keys.c.user_id == user.id, _live())
        )
        if (active or 0) >= settings.max_api_keys_per_user:
            raise ProblemError(
                409,
                "too-many-api-keys",
                "Too many API keys",
                f"at most {settings.max_api_keys_per_user} keys; delete one first",
            )
        await session.execute(
            api_keys.insert().values(
                id=key_id,
                user_id=user.id,
                name=body.name,
                prefix=key[:API_KEY_SHOWN_CHARS],
                key_hash=token_digest(key),
                created_at=now,
                expires_at=body.expires_at,
            )
        )
    return ApiKeyCreated(
        id=key_id,
        name=body.name,
        prefix=key[:API_KEY_SHOWN_CHARS],
        created_at=now,
        expires_at=body.expires_at,
        key=key,
    )


@router.get("", response_model=list[ApiKeyOut], responses=problems(*AUTHENTICATED))
async def list_api_keys(user: CurrentUser, session: SessionDep) -> list[ApiKeyOut]:
    """Your keys that work (deleted and expired ones are not listed)."""
    rows = (
        await session.execute(
            select(api_keys)
            .where(api_keys.c.user_id == user.id, _live())
            .order_by(api_keys.c.created_at)
        )
    ).all()
    return [
        ApiKeyOut(
            id=r.id,
            name=r.name,
            prefix=r.prefix,
            created_at=r.created_at,
            last_used_at=r.last_used_at,
            expires_at=r.expires_at,
        )
        for r in rows
    ]


@router.delete(
    "/{key_id}", status_code=204, response_class=Response, responses=problems(*AUTHENTICATED, 404)
)
async def delete_api_key(
    key_id: uuid.UUID, user: CurrentUser, session: SessionDep, cache: CacheDep
) -> Response:
    """The key stops working at once."""
    async with session.begin():
        deleted = (
            await session.execute(
                update(api_keys)
                .where(
                    api_keys.c.id == key_id,
                    api_keys.c.user_id == user.id,
                    api_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=datetime.now(UTC))
                .returning(api_keys.c.id)
            )
        ).first()
    cache.forget_user(user.id)
    if deleted is None:
        raise ProblemError(404, "not-found", "Not found", "no such API key")
    return Response(status_code=204)
