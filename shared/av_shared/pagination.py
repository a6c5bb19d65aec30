"""Pages of a list: offset pages for the first rows, keyset cursors (`after`) for deep reads.

- Offsets are capped: `page * size` at most MAX_OFFSET_ROWS; beyond, a 422 naming `page` tells
  the client to follow `next` (an `after` cursor) instead. A deep offset page costs a scan of every
  row before it; a cursor page costs an index descent whatever its depth.
- A cursor is opaque to clients: base64url (no padding) of a JSON array `[sort, key..., id]`,
  the sort it was made for and the last row's sort key. It is checked when read (shape, types,
  the same sort): a malformed one is a 422 naming `after`. Rows inserted between two page reads
  never shift a cursor page (no row is repeated or skipped, unlike an offset).
- Totals are counted up to COUNT_LIMIT rows (the caller's rows only, on an owner-leading index):
  beyond, `total` is COUNT_LIMIT and `total_is_exact` false.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select, tuple_

T = TypeVar("T")
MAX_PAGE_SIZE = 500
MAX_OFFSET_ROWS = 10_000  # page * size at most this: deeper reads follow `next`
COUNT_LIMIT = 10_000  # rows counted at most for `total`
MAX_CURSOR_LENGTH = 512

KeyKind = Literal["datetime", "uuid", "int", "decimal", "str", "int?", "decimal?"]
CursorValue = datetime | uuid.UUID | int | Decimal | str | None
# What a cursor of the analyses list holds of each sort's key (then the id).
ANALYSIS_SORT_KINDS: dict[str, KeyKind] = {
    "created": "datetime",
    "roi": "decimal?",
    "profit": "decimal?",
    "velocity": "int?",
    "item": "int?",
}

PAGE_DESCRIPTION = (
    f"Page number, from 1: `page * size` at most {MAX_OFFSET_ROWS:,} rows (a 422 beyond). "
    "Deeper, follow `next` with `after`."
)
AFTER_DESCRIPTION = (
    "Keyset cursor: the `next` of the previous page (opaque). With `after`, `page` stays 1; "
    "rows inserted meanwhile never shift the pages (no row twice, none skipped)."
)
PAGINATION_NOTE = (
    f"\n\nPaging: `page`/`size` for the first {MAX_OFFSET_ROWS:,} rows, then `after` = the "
    "previous answer's `next` (null on the last page) at any depth, each page from an index. "
    f"`total` counts your rows up to {COUNT_LIMIT:,}: beyond, it is {COUNT_LIMIT:,} and "
    "`total_is_exact` is false."
)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(ge=0, description=f"Rows matching, counted up to {COUNT_LIMIT:,}")
    page: int = Field(ge=1)
    size: int = Field(ge=1, le=MAX_PAGE_SIZE)
    next: str | None = Field(
        None, description="Cursor of the following page (pass as `after`); null on the last page"
    )
    total_is_exact: bool = Field(
        True, description=f"False when more than {COUNT_LIMIT:,} rows match (`total` is capped)"
    )


def offset_of(page: int, size: int) -> int:
    return (page - 1) * size


class CursorError(ValueError):
    pass


def encode_cursor(sort: str, values: Sequence[CursorValue]) -> str:
    """The cursor after a row whose sort key (then id) is `values`, for the sort `sort`."""
    plain: list[Any] = [sort]
    for value in values:
        if isinstance(value, datetime):
            plain.append(value.isoformat())
        elif isinstance(value, uuid.UUID | Decimal):
            plain.append(str(value))
        else:
            plain.append(value)
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(text: str, sort: str, kinds: Sequence[KeyKind]) -> list[CursorValue]:
    """The sort key in `text`, checked against the sort and the kinds expected: CursorError."""
    if not text or len(text) > MAX_CURSOR_LENGTH:
        raise CursorError("not a cursor of this list")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        plain = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError("not a cursor of this list") from exc
    if not isinstance(plain, list) or len(plain) != len(kinds) + 1:
        raise CursorError("not a cursor of this list")
    if plain[0] != sort:
        raise CursorError(f"made for another sort ({plain[0]!r}), not {sort!r}")
    return [_value(value, kind) for value, kind in zip(plain[1:], kinds, strict=True)]


def _value(value: Any, kind: KeyKind) -> CursorValue:
    if value is None and kind.endswith("?"):
        return None
    base = kind.rstrip("?")
    try:
        if base == "datetime" and isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise CursorError("a time without its zone")
            return parsed
        if base == "uuid" and isinstance(value, str):
            return uuid.UUID(value)
        if base == "int" and isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > 2**63:
                raise CursorError("an integer out of range")
            return value
        if base == "decimal" and isinstance(value, str) and len(value) <= 40:
            number = Decimal(value)
            if not number.is_finite():
                raise CursorError("not a number")
            return number
        if base == "str" and isinstance(value, str):
            return value
    except (ValueError, InvalidOperation) as exc:
        raise CursorError("not a cursor of this list") from exc
    raise CursorError("not a cursor of this list")


def invalid_query(field: str, message: str) -> RequestValidationError:
    """A 422 naming the query parameter `field`, as FastAPI's own validation answers it."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", field), "msg": message, "input": None}]
    )


def check_page(page: int, size: int, after: str | None) -> None:
    """Offsets capped at MAX_OFFSET_ROWS; with a cursor, no offset at all."""
    if after is not None and page != 1:
        raise invalid_query("page", "with `after`, page must be 1 (the cursor says where)")
    if page * size > MAX_OFFSET_ROWS:
        raise invalid_query(
            "page",
            f"page * size at most {MAX_OFFSET_ROWS:,}: for deeper rows, follow `next` "
            "(pass it as `after`)",
        )


def read_cursor(after: str, sort: str, kinds: Sequence[KeyKind]) -> list[CursorValue]:
    """decode_cursor, a malformed cursor a 422 naming `after`."""
    try:
        return decode_cursor(after, sort, kinds)
    except CursorError as exc:
        raise invalid_query("after", f"malformed cursor: {exc}; pass a `next` as sent") from None


def counted(total: int) -> dict[str, Any]:
    """`total` and `total_is_exact` from a count of at most COUNT_LIMIT + 1 rows."""
    return {"total": min(total, COUNT_LIMIT), "total_is_exact": total <= COUNT_LIMIT}


def after_key(
    query: Select[Any], columns: Sequence[Any], values: Sequence[CursorValue], descending: bool
) -> Select[Any]:
    """The rows after a cursor, ordered by `columns` all ascending or all descending: a row
    comparison, one range of an index on those columns (read backwards when descending)."""
    row, mark = tuple_(*columns), tuple_(*values)
    return query.where(row < mark if descending else row > mark)


def capped_count(query: Select[Any]) -> Select[Any]:
    """How many rows `query` has, counted up to COUNT_LIMIT + 1 (see `counted`)."""
    return select(func.count()).select_from(query.limit(COUNT_LIMIT + 1).subquery())


def page_answer(
    rows: Sequence[Any], size: int, cursor_of: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    """The page from `size + 1` rows read, and the cursor after it when there is more."""
    shown = list(rows[:size])
    return shown, (cursor_of(shown[-1]) if len(rows) > size else None)
