"""PostgreSQL cannot store U+0000 in text: a NUL character anywhere in a request (a JSON string or
key, a query parameter, a form field) is bad input, answered 422 naming the field, before any
work is done; not a database error answered 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import problem_response

NUL = "\x00"


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
    if kind == "application/json" and b"\\u0000" in body:
        try:
            return nul_path(json.loads(body))
        except (ValueError, RecursionError):
            return None  # not JSON: the route answers that
    if kind == "application/x-www-form-urlencoded" and b"%00" in body:
        return _form_nul(body)
    return None


class NulGuard:
    """Pure ASGI (no per-request task group): a body is buffered, looked at only when it holds
    an escaped NUL, and handed on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        field = _form_nul(query) if b"%00" in query else None
        headers = dict(scope.get("headers") or [])
        kind = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if field is None and scope["method"] in ("POST", "PUT", "PATCH") and kind in (
                "application/json", "application/x-www-form-urlencoded"):
            chunks: list[bytes] = []
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    await self.app(scope, _replay([message], receive), send)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            field = _body_nul(kind, body)
            receive = _replay([{"type": "http.request", "body": body, "more_body": False}],
                              receive)
        if field is None:
            await self.app(scope, receive, send)
            return
        why = "must not contain the NUL character (U+0000)"
        response = problem_response(Request(scope), 422, "validation",
                                    "Request validation failed", f"{field}: {why}",
                                    errors=[{"field": field, "message": why}])
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def install_nul_guard(app: FastAPI) -> None:
    app.add_middleware(NulGuard)
