"""Live progress of a batch: Server-Sent Events and WebSocket, and the tickets browsers open them
with (gateway.streams has the hub and the messages)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.requests import HTTPConnection

from ..db.tables import users
from ..streams.hub import ProgressHub, Subscription, follow
from ..streams.messages import HEARTBEAT, RETRY, StreamMessage, from_view, last_event_id
from ..streams.tickets import issue_ticket, redeem_ticket
from .batches import read_batch
from .deps import (
    CurrentUser,
    CurrentUserInfo,
    KnownQueryOnly,
    SettingsDep,
    api_key_header,
    authenticate,
    oauth2,
    unauthorized,
)
from .problems import AUTHENTICATED, WITH_BODY, ProblemError, problem_of, problems

router = APIRouter(tags=["batches"])
EVENTS_PATH = "/api/v1/batches/{batch_id}/events"
WEBSOCKET_PATH = "/api/v1/batches/{batch_id}/ws"
TicketParam = Annotated[
    str | None,
    Query(
        max_length=1000,  # longer than any ticket: a pasted access token is a 401, not a 422
        description="A ticket from `POST /api/v1/stream-tickets`, for clients that cannot send "
        "an Authorization header (EventSource, WebSocket in a browser); single use",
    ),
]


class StreamTicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_id: uuid.UUID | None = Field(
        None, description="Only this batch's stream may be opened with the ticket"
    )


class StreamTicket(BaseModel):
    ticket: str = Field(description="Pass as `?ticket=` once; it is spent by that use")
    expires_at: datetime
    batch_id: uuid.UUID | None


# One event of the stream, as Open API 3.1 reads `schema` of an event stream (3.2's itemSchema).
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "description": "`status` or `progress`"},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "retry": {"type": "integer", "minimum": 0},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "type": "object",
                "required": ["batch_id", "status", "items_total", "items_processed"],
                "properties": {
                    "batch_id": {"type": "string", "format": "uuid"},
                    "status": {"type": "string"},
                    "items_total": {"type": "integer"},
                    "items_processed": {"type": "integer"},
                    "items_failed": {"type": "integer"},
                    "eta_seconds": {"type": ["number", "null"]},
                },
            },
        },
    },
}


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


def _hub(conn: HTTPConnection) -> ProgressHub:
    return conn.app.state.progress_hub  # type: ignore[no-any-return]


async def _read_state(conn: HTTPConnection, user: CurrentUserInfo, batch_id: uuid.UUID) -> Any:
    """The batch as `GET /api/v1/batches/{id}` answers it (404 for another seller's), in a
    session of its own: an open stream holds no database connection."""
    owner = None if user.is_admin else user.id
    return await read_batch(
        conn.app.state.runtime.sessions, conn.app.state.services, batch_id, owner
    )


async def _ticket_holder(conn: HTTPConnection, ticket: str, batch_id: uuid.UUID) -> CurrentUserInfo:
    async with conn.app.state.runtime.sessions() as session:
        redeemed = await redeem_ticket(session, ticket, batch_id)
        if redeemed is None:
            raise unauthorized("unknown, used or expired stream ticket (or one for another batch)")
        row = (
            await session.execute(
                select(users.c.id, users.c.email, users.c.role, users.c.disabled).where(
                    users.c.id == redeemed.user_id
                )
            )
        ).first()
    if row is None or row.disabled:
        raise unauthorized("account unknown or disabled")
    return CurrentUserInfo(row.id, row.email, row.role)


async def _caller(conn: HTTPConnection, batch_id: uuid.UUID, ticket: str | None) -> CurrentUserInfo:
    """The stream's seller: from a ticket, else from the headers (the request guard has already
    authenticated an HTTP request that carries no ticket)."""
    if ticket is not None:
        return await _ticket_holder(conn, ticket, batch_id)
    known = getattr(conn.state, "user", None)
    if isinstance(known, CurrentUserInfo):
        return known
    return await authenticate(Request({**conn.scope, "type": "http"}))


async def _open(
    conn: HTTPConnection, batch_id: uuid.UUID, ticket: str | None
) -> tuple[Subscription, StreamMessage, Any]:
    """Subscribe, then read the state (so nothing in between is missed); 401/404 raised here,
    before anything is sent."""
    user = await _caller(conn, batch_id, ticket)
    subscription = _hub(conn).subscribe(batch_id)
    try:
        first = from_view(await _read_state(conn, user, batch_id))
    except BaseException:
        subscription.close()
        raise

    async def reread() -> StreamMessage:
        return from_view(await _read_state(conn, user, batch_id))

    return subscription, first, reread


@router.post(
    "/api/v1/stream-tickets",
    status_code=201,
    response_model=StreamTicket,
    dependencies=KnownQueryOnly,
    responses=problems(*AUTHENTICATED, *WITH_BODY, 404),
)
async def create_stream_ticket(
    request: Request, user: CurrentUser, settings: SettingsDep, body: StreamTicketIn | None = None
) -> StreamTicket:
    """A short-lived, single-use ticket to open a live progress stream with `?ticket=` (for
    browsers: EventSource and WebSocket cannot send an Authorization header, and an access
    token never goes in a URL)."""
    batch_id = body.batch_id if body else None
    if batch_id is not None:
        await _read_state(request, user, batch_id)  # 404 unless it is yours
    async with request.app.state.runtime.sessions() as session, session.begin():
        issued = await issue_ticket(session, user.id, batch_id, settings.stream_ticket_seconds)
    return StreamTicket(ticket=issued.ticket, expires_at=issued.expires_at, batch_id=batch_id)


@router.get(
    EVENTS_PATH,
    response_class=EventStreamResponse,
    dependencies=KnownQueryOnly,
    responses={
        200: {
            "description": "Server-Sent Events: first the batch's current state (`event: "
            "status`), then `event: status` at each status change and `event: progress` at "
            "most once a second; each `data:` is a JSON object with `batch_id`, `status`, "
            "`items_total`, `items_processed`, `items_failed`, `eta_seconds`, and each `id:` "
            "an integer increasing per batch (send it back as `Last-Event-ID` to resume). "
            "Comments (`: keepalive`) keep the connection alive; the stream ends after the "
            "event whose status is COMPLETED, FAILED or CANCELLED.",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        },
        **problems(*AUTHENTICATED, 404),
    },
)
async def stream_batch_events(
    batch_id: uuid.UUID,
    request: Request,
    settings: SettingsDep,
    ticket: TicketParam = None,
    last_event: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="The last `id` received: resume after it"),
    ] = None,
    # Declared for the OpenAPI document's security schemes; `_caller` reads the headers.
    _token: Annotated[str | None, Depends(oauth2)] = None,
    _api_key: Annotated[str | None, Depends(api_key_header)] = None,
) -> EventStreamResponse:
    """Follow a batch live until it finishes (Server-Sent Events)."""
    subscription, first, reread = await _open(request, batch_id, ticket)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield RETRY
            async for item in follow(
                subscription,
                first,
                last_event_id(last_event),
                reread,
                settings.stream_heartbeat_seconds,
            ):
                yield HEARTBEAT if item is None else item.sse
        finally:
            subscription.close()

    return EventStreamResponse(
        body(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.websocket(WEBSOCKET_PATH)
async def stream_batch_websocket(
    websocket: WebSocket,
    batch_id: uuid.UUID,
    ticket: TicketParam = None,
    last_event_id_param: Annotated[str | None, Query(alias="last_event_id")] = None,
) -> None:
    """The same messages as the event stream, as JSON text frames with `event` and `id` added;
    closed (1000) after the terminal one. Refused with the HTTP problem (401, 404) before the
    handshake completes."""
    settings = websocket.app.state.settings
    try:
        subscription, first, reread = await _open(websocket, batch_id, ticket)
    except ProblemError as exc:
        await websocket.send_denial_response(
            problem_of(Request({**websocket.scope, "type": "http"}), exc)
        )
        return
    try:
        await websocket.accept()
        closed = asyncio.create_task(_until_closed(websocket))
        try:
            async for item in follow(
                subscription,
                first,
                last_event_id(last_event_id_param),
                reread,
                settings.stream_heartbeat_seconds,
            ):
                if closed.done():
                    return
                if item is not None:
                    await websocket.send_text(item.websocket_text())
            await websocket.close(1000)
        finally:
            closed.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await closed
    except WebSocketDisconnect:
        pass
    finally:
        subscription.close()


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it closes."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
