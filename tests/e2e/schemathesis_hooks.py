"""What JSON Schema cannot say, for schemathesis (`SCHEMATHESIS_HOOKS`): valid identifiers of the
`book-identifier` format (an ISBN's check digit holds), and seller files of the upload's media
types (CSV, TSV, XLSX) with such identifiers and costs in cents."""

from __future__ import annotations

import io
import string

import openpyxl
import schemathesis
from hypothesis import strategies as st

from av_shared.identifiers import isbn10_check_digit, isbn13_check_digit

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


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """Values that name the seller's own data, which no schema can know: `sheet` names a sheet of
    the uploaded workbook (a valid request names one the generated workbook has, its first; a
    text file has none), and If-Match a version of the config (a valid one is `*`, any version:
    a stale one is rightly a 412)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if case.path == "/api/v1/batches" and case.query and "sheet" in case.query:
        if case.media_type == XLSX:
            case.query["sheet"] = "1"
        else:
            del case.query["sheet"]
    if case.path == "/api/v1/config" and case.headers:
        for key in [k for k in case.headers if k.lower() == "if-match"]:
            case.headers[key] = "*"
    return case
