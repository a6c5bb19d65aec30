"""What JSON Schema cannot say, for schemathesis (`SCHEMATHESIS_HOOKS`): valid identifiers of the
`book-identifier` format (an ISBN's check digit holds), and seller files of the upload's media
types (CSV, TSV, XLSX) with such identifiers and costs in cents."""

from __future__ import annotations

import io
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import schemathesis
from hypothesis import strategies as st

from av_shared.identifiers import isbn10_check_digit, isbn13_check_digit
from av_shared.pagination import MAX_OFFSET_ROWS, MAX_PAGE_SIZE

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_nine = st.text(string.digits, min_size=9, max_size=9)
ISBN10 = _nine.map(lambda s: s + isbn10_check_digit(s))
ISBN13 = st.tuples(st.sampled_from(["978", "979"]), _nine).map(
    lambda p: p[0] + p[1] + isbn13_check_digit(p[0] + p[1])
)
ASIN = st.text(string.ascii_uppercase + string.digits, min_size=9, max_size=9).map("B".__add__)
IDENTIFIERS = st.one_of(ISBN10, ISBN13, ASIN)
COSTS = st.integers(0, 1_000_000).map(lambda c: f"{c // 100}.{c % 100:02d}")
LINES = st.lists(st.tuples(IDENTIFIERS, COSTS), min_size=1, max_size=5)


def _text(delimiter: str, encoding: str) -> st.SearchStrategy[bytes]:
    return LINES.map(
        lambda lines: (
            f"ISBN{delimiter}Cost\r\n" + "".join(f"{i}{delimiter}{c}\r\n" for i, c in lines)
        ).encode(encoding)
    )


def _workbook(lines: list[tuple[str, str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["ISBN", "Cost"])
    for identifier, cost in lines:
        sheet.append([identifier, float(cost)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


schemathesis.openapi.format("book-identifier", IDENTIFIERS)
schemathesis.openapi.media_type("text/csv", _text(",", "utf-8"))
schemathesis.openapi.media_type("text/tab-separated-values", _text("\t", "utf-16"))
schemathesis.openapi.media_type(XLSX, LINES.map(_workbook))


def _whole(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _ascending_bands(strategy: dict[str, Any]) -> None:
    """Rank bands ascend by `up_to_rank` and only the last may be open (null), which JSON Schema
    cannot say of an array's items (the document says it in words): a valid list is renumbered
    so."""
    bands = strategy.get("rank_bands")
    if not isinstance(bands, list):
        return
    previous = 0
    for n, band in enumerate(bands):
        if not isinstance(band, dict):
            return
        rank = band.get("up_to_rank")
        if rank is None and n == len(bands) - 1:
            return
        rank = max(rank if isinstance(rank, int) else 0, previous + 1)
        band["up_to_rank"] = previous = min(rank, 100_000_000 - len(bands) + n + 1)


@schemathesis.hook
def map_case(
    context: schemathesis.HookContext,
    case: schemathesis.Case,  # type: ignore[type-arg]
) -> schemathesis.Case:  # type: ignore[type-arg]
    """Values that name the seller's own data or the clock, which no schema can know: `sheet`
    names a sheet of the uploaded workbook (a valid request names one the generated workbook
    has, its first; a text file has none), an API key's expiry is a time to come, a cursor
    (`after`) is one the API sent and offset pages stay within MAX_OFFSET_ROWS, an invite code
    is one an admin made, rank bands ascend, and If-Match
    a version of the config (a valid one is `*`, any version: a stale one is rightly a 412)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if case.path == "/api/v1/batches" and case.query and "sheet" in case.query:
        if case.media_type == XLSX:
            case.query["sheet"] = "1"
        else:
            del case.query["sheet"]
    # "In the future" is beyond JSON Schema (the document says it in words): a valid expiry
    # is a time to come, here a year from now.
    body = case.body
    if case.path == "/api/v1/api-keys" and isinstance(body, dict) and body.get("expires_at"):
        body["expires_at"] = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    if case.query and "after" in case.query:
        # A cursor is opaque: only a `next` the API sent is one (a made-up one is a 422).
        del case.query["after"]
    page, size = _whole((case.query or {}).get("page")), _whole((case.query or {}).get("size"))
    if case.query and page is not None:
        # Offset pages reach MAX_OFFSET_ROWS deep (`page * size`, which JSON Schema cannot bound
        # and the parameters' description says); deeper, a client follows `next`.
        # (without `size`, as if it were the largest, MAX_PAGE_SIZE)
        case.query["page"] = min(page, max(1, MAX_OFFSET_ROWS // max(size or MAX_PAGE_SIZE, 1)))
    if case.path == "/api/v1/auth/register" and isinstance(body, dict):
        # An invite code is one an admin made (the test stack's registration is open).
        body.pop("invite_code", None)
    strategy = body.get("strategy") if isinstance(body, dict) else None
    if isinstance(strategy, dict):
        _ascending_bands(strategy)
    if case.path == "/api/v1/config" and case.headers:
        for key in [k for k in case.headers if k.lower() == "if-match"]:
            case.headers[key] = "*"
    return case
