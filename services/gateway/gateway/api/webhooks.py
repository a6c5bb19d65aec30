"""Webhooks: your endpoints told when a batch completes or fails and when an alert triggers.

Every delivery is a POST of JSON `{"id", "type", "created_at", "data"}` with the headers
`ArbitrageVault-Event`, `ArbitrageVault-Delivery` (the same for every attempt of one delivery:
dedupe on it) and `ArbitrageVault-Signature: t=<unix>,v1=<HMAC-SHA256 hex>` over
`"<t>.<raw body>"` keyed with the secret answered once at creation. A 2xx answer accepts it;
anything else is retried with exponential backoff for a day.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from av_shared.pagination import (
    AFTER_DESCRIPTION,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET_ROWS,
    MAX_PAGE_SIZE,
    PAGE_DESCRIPTION,
    PAGINATION_NOTE,
    CursorValue,
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
from ..webhooks.outbox import WebhookEvent
from ..webhooks.signing import new_secret
from ..webhooks.ssrf import UnsafeTarget, check_registration
from ..webhooks.tables import webhook_attempts, webhook_deliveries, webhooks
from .deps import CurrentUser, KnownQueryOnly, SessionDep, SettingsDep
from .problems import AUTHENTICATED, WITH_BODY, ProblemError, invalid, problems
from .schemas import Name

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], dependencies=KnownQueryOnly)
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
# An https URL of a lowercase host name (its addresses are checked, here and at each delivery)
# with an optional port, path and query. WEBHOOK_ALLOW_PRIVATE_TARGETS also takes http:// and
# address literals (local receivers), beyond this pattern.
PUBLIC_URL_PATTERN = (
    rf"^https://{_LABEL}(\.{_LABEL})*\.[a-z]{{2,63}}(:{_PORT})?"
    r"(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?(\?[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?$"
)


def _distinct(events: list[WebhookEvent]) -> list[WebhookEvent]:
    if len(set(events)) != len(events):
        raise ValueError("each event at most once")
    return events


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2000,
        description="Where deliveries are POSTed: https:// and a host name whose addresses are "
        "public (checked now and before each delivery)",
        json_schema_extra={"pattern": PUBLIC_URL_PATTERN},
    )
    events: Annotated[list[WebhookEvent], AfterValidator(_distinct)] = Field(
        min_length=1, description="Which events to send", json_schema_extra={"uniqueItems": True}
    )
    description: Name | None = None


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[WebhookEvent]
    description: str | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every delivery: shown only now, store it safely")


class AttemptOut(BaseModel):
    attempt_no: int
    started_at: datetime
    duration_ms: int
    status_code: int | None = Field(description="Your endpoint's answer; null: no answer")
    error: str | None
    response_body: str | None = Field(description="The first 1000 characters of the answer")


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="Sent as ArbitrageVault-Delivery")
    event_id: uuid.UUID = Field(description="The `id` of the body: the same on a redelivery")
    event_type: WebhookEvent
    status: str = Field(description="pending, delivered, failed (gave up) or cancelled")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="While pending: the next attempt")
    delivered_at: datetime | None
    last_error: str | None
    redelivery_of: uuid.UUID | None
    payload: dict[str, Any]
    history: list[AttemptOut] = Field(description="Every attempt, oldest first")


class DeliveryPage(Page[DeliveryOut]):
    """Deliveries of one webhook, newest first."""


def _not_found(what: str = "webhook") -> ProblemError:
    return ProblemError(404, "not-found", "Not found", f"no such {what}")


def _out(row: Any) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        url=row.url,
        events=row.events,
        description=row.description,
        created_at=row.created_at,
    )


async def _own_webhook(session: AsyncSession, webhook_id: uuid.UUID, owner: uuid.UUID) -> Any:
    row = (
        await session.execute(
            select(webhooks).where(
                webhooks.c.id == webhook_id,
                webhooks.c.owner_id == owner,
                webhooks.c.deleted_at.is_(None),
            )
        )
    ).first()
    if row is None:
        raise _not_found()
    return row


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    responses=problems(
        *AUTHENTICATED,
        *WITH_BODY,
        409,
        s409="MAX_WEBHOOKS_PER_USER webhooks already: delete one",
        s422="Invalid input; a URL that is not https or resolves to a private, loopback, "
        "link-local or metadata address is named `url`",
    ),
)
async def create_webhook(
    body: WebhookIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> WebhookCreated:
    """Register an endpoint; the answer carries its signing secret (only this once)."""
    allow_private = settings.webhook_allow_private_targets
    if not allow_private and re.search(PUBLIC_URL_PATTERN, body.url) is None:
        raise invalid("url", "must be https:// and a lowercase host name (see the pattern)")
    try:
        await check_registration(body.url.strip(), allow_private)
    except UnsafeTarget as exc:
        raise invalid("url", str(exc)) from None
    hook_id, secret, now = uuid.uuid4(), new_secret(), datetime.now(UTC)
    async with session.begin():
        # The account row's lock: concurrent creations cannot pass the cap together.
        await session.execute(select(users.c.id).where(users.c.id == user.id).with_for_update())
        live = await session.scalar(
            select(func.count())
            .select_from(webhooks)
            .where(webhooks.c.owner_id == user.id, webhooks.c.deleted_at.is_(None))
        )
        if (live or 0) >= settings.max_webhooks_per_user:
            raise ProblemError(
                409,
                "too-many-webhooks",
                "Too many webhooks",
                f"at most {settings.max_webhooks_per_user} webhooks; delete one first",
            )
        await session.execute(
            webhooks.insert().values(
                id=hook_id,
                owner_id=user.id,
                url=body.url.strip(),
                events=list(body.events),
                secret=secret,
                description=body.description,
                created_at=now,
            )
        )
    return WebhookCreated(
        id=hook_id,
        url=body.url.strip(),
        events=body.events,
        description=body.description,
        created_at=now,
        secret=secret,
    )


@router.get("", response_model=list[WebhookOut], responses=problems(*AUTHENTICATED))
async def list_webhooks(user: CurrentUser, session: SessionDep) -> list[WebhookOut]:
    """Your webhooks (without their secrets)."""
    rows = (
        await session.execute(
            select(webhooks)
            .where(webhooks.c.owner_id == user.id, webhooks.c.deleted_at.is_(None))
            .order_by(webhooks.c.created_at)
        )
    ).all()
    return [_out(r) for r in rows]


@router.get("/{webhook_id}", response_model=WebhookOut, responses=problems(*AUTHENTICATED, 404))
async def get_webhook(webhook_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> WebhookOut:
    return _out(await _own_webhook(session, webhook_id, user.id))


@router.delete(
    "/{webhook_id}",
    status_code=204,
    response_class=Response,
    responses=problems(*AUTHENTICATED, 404),
)
async def delete_webhook(webhook_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Nothing more is sent to it; its pending deliveries are cancelled."""
    async with session.begin():
        deleted = (
            await session.execute(
                update(webhooks)
                .where(
                    webhooks.c.id == webhook_id,
                    webhooks.c.owner_id == user.id,
                    webhooks.c.deleted_at.is_(None),
                )
                .values(deleted_at=datetime.now(UTC))
                .returning(webhooks.c.id)
            )
        ).first()
        if deleted is None:
            raise _not_found()
        await session.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.webhook_id == webhook_id,
                webhook_deliveries.c.status == "pending",
            )
            .values(status="cancelled", last_error="the webhook was deleted")
        )
    return Response(status_code=204)


async def _deliveries(
    session: AsyncSession,
    *conditions: Any,
    page: int,
    size: int,
    after: list[CursorValue] | None = None,
    one_more: bool = False,
) -> list[Any]:
    """Newest first, ties by id descending (ix_webhook_deliveries_webhook_created_id);
    `one_more`: a row past the page (is there a next page?)."""
    d = webhook_deliveries.c
    query = select(webhook_deliveries).where(*conditions)
    if after is not None:
        query = after_key(query, [d.created_at, d.id], after, True)
    rows = (
        await session.execute(
            query.order_by(d.created_at.desc(), d.id.desc())
            .offset(0 if after else offset_of(page, size))
            .limit(size + one_more)
        )
    ).all()
    return list(rows)


async def _with_history(session: AsyncSession, rows: list[Any]) -> list[DeliveryOut]:
    attempts = (
        await session.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_([r.id for r in rows]))
            .order_by(webhook_attempts.c.id)
        )
    ).all()
    history: dict[uuid.UUID, list[AttemptOut]] = {}
    for a in attempts:
        history.setdefault(a.delivery_id, []).append(
            AttemptOut(
                attempt_no=a.attempt_no,
                started_at=a.started_at,
                duration_ms=a.duration_ms,
                status_code=a.status_code,
                error=a.error,
                response_body=a.response_body,
            )
        )
    return [
        DeliveryOut(
            id=r.id,
            event_id=r.event_id,
            event_type=r.event_type,
            status=r.status,
            attempts=r.attempts,
            created_at=r.created_at,
            next_attempt_at=r.next_attempt_at if r.status == "pending" else None,
            delivered_at=r.delivered_at,
            last_error=r.last_error,
            redelivery_of=r.redelivery_of,
            payload=r.payload,
            history=history.get(r.id, []),
        )
        for r in rows
    ]


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    responses=problems(*AUTHENTICATED, 404),
    description="What was sent to the webhook, newest first (ties by id, descending), each with "
    "every attempt and its answer." + PAGINATION_NOTE,
)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET_ROWS, description=PAGE_DESCRIPTION)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    after: Annotated[
        str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)
    ] = None,
) -> DeliveryPage:
    check_page(page, size, after)
    mark = None if after is None else read_cursor(after, "-created", ["datetime", "uuid"])
    async with session.begin():
        await _own_webhook(session, webhook_id, user.id)
        condition = webhook_deliveries.c.webhook_id == webhook_id
        total = await session.scalar(capped_count(select(webhook_deliveries.c.id).where(condition)))
        read = await _deliveries(
            session, condition, page=page, size=size, after=mark, one_more=True
        )
        rows, cursor = page_answer(
            read, size, lambda r: encode_cursor("-created", [r.created_at, r.id])
        )
        items = await _with_history(session, rows)
    return DeliveryPage(items=items, **counted(total or 0), page=page, size=size, next=cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    responses=problems(*AUTHENTICATED, *WITH_BODY, 404),
)
async def redeliver_webhook_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> DeliveryOut:
    """Send a delivery's event again, now: a new delivery (its own id, the same event id and
    body), retried like any other."""
    d = webhook_deliveries.c
    async with session.begin():
        await _own_webhook(session, webhook_id, user.id)
        original = (
            await session.execute(
                select(webhook_deliveries).where(d.id == delivery_id, d.webhook_id == webhook_id)
            )
        ).first()
        if original is None:
            raise _not_found("delivery")
        new_id = uuid.uuid4()
        await session.execute(
            webhook_deliveries.insert().values(
                id=new_id,
                webhook_id=webhook_id,
                event_key=original.event_key,
                event_id=original.event_id,
                event_type=original.event_type,
                payload=original.payload,
                redelivery_of=original.redelivery_of or original.id,
            )
        )
        rows = await _deliveries(session, d.id == new_id, page=1, size=1)
        return (await _with_history(session, rows))[0]
