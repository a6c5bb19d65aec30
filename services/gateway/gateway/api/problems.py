"""Errors as RFC 9457 problem details (`application/problem+json`), naming the offending field."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from av_shared.retry import TransientError, is_transient

log = logging.getLogger(__name__)
TRANSIENT_RETRY_AFTER_SECONDS = 2
# Where a database or network outage surfaces; `is_transient` decides which ones are.
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError, TransientError)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://arbitragevault.dev/problems/"


class FieldError(BaseModel):
    field: str = Field(
        description="Where: `items[3].identifier`, `strategy.min_profit`, a query "
        "parameter, or `body` for the body as a whole; in an uploaded file "
        '`row 17, column "ISBN"`'
    )
    message: str
    row: int | None = Field(None, description="An uploaded file: the row, as numbered there")
    column: str | None = Field(
        None, description="An uploaded file: the column's header (its letter without headers)"
    )


class Problem(BaseModel):
    """RFC 9457 problem details; the extension fields appear where they apply."""

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str | None = Field(None, description="What went wrong, naming the field or limit")
    instance: str | None = Field(None, description="The request path")
    errors: list[FieldError] | None = Field(None, description="422: every invalid field")
    limit: str | None = Field(
        None,
        description="409/429 quotas and rate limits: which limit "
        "(`max_items_per_day`, `max_open_batches`, "
        "`requests_per_window`)",
    )
    limit_value: int | None = Field(None, description="The limit's value")
    used: int | None = Field(None, description="How much of the limit is used")


def _header(description: str, kind: str = "integer") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


RETRY_AFTER = {"Retry-After": _header("Seconds to wait before retrying")}
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": _header("Requests allowed per window"),
    "RateLimit-Remaining": _header("Requests left in the current window"),
    "RateLimit-Reset": _header("Seconds until the window ends"),
}
DESCRIPTIONS: dict[int, str] = {
    400: "Malformed header",
    401: "Not authenticated: missing, invalid, expired or revoked credentials",
    403: "Forbidden: this needs the admin role",
    404: "Not found, or not yours",
    409: "Conflict with the current state (see `detail`)",
    412: "Precondition failed: If-Match names an older version",
    413: "Request body too large: a batch over MAX_REQUEST_BYTES, any other body over 64 KiB",
    415: "Unsupported media type",
    422: "Invalid input: `errors` names each field",
    429: "Rate limit or daily quota exceeded: retry after Retry-After seconds",
    502: "The analysis failed in the analysis service",
    503: "A dependency (database, internal service, market data) is unavailable; nothing was "
    "changed; retry after Retry-After seconds",
    504: "The analysis took longer than INSTANT_ANALYSIS_TIMEOUT_SECONDS; nothing was charged",
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": _header("`Bearer`", "string")},
    429: {**RETRY_AFTER, **RATE_LIMIT_HEADERS},
    503: RETRY_AFTER,
}
# Every public operation can answer these: a NUL character in a query is a 422 anywhere, the
# database may be away (503).
COMMON = (422, 503)
AUTHENTICATED = (401, 422, 429, 503)  # every authenticated request counts against the rate limit
WITH_BODY = (413, 415)  # POST, PUT, PATCH


def problems(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route: each status as problem+json, with its headers.
    `descriptions` (`s409="..."`) say what a status means on this route."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        response: dict[str, Any] = {
            "model": Problem,
            "description": descriptions.get(f"s{status}", DESCRIPTIONS[status]),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status in HEADERS:
            response["headers"] = HEADERS[status]
        documented[status] = response
    return documented


class ProblemError(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}
        self.extra = extra


def invalid(field: str, message: str) -> ProblemError:
    """A 422 naming one field, as the validation handler answers it."""
    return ProblemError(
        422,
        "validation",
        "Request validation failed",
        f"{field}: {message}",
        errors=[{"field": field, "message": message}],
    )


def malformed_json(position: int, why: str) -> str:
    return f"malformed JSON at character {position}" + (f": {why}" if why else "")


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_of(request: Request, exc: ProblemError) -> JSONResponse:
    return problem_response(
        request, exc.status, exc.slug, exc.title, exc.detail, exc.headers, **exc.extra
    )


def unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is restarting or its pool is exhausted: a retry will do, and the request's
    transaction (if any) was rolled back, so it changed nothing."""
    log.warning("%s %s: dependency unavailable: %s", request.method, request.url.path, exc)
    return problem_response(
        request,
        503,
        "dependency-unavailable",
        "Service unavailable",
        "The database is unavailable or busy; nothing was changed. Retry shortly.",
        {"Retry-After": str(TRANSIENT_RETRY_AFTER_SECONDS)},
    )


def _is_union_tag(part: int | str) -> bool:
    """A union member's tag (`<thresholds>`, see schemas.py), or pydantic's label of a member of
    an untagged union (`literal['a','b']`, `function-after[...]`): not a field."""
    return isinstance(part, str) and (
        (part.startswith("<") and part.endswith(">")) or bool(_UNION_LABEL.match(part))
    )


_UNION_LABEL = re.compile(r"^[a-z][a-z-]*\[.*\]$")


def field_path(loc: Sequence[int | str], error_type: str = "") -> str:
    """('body', 'items', 3, 'identifier') -> 'items[3].identifier';
    ('body', 'strategy', '<thresholds>', 'min_profit') -> 'strategy.min_profit'."""
    path = ""
    last = len(loc) - 1
    for n, part in enumerate(loc):
        if part in ("body", "query", "path", "header") and not path and n == 0:
            continue
        if _is_union_tag(part) and not (n == last and error_type == "extra_forbidden"):
            continue  # (an unknown key spelt like a tag is still named)
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def _field_error(error: Any) -> dict[str, str]:
    if error.get("type") == "json_invalid":  # loc is ("body", the character's position)
        position = error["loc"][-1] if error.get("loc") else 0
        return {
            "field": "body",
            "message": malformed_json(position, (error.get("ctx") or {}).get("error", "")),
        }
    return {
        "field": field_path(error["loc"], str(error.get("type", ""))),
        "message": _clean(str(error["msg"])),
    }


def allowed_methods(request: Request) -> str:
    """Every method of the request's path (RFC 9110 `Allow`): Starlette names only those of the
    first route that matched the path, and each method of a path is its own route here. Each
    method is tried against the routes (included routers match their own routes)."""
    allowed = [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(e) for e in exc.errors()[:100]]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        return problem_response(
            request,
            422,
            "validation",
            "Request validation failed",
            f"{first['field']}: {first['message']}{more}",
            errors=errors,
        )

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_of(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        cause = exc.__cause__
        if exc.status_code == 400 and isinstance(cause, RecursionError | ValueError):
            # FastAPI could not parse the JSON body (too deep, a number of 5,000 digits)
            why = "cannot be parsed: " + (
                "nested too deeply"
                if isinstance(cause, RecursionError)
                else str(cause).split(";")[0]
            )
            return problem_response(
                request,
                422,
                "validation",
                "Request validation failed",
                f"body: {why}",
                errors=[{"field": "body", "message": why}],
            )
        titles = {
            401: "Not authenticated",
            403: "Forbidden",
            404: "Not found",
            405: "Method not allowed",
            409: "Conflict",
            413: "Request too large",
            415: "Unsupported media type",
            429: "Too many requests",
            503: "Service unavailable",
        }
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return problem_response(
            request,
            exc.status_code,
            f"http-{exc.status_code}",
            titles.get(exc.status_code, "Error"),
            detail,
            headers,
        )

    async def on_infrastructure(request: Request, exc: Exception) -> Response:
        if not is_transient(exc):
            raise exc  # a bug, not an outage: the 500 handler below logs it
        # Handled here, not by the catch-all: that one closes the client's keep-alive connection.
        return unavailable(request, exc)

    for infrastructure_error in INFRASTRUCTURE_ERRORS:
        app.add_exception_handler(infrastructure_error, on_infrastructure)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Answered outside every middleware (Starlette's error middleware is the outermost):
        # the edge's headers are not added to it, so the one every answer needs is set here.
        return problem_response(
            request,
            500,
            "internal",
            "Internal error",
            "The error was logged; the request changed nothing it reported.",
            {"X-Content-Type-Options": "nosniff"},
        )
