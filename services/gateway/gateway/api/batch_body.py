"""The body of `POST /api/v1/batches`: up to MAX_REQUEST_BYTES, read only once the seller is
authenticated, parsed with bounded work (`bounded_json`: it stops at the first line past
MAX_BATCH_ITEMS) and, when it is not small, parsed and validated in a worker thread, so that the
event loop keeps answering other requests meanwhile.

Every other route's body is small (the request guard caps it) and is left to FastAPI.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from . import bounded_json
from .batch_upload import FILE_TYPES, MULTIPART, BatchRequest, parse_upload, upload_of
from .deps import CurrentUser, SettingsDep
from .problems import ProblemError, invalid, malformed_json
from .schemas import NAME_PATTERN, BatchIn, too_many_items

T = TypeVar("T")
# 100,000 lines take seconds of CPU (parsing, validation, building the events), holding the GIL
# most of that time: a second thread would not make two batches faster, only hold two batches'
# objects in memory at once.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-body")
# Up to here a body is parsed on the event loop: a few hundred lines, a few milliseconds, and no
# wait behind a large batch in the worker.
INLINE_BYTES = 16 * 1024
# A line is one value (a flat object), or four when walked (the object and its three fields);
# twice that, and room for the name and the strategy.
VALUES_PER_LINE = 8
OTHER_VALUES = 1_000
NUL_MESSAGE = "must not contain the NUL character (U+0000)"
# The route's `openapi_extra`: FastAPI sees no body parameter (openapi.py adds the schemas).
_BINARY = {"type": "string", "format": "binary"}
_FILE_DESCRIPTION = (
    "A CSV/TSV (any of `, ; TAB |`, UTF-8 with or without BOM, UTF-16 as Excel's Unicode "
    "text) or XLSX file: columns found by header (ISBN/EAN/ASIN/Code..., Cost/Buy Cost/Price "
    "Paid..., optional Condition, Quantity, Note), or identifiers in column A and costs in B"
)
BATCH_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The batch as JSON, or a seller's spreadsheet (multipart/form-data "
        "with `file`, or the file as the body). " + _FILE_DESCRIPTION,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}},
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {**_BINARY, "description": _FILE_DESCRIPTION},
                        "name": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 200,
                            "pattern": NAME_PATTERN,
                            "description": "The batch's name (default: the file's name)",
                        },
                        "strategy": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/StrategyName"},
                                {"$ref": "#/components/schemas/StrategyOverride"},
                            ],
                            "description": "A strategy name, or thresholds as a JSON object "
                            "(as `strategy` of BatchIn)",
                        },
                    },
                },
                "encoding": {
                    "file": {"contentType": ", ".join(sorted(FILE_TYPES))},
                    "strategy": {"contentType": "application/json"},
                },
            },
            **{media: {"schema": _BINARY} for media in sorted(FILE_TYPES)},
        },
    }
}


async def in_worker(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in the worker thread, with this request's context (the settings the
    schemas read)."""
    call = functools.partial(contextvars.copy_context().run, function, *args)
    return await asyncio.get_running_loop().run_in_executor(_WORKER, call)


NameQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        pattern=NAME_PATTERN,
        description="A file sent as the whole body: the batch's name (default: the time of "
        "the upload). Ignored for JSON and multipart bodies, which carry their own `name`",
    ),
]
SheetQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="An XLSX file: the sheet to read, by name or number (1: the first, the "
        "default)",
    ),
]


async def batch_body(
    request: Request,
    _user: CurrentUser,
    settings: SettingsDep,
    name: NameQuery = None,
    sheet: SheetQuery = None,
) -> BatchRequest:
    """Takes the user so that the request is authenticated and counted (by the request guard,
    or by FastAPI when a test supplies the user) before a byte of the body is read."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() in (*FILE_TYPES, MULTIPART):
        max_cost = Decimal(str(settings.max_buy_cost))
        args = (raw, content_type, name, sheet, settings.max_batch_items, max_cost)
        return (
            await in_worker(_file_batch, *args) if len(raw) > INLINE_BYTES else _file_batch(*args)
        )
    if len(raw) <= INLINE_BYTES:
        return BatchRequest(parse_batch(raw, settings.max_batch_items))
    return BatchRequest(await in_worker(parse_batch, raw, settings.max_batch_items))


def _file_batch(
    raw: bytes,
    content_type: str,
    name: str | None,
    sheet: str | None,
    max_items: int,
    max_cost: Decimal,
) -> BatchRequest:
    return parse_upload(upload_of(raw, content_type, name, sheet), max_items, max_cost)


def parse_batch(raw: bytes, max_items: int) -> BatchIn:
    """The batch in `raw`, or the problem FastAPI's own parsing would answer (422 naming the
    field), and a 422 naming `items` as soon as there is one line too many."""
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        document = bounded_json.loads(
            raw,
            array_limits={"items": max_items},
            max_values=VALUES_PER_LINE * max_items + OTHER_VALUES,
        )
    except bounded_json.TooLong:
        raise ProblemError(
            422,
            "too-many-items",
            "Batch too large",
            f"items: more than {max_items} lines; {too_many_items(max_items)}",
            errors=[{"field": "items", "message": too_many_items(max_items)}],
        ) from None
    except bounded_json.Malformed as exc:
        raise invalid("body", malformed_json(exc.position, exc.why)) from None
    except bounded_json.Unparseable as exc:
        raise invalid("body", exc.message) from None
    # A NUL reaches a JSON string only as the escape `\u0000`: no search unless it is there.
    if b"\\u0000" in raw and (field := bounded_json.nul_path(document)) is not None:
        raise invalid(field, NUL_MESSAGE)
    try:
        return BatchIn.model_validate(document)
    except ValidationError as exc:  # located as FastAPI locates body errors
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None
