"""What every request passes before any route sees it, answered as problem+json:

- a body larger than MAX_REQUEST_BYTES is a 413, whether it announces its length
  (`Content-Length`) or streams it (chunked): the bytes are counted as they arrive, and reading
  stops at the limit;
- a body in another media type than the route takes (JSON; a form for the token endpoint) is 415;
- a JSON body that is not valid UTF-8 is a 422 naming `body`;
- PostgreSQL cannot store U+0000 in text: a NUL character anywhere in a request (a JSON string or
  key, a query parameter, a form field) is a 422 naming the field, before any work is done.

It also makes the MAX_BUY_COST setting of this app the limit `schemas.BuyCost` checks.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import GatewaySettings
from .problems import problem_response
from .schemas import buy_cost_limit

NUL = "\x00"
BODY_METHODS = {"POST", "PUT", "PATCH"}
FORM_PATHS = {"/api/v1/auth/token"}
JSON, FORM = "application/json", "application/x-www-form-urlencoded"


def nul_path(document: Any) -> str | None:
    """The path (`items[3].identifier`) of the first string holding a NUL, if any."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:  # iterative: a deeply nested document cannot exhaust the stack
        path, value = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                return path or "body"
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                here = f"{path}.{key}" if path else str(key)
                if NUL in str(key):
                    return here
                stack.append((here, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


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
    return problem_response(request, 422, "validation", "Request validation failed",
                            f"{field}: {why}", errors=[{"field": field, "message": why}])


class RequestGuard:
    """Pure ASGI (no per-request task group): a JSON or form body is buffered (at most
    MAX_REQUEST_BYTES), looked at, and handed on unchanged."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.max_bytes = settings.max_request_bytes
        self.max_buy_cost = Decimal(str(settings.max_buy_cost))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        buy_cost_limit.set(self.max_buy_cost)  # this request's context only
        problem, receive = await self._check(scope, receive)
        if problem is None:
            await self.app(scope, receive, send)
        else:
            await problem(scope, receive, send)

    async def _check(self, scope: Scope, receive: Receive) -> tuple[Response | None, Receive]:
        request = Request(scope)
        query = scope.get("query_string", b"")
        if b"%00" in query and (field := _form_nul(query)) is not None:
            return _invalid(request, field, "must not contain the NUL character (U+0000)"), receive
        if scope["method"] not in BODY_METHODS:
            return None, receive
        headers = request.headers
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            return self._too_large(request), receive
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        expected = FORM if scope["path"] in FORM_PATHS else JSON
        has_body = "transfer-encoding" in headers or (length is not None and length != "0")
        if has_body and kind != expected:
            return problem_response(request, 415, "unsupported-media-type",
                                    "Unsupported media type", f"send {expected}"), receive
        if kind not in (JSON, FORM):
            return None, receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None, _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:  # a streamed body: stop reading at the limit
                return self._too_large(request), receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replay = _replay([{"type": "http.request", "body": body, "more_body": False}], receive)
        if kind == JSON and body and (why := _not_utf8(body)) is not None:
            return _invalid(request, "body", why), replay
        if (field := _body_nul(kind, body)) is not None:
            return _invalid(request, field, "must not contain the NUL character (U+0000)"), replay
        return None, replay

    def _too_large(self, request: Request) -> Response:
        return problem_response(request, 413, "too-large", "Request too large",
                                f"the body may have at most {self.max_bytes} bytes "
                                "(MAX_REQUEST_BYTES)")


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def install_request_guard(app: FastAPI, settings: GatewaySettings) -> None:
    app.add_middleware(RequestGuard, settings=settings)
