"""What every request passes before any route sees it, answered as problem+json:

- a request to a route that needs a user is authenticated first, before its body is read: without
  valid credentials it is a 401 whatever it sends, and every request of a seller, failed ones
  included, counts against the seller's rate limit;
- a body larger than its limit is a 413, whether it announces its length (`Content-Length`) or
  streams it (chunked): the bytes are counted as they arrive, and reading stops at the limit. A
  batch (`batch_body`) may have MAX_REQUEST_BYTES; every other body, parsed by FastAPI on the
  event loop (where 1 MiB of `[[],[],...]` takes 0.1 s), at most SMALL_BODY_BYTES (a valid one
  has a few hundred bytes);
- a body in another media type than the route takes (JSON; a form for the token endpoint) is 415;
- a JSON body that is not valid UTF-8 is a 422 naming `body`;
- PostgreSQL cannot store U+0000 in text: a NUL character anywhere in a request (a JSON string or
  key, a query parameter, a form field) is a 422 naming the field, before any work is done (in a
  batch, `batch_body` finds it, off the event loop).

It also makes the MAX_BUY_COST and MAX_BATCH_ITEMS settings of this app the limits the schemas
check, and answers a seller's `GET /api/v1/batches/{id}` itself when this instance has the answer
(`gateway.streams.batch_cache`, the same answer the route gives from it): a status poll is then
authentication, the rate limit and a dictionary read, without the router and its dependencies.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from av_shared.retry import is_transient

from ..charts.signing import carries_signature
from ..settings import GatewaySettings
from ..streams.batch_cache import BatchCache
from ..streams.tickets import carries_ticket
from .batch_body import NUL_MESSAGE
from .batch_upload import FILE_TYPES, MULTIPART
from .bounded_json import NUL, nul_path
from .deps import CurrentUserInfo, authenticate, get_current_user
from .problems import (
    INFRASTRUCTURE_ERRORS,
    ProblemError,
    invalid,
    problem_of,
    problem_response,
    unavailable,
)
from .schemas import batch_items_limit, buy_cost_limit

SMALL_BODY_BYTES = 64 * 1024
# Every route of the API needs a user but these (throttled per client address instead).
API_PREFIX = "/api/v1/"
SIGN_IN_PATHS = frozenset({"/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/refresh"})
# Routes whose body is parsed by `batch_body` (bounded, off the event loop): up to
# MAX_REQUEST_BYTES. Every other body is parsed by FastAPI on the event loop.
LARGE_BODIES = frozenset({("POST", "/api/v1/batches")})
BODY_METHODS = {"POST", "PUT", "PATCH"}
FORM_PATHS = {"/api/v1/auth/token"}
JSON, FORM = "application/json", "application/x-www-form-urlencoded"
BATCH_READ = re.compile(r"/api/v1/batches/([0-9A-Fa-f-]{32,36})")
# A batch may also be the seller's spreadsheet (batch_upload.py).
BATCH_KINDS = (JSON, MULTIPART, *sorted(FILE_TYPES))


def _form_nul(raw: bytes) -> str | None:
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if NUL in key or NUL in value:
            return key
    return None


def _body_nul(kind: str, body: bytes) -> str | None:
    if kind == JSON and b"\\u0000" in body:
        try:
            return nul_path(json.loads(body))
        except (ValueError, RecursionError):
            return None  # not JSON: the route answers that
    if kind == FORM and b"%00" in body:
        return _form_nul(body)
    return None


def _not_utf8(body: bytes) -> str | None:
    """Why a JSON body cannot be decoded (RFC 8259: UTF-8; UTF-16/32 with their BOM pattern)."""
    if body.isascii():  # the common case, at C speed: ASCII is UTF-8
        return None
    try:
        body.decode(json.detect_encoding(body))
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8: byte 0x{body[exc.start]:02x} at position {exc.start}"
    return None


def _invalid(request: Request, field: str, why: str) -> Response:
    return problem_of(request, invalid(field, why))


@dataclass(frozen=True)
class _Route:
    """What the guard needs to know of the route a request goes to."""

    authenticated: bool  # it needs a user
    large_body: bool  # its body is a batch, parsed by `batch_body`


def _route_of(scope: Scope) -> _Route:
    """By path: the guard runs before the router picks the route (a test in test_large_bodies
    checks these sets against the routes' dependencies)."""
    path = scope["path"]
    app = scope.get("app")
    # A test that supplies the user itself has nothing to authenticate.
    supplied = isinstance(app, FastAPI) and get_current_user in app.dependency_overrides
    protected = path.startswith(API_PREFIX) and path not in SIGN_IN_PATHS
    # A stream opened with `?ticket=` (a browser's EventSource): the route redeems the ticket.
    query = scope.get("query_string", b"")
    protected = protected and not carries_ticket(path, query)
    # A chart opened by its signed URL (a browser's <img>): the route verifies the signature.
    protected = protected and not carries_signature(path, query)
    return _Route(
        authenticated=protected and not supplied, large_body=(scope["method"], path) in LARGE_BODIES
    )


async def _refused(request: Request) -> Response | None:
    """401 or 429 (or 503 when the database is away) unless the caller is authenticated."""
    try:
        await authenticate(request)
    except ProblemError as exc:
        return problem_of(request, exc)
    except INFRASTRUCTURE_ERRORS as exc:
        if not is_transient(exc):
            raise
        return unavailable(request, exc)
    return None


def _kept_batch(request: Request) -> Response | None:
    """This instance's answer to a seller's read of their batch, when it has one."""
    match = BATCH_READ.fullmatch(request.scope["path"])
    user = getattr(request.state, "user", None)
    if match is None or not isinstance(user, CurrentUserInfo) or user.is_admin:
        return None
    try:
        batch_id = uuid.UUID(match[1])
    except ValueError:
        return None  # the route answers that
    cache: BatchCache = request.app.state.progress_hub.cache
    body = cache.get(batch_id, user.id)
    return None if body is None else Response(body, media_type="application/json")


class RequestGuard:
    """Pure ASGI (no per-request task group): a JSON or form body is buffered (at most its
    limit), looked at, and handed on unchanged."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.max_bytes = settings.max_request_bytes
        self.small_bytes = min(SMALL_BODY_BYTES, settings.max_request_bytes)
        self.max_buy_cost = Decimal(str(settings.max_buy_cost))
        self.max_batch_items = settings.max_batch_items

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        buy_cost_limit.set(self.max_buy_cost)  # this request's context only
        batch_items_limit.set(self.max_batch_items)
        problem, receive = await self._check(scope, receive)
        if problem is None:
            await self.app(scope, receive, send)
        else:
            await problem(scope, receive, send)

    async def _check(self, scope: Scope, receive: Receive) -> tuple[Response | None, Receive]:
        request = Request(scope)
        route = _route_of(scope)
        if route.authenticated and (refused := await _refused(request)) is not None:
            return refused, receive
        query = scope.get("query_string", b"")
        if not query and scope["method"] == "GET" and (known := _kept_batch(request)):
            return known, receive
        if b"%00" in query and (field := _form_nul(query)) is not None:
            return _invalid(request, field, NUL_MESSAGE), receive
        if scope["method"] not in BODY_METHODS:
            return None, receive
        return await self._check_body(request, route, receive)

    async def _check_body(
        self, request: Request, route: _Route, receive: Receive
    ) -> tuple[Response | None, Receive]:
        limit = self.max_bytes if route.large_body else self.small_bytes
        headers = request.headers
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            return self._too_large(request, limit), receive
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        expected = self._kinds(request, route)
        has_body = "transfer-encoding" in headers or (length is not None and length != "0")
        if has_body and kind not in expected:
            return problem_response(
                request,
                415,
                "unsupported-media-type",
                "Unsupported media type",
                "send " + " or ".join(expected),
            ), receive
        if kind not in expected:
            return None, receive
        body, receive = await _read(receive, limit)
        if body is None:
            return self._too_large(request, limit), receive
        if kind == JSON and body and (why := _not_utf8(body)) is not None:
            return _invalid(request, "body", why), receive
        if (kind == FORM or not route.large_body) and (field := _body_nul(kind, body)):
            return _invalid(request, field, NUL_MESSAGE), receive
        return None, receive

    @staticmethod
    def _kinds(request: Request, route: _Route) -> tuple[str, ...]:
        if request.scope["path"] in FORM_PATHS:
            return (FORM,)
        return BATCH_KINDS if route.large_body else (JSON,)

    def _too_large(self, request: Request, limit: int) -> Response:
        which = (
            "MAX_REQUEST_BYTES"
            if limit == self.max_bytes
            else "only a batch may have up to MAX_REQUEST_BYTES"
        )
        return problem_response(
            request,
            413,
            "too-large",
            "Request too large",
            f"the body may have at most {limit} bytes ({which})",
        )


async def _read(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """The whole body (None past `limit`: reading stops there), and a `receive` that hands it
    on."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"", _replay([message], receive)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:  # a streamed body: stop reading at the limit
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def install_request_guard(app: FastAPI, settings: GatewaySettings) -> None:
    app.add_middleware(RequestGuard, settings=settings)
