"""PostgreSQL cannot store U+0000 in text: a NUL character anywhere in a request (a JSON string or
key, a query parameter, a form field) is bad input, answered 422 naming the field, before any
work is done; not a database error answered 500."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response

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


async def nul_field(request: Request) -> str | None:
    for key, value in request.query_params.multi_items():
        if NUL in key or NUL in value:
            return key
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" and b"\\u0000" in body:
        try:
            return nul_path(json.loads(body))
        except (ValueError, RecursionError):
            return None  # not JSON: the route answers that
    if kind == "application/x-www-form-urlencoded" and b"%00" in body:
        for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if NUL in key or NUL in value:
                return key
    return None


def install_nul_guard(app: FastAPI) -> None:
    @app.middleware("http")
    async def reject_nul(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        field = await nul_field(request)
        if field is not None:
            message = "must not contain the NUL character (U+0000)"
            return problem_response(request, 422, "validation", "Request validation failed",
                                    f"{field}: {message}",
                                    errors=[{"field": field, "message": message}])
        return await call_next(request)
