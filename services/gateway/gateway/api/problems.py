"""Errors as RFC 9457 problem details (`application/problem+json`), naming the offending field."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from av_shared.retry import TransientError, is_transient

log = logging.getLogger(__name__)
TRANSIENT_RETRY_AFTER_SECONDS = 2
# Where a database or network outage surfaces; `is_transient` decides which ones are.
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError, TransientError)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://arbitragevault.dev/problems/"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


# Documented on every public route, so a generated client knows the error shape.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("Not authenticated"),
    404: _problem("Not found, or not yours"),
    422: _problem("Invalid input: `errors` names each field"),
    429: _problem("Rate limit or quota exceeded (see Retry-After)"),
    503: _problem("A dependency is unavailable; retry later"),
}


def problem_only_openapi(app: FastAPI) -> None:
    """FastAPI documents an error response in the route's media type too (application/json, or
    text/csv for an export); errors are problem+json only."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for item in schema["paths"].values():
                for op in item.values():
                    for response in op.get("responses", {}).values():
                        content = response.get("content", {})
                        if PROBLEM_JSON in content:
                            for media_type in [m for m in content if m != PROBLEM_JSON]:
                                del content[media_type]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class ProblemError(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(request: Request, status: int, slug: str, title: str,
                     detail: str | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status,
                            "instance": request.url.path}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_path(loc: Sequence[int | str]) -> str:
    """('body', 'items', 3, 'identifier') -> 'items[3].identifier'."""
    path = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and not path:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": field_path(e["loc"]), "message": _clean(str(e["msg"]))}
                  for e in exc.errors()[:100]]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        return problem_response(request, 422, "validation", "Request validation failed",
                                f"{first['field']}: {first['message']}{more}", errors=errors)

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(request, exc.status, exc.slug, exc.title, exc.detail,
                                exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {401: "Not authenticated", 403: "Forbidden", 404: "Not found",
                  405: "Method not allowed", 409: "Conflict", 413: "Request too large",
                  415: "Unsupported media type", 429: "Too many requests",
                  503: "Service unavailable"}
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(request, exc.status_code, f"http-{exc.status_code}",
                                titles.get(exc.status_code, "Error"), detail,
                                dict(exc.headers or {}))

    async def on_infrastructure(request: Request, exc: Exception) -> Response:
        if not is_transient(exc):
            raise exc  # a bug, not an outage: the 500 handler below logs it
        # The database is restarting or its pool is exhausted: a retry will do, and the
        # request's transaction (if any) was rolled back, so it changed nothing. Handled here,
        # not by the catch-all: that one closes the client's keep-alive connection.
        log.warning("%s %s: dependency unavailable: %s", request.method, request.url.path, exc)
        return problem_response(
            request, 503, "dependency-unavailable", "Service unavailable",
            "The database is unavailable or busy; nothing was changed. Retry shortly.",
            {"Retry-After": str(TRANSIENT_RETRY_AFTER_SECONDS)})

    for infrastructure_error in INFRASTRUCTURE_ERRORS:
        app.add_exception_handler(infrastructure_error, on_infrastructure)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "internal", "Internal error",
                                "The error was logged; the request changed nothing it reported.")

    _ = HTTPException
