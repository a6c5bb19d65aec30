"""A seller's own file (CSV, TSV, Excel's "Unicode text", XLSX) read into batch lines. Pure: bytes
in, lines out; nothing is kept.

The columns are found by their headers (or, without headers, by what the first two columns hold);
every bad cell is reported with the row and column the seller sees in the spreadsheet, all at
once (up to a limit), so that one round of corrections is enough.
"""

from __future__ import annotations

from decimal import Decimal

from .lines import FileRejected, IgnoredRow, RowError, SellerFile, SellerLine, read_rows
from .tables import XLSX_MEDIA_TYPE, UnreadableFile, rows_of

__all__ = [
    "XLSX_MEDIA_TYPE",
    "FileRejected",
    "IgnoredRow",
    "RowError",
    "SellerFile",
    "SellerLine",
    "UnreadableFile",
    "read_seller_file",
]

MAX_ERRORS = 100


def read_seller_file(
    data: bytes,
    media_type: str,
    *,
    sheet: str | None = None,
    max_lines: int,
    max_buy_cost: Decimal,
    max_errors: int = MAX_ERRORS,
) -> SellerFile:
    """The lines of the file; `FileRejected` names every bad cell, `UnreadableFile` says why the
    file cannot be read at all (not a spreadsheet, an unknown sheet)."""
    table = rows_of(data, media_type, sheet)
    return read_rows(
        table.rows,
        decimal_comma=table.decimal_comma,
        max_lines=max_lines,
        max_buy_cost=max_buy_cost,
        max_errors=max_errors,
    )
