"""A batch sent as the seller's own file: `multipart/form-data` (`file`, optional `name` and
`strategy`) or the file as the whole body (`text/csv`, `text/tab-separated-values`, XLSX), with
`name` and `sheet` as query parameters. The file is read into lines (`seller_files`) and then
discarded: only the lines are kept, as with a JSON batch."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..seller_files import (
    XLSX_MEDIA_TYPE,
    FileRejected,
    IgnoredRow,
    SellerFile,
    UnreadableFile,
    read_seller_file,
)
from .problems import ProblemError, invalid
from .schemas import BatchIn, ItemIn, Name, StrategyChoice, too_many_items

MULTIPART = "multipart/form-data"
FILE_TYPES = frozenset({"text/csv", "text/tab-separated-values", XLSX_MEDIA_TYPE})
MAX_FORM_FIELD_BYTES = 64 * 1024  # `name` and `strategy`
_NAME: TypeAdapter[str] = TypeAdapter(Name)
_STRATEGY: TypeAdapter[Any] = TypeAdapter(StrategyChoice)


@dataclass(frozen=True)
class FilePart:
    data: bytes
    media_type: str
    filename: str | None


@dataclass(frozen=True)
class Upload:
    """What the request sent besides the file's lines."""

    file: FilePart
    name: str | None = None
    strategy: str | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class BatchRequest:
    """The batch, and for a file what was found in it: which column is which (by role), and the
    rows ignored (trailing totals)."""

    batch: BatchIn
    columns: dict[str, str] | None = None
    ignored: list[IgnoredRow] = field(default_factory=list)


def upload_of(raw: bytes, content_type: str, name: str | None, sheet: str | None) -> Upload:
    """The upload in a raw or multipart body (a 422 naming the field when it is not one)."""
    kind, options = parse_options_header(content_type)
    media = kind.decode("latin-1").lower()
    if media != MULTIPART:
        return Upload(FilePart(raw, media, None), name=name, sheet=sheet)
    boundary = options.get(b"boundary")
    if not boundary:
        raise invalid("body", "multipart/form-data without a boundary")
    parts = _form_parts(raw, boundary)
    found = parts.get("file")
    if found is None or (found.filename is None and not found.data):
        raise invalid("file", "missing: send the spreadsheet as the form field `file`")
    return Upload(
        found,
        name=_text_field(parts, "name") or name,
        strategy=_text_field(parts, "strategy"),
        sheet=sheet,
    )


def _text_field(parts: dict[str, FilePart], key: str) -> str | None:
    part = parts.get(key)
    if part is None:
        return None
    if len(part.data) > MAX_FORM_FIELD_BYTES:
        raise invalid(key, f"at most {MAX_FORM_FIELD_BYTES} bytes")
    try:
        return part.data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(key, "not valid UTF-8") from None


def _form_parts(raw: bytes, boundary: bytes) -> dict[str, FilePart]:
    """The parts of a multipart body, in memory (the body is already bounded and buffered)."""
    parts: dict[str, FilePart] = {}
    headers: dict[bytes, bytes] = {}
    header_field, header_value, data = bytearray(), bytearray(), bytearray()

    def on_part_begin() -> None:
        headers.clear()
        data.clear()

    def on_header_field(chunk: bytes, start: int, end: int) -> None:
        header_field.extend(chunk[start:end])

    def on_header_value(chunk: bytes, start: int, end: int) -> None:
        header_value.extend(chunk[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_part_data(chunk: bytes, start: int, end: int) -> None:
        data.extend(chunk[start:end])

    def on_part_end() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        key = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        media, _ = parse_options_header(headers.get(b"content-type", b""))
        parts.setdefault(
            key,
            FilePart(
                bytes(data),
                media.decode("latin-1").lower(),
                filename.decode("utf-8", "replace") if filename is not None else None,
            ),
        )

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        parser.write(raw)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own errors and ValueError
        raise invalid("body", f"malformed multipart/form-data: {exc}") from None
    return parts


def parse_upload(upload: Upload, max_items: int, max_buy_cost: Decimal) -> BatchRequest:
    """The batch in the uploaded file, or the 422 naming every bad cell by row and column."""
    name = _validated(_NAME, "name", upload.name or _default_name(upload.file))
    strategy = _strategy(upload.strategy)
    try:
        found = read_seller_file(
            upload.file.data,
            _media_type(upload.file),
            sheet=upload.sheet,
            max_lines=max_items,
            max_buy_cost=max_buy_cost,
        )
    except UnreadableFile as exc:
        raise invalid(exc.field, exc.message) from None
    except FileRejected as exc:
        raise _rejected(exc, max_items) from None
    return BatchRequest(
        _batch_of(name, found, strategy),
        {str(role): shown for role, shown in found.columns.items()},
        found.ignored,
    )


def _media_type(part: FilePart) -> str:
    """A form part's own type, else guessed from its file name."""
    if part.media_type in FILE_TYPES:
        return part.media_type
    if part.filename and part.filename.lower().endswith((".xlsx", ".xlsm")):
        return XLSX_MEDIA_TYPE
    return "text/csv"


def _default_name(part: FilePart) -> str:
    if part.filename:
        return part.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    return f"file upload {datetime.now(UTC):%Y-%m-%d %H:%M}"


def _validated(adapter: TypeAdapter[Any], key: str, value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:  # located as FastAPI locates body errors
        raise RequestValidationError(
            [{**e, "loc": ("body", key, *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


def _strategy(raw: str | None) -> Any:
    """`balanced`, or a JSON object of thresholds (or a JSON string naming a preset)."""
    if raw is None or not raw.strip():
        return None
    value: Any = raw.strip()
    if value.startswith(("{", '"')):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise invalid("strategy", f"not JSON: {exc}") from None
    return _validated(_STRATEGY, "strategy", value)


def _batch_of(name: str, found: SellerFile, strategy: Any) -> BatchIn:
    """Every value was validated as the file was read (identifier, cost within MAX_BUY_COST and
    to the cent, condition, quantity, note): the models are built without validating again, and
    the events built from them validate once more."""
    items = [
        ItemIn.model_construct(
            identifier=line.identifier,
            buy_cost=line.buy_cost,
            condition=line.condition,
            quantity=line.quantity,
            note=line.note,
        )
        for line in found.lines
    ]
    return BatchIn.model_construct(name=name, items=items, strategy=strategy)


def _rejected(exc: FileRejected, max_items: int) -> ProblemError:
    if exc.too_many_lines is not None:
        message = f"more than {max_items} lines; {too_many_items(max_items)}"
        return ProblemError(
            422,
            "too-many-items",
            "Batch too large",
            f"items: {message}",
            errors=[{"field": "items", "message": too_many_items(max_items)}],
        )
    listed = len(exc.errors)
    more = exc.total - 1
    suffix = f" (and {more} more" + (
        f"; the first {listed} are listed)" if exc.total > listed else ")"
    )
    return ProblemError(
        422,
        "file-invalid",
        "The file has errors; nothing was stored",
        str(exc.errors[0]) + (suffix if more else ""),
        errors=[
            {
                "field": f'row {e.row}, column "{e.column}"' if e.column else f"row {e.row}",
                "message": e.message,
                "row": e.row,
                "column": e.column,
            }
            for e in exc.errors
        ],
    )
