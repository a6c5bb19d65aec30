"""Rows to batch lines: the header row (or its absence), then every row, collecting every bad
cell. Empty rows are skipped; total rows at the end (`Total`, or a cost without an identifier)
are ignored and reported."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from typing import TypeVar

from av_shared.events.chunk_item import Condition

from . import cells
from .cells import CellError
from .columns import Columns, Role, accepted_names, from_header, headerless
from .tables import Cell

_TOTAL_WORDS = re.compile(r"^\s*(grand\s*)?(sub\s*)?(total|totals|sum|summe|gesamt)\b", re.I)
# Evidence of the cost column's locale: 3,50 (decimal comma) or 3.50 (decimal point).
_DECIMAL_COMMA = re.compile(r"[0-9],[0-9]{1,2}\s*\$?$")
_DECIMAL_POINT = re.compile(r"[0-9]\.[0-9]{1,2}\s*\$?$")
SNIFF_ROWS = 1_000
T = TypeVar("T")


@dataclass(frozen=True)
class SellerLine:
    identifier: str  # normalised
    buy_cost: Decimal  # 2 decimals
    condition: Condition | None  # None: the seller's default
    quantity: int
    note: str | None


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based, as the spreadsheet numbers rows
    column: str | None  # the header (or the letter) of the column
    message: str

    def __str__(self) -> str:
        where = f'row {self.row}, column "{self.column}"' if self.column else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class IgnoredRow:
    row: int
    reason: str


@dataclass(frozen=True)
class SellerFile:
    lines: list[SellerLine]
    columns: dict[Role, str]  # role -> the column's name in the file
    ignored: list[IgnoredRow]


class FileRejected(Exception):
    """Nothing of the file is used: `errors` (at most the limit), `total` errors in all."""

    def __init__(self, errors: list[RowError], total: int, too_many_lines: int | None = None):
        super().__init__(str(errors[0]) if errors else "rejected")
        self.errors, self.total, self.too_many_lines = errors, total, too_many_lines


@dataclass
class _Collector:
    limit: int
    errors: list[RowError] = field(default_factory=list)
    total: int = 0

    def add(self, row: int, column: str | None, message: str) -> None:
        self.total += 1
        if len(self.errors) < self.limit:
            self.errors.append(RowError(row, column, message))


def read_rows(
    rows: Iterable[Sequence[Cell]],
    *,
    decimal_comma: bool | None,
    max_lines: int,
    max_buy_cost: Decimal,
    max_errors: int,
) -> SellerFile:
    numbered = ((n, row) for n, row in enumerate(rows, start=1) if not _blank(row))
    first = next(numbered, None)
    if first is None:
        raise FileRejected([RowError(1, None, "the file has no rows")], 1)
    columns = _columns_of(first[0], first[1])
    body: Iterator[tuple[int, Sequence[Cell]]] = (
        numbered if columns.header else chain([first], numbered)
    )
    reader = _Reader(columns, max_buy_cost, _Collector(max_errors))
    head, rest = _peek(body, SNIFF_ROWS)
    comma = decimal_comma if decimal_comma is not None else _comma_locale(head, columns)
    return reader.read(chain(head, rest), comma, max_lines)


def _blank(row: Sequence[Cell]) -> bool:
    return all(cells.is_empty(value) for value in row)


def _peek(
    rows: Iterator[tuple[int, Sequence[Cell]]], count: int
) -> tuple[list[tuple[int, Sequence[Cell]]], Iterator[tuple[int, Sequence[Cell]]]]:
    head = [row for _, row in zip(range(count), rows, strict=False)]
    return head, rows


def _columns_of(number: int, row: Sequence[Cell]) -> Columns:
    texts = [cells.text_of(value) for value in row]
    named = from_header(texts)
    if named is not None:
        if "cost" not in named.index:
            raise FileRejected(
                [
                    RowError(
                        number,
                        None,
                        "no cost column: name the column of what each copy cost "
                        f"({accepted_names('cost')}, ...)",
                    )
                ],
                1,
            )
        return named
    if len(row) >= 2 and _parses(row):
        return headerless()
    found = ", ".join(repr(t) for t in texts if t) or "nothing"
    raise FileRejected(
        [
            RowError(
                number,
                None,
                f"no identifier column: name it in the first row ({accepted_names('identifier')}, "
                f"...), or put identifiers in column A and costs in column B without a header "
                f"row (the first row has {found})",
            )
        ],
        1,
    )


def _parses(row: Sequence[Cell]) -> bool:
    """A first row of data in a file without headers: an identifier, then a cost."""
    try:
        cells.identifier(row[0])
    except CellError:
        return False
    return any(_is_cost(row[1], comma) for comma in (False, True))


def _is_cost(value: Cell, decimal_comma: bool) -> bool:
    try:
        cells.cost(value, decimal_comma=decimal_comma, max_cost=Decimal("1e9"))
    except CellError:
        return False
    return True


def _comma_locale(head: list[tuple[int, Sequence[Cell]]], columns: Columns) -> bool:
    at = columns.index["cost"]
    texts = [row[at] for _, row in head if at < len(row) and isinstance(row[at], str)]
    comma = any(_DECIMAL_COMMA.search(t) for t in texts)  # type: ignore[arg-type]
    return comma and not any(_DECIMAL_POINT.search(t) for t in texts)  # type: ignore[arg-type]


class _Reader:
    def __init__(self, columns: Columns, max_cost: Decimal, errors: _Collector) -> None:
        self.columns, self.max_cost, self.errors = columns, max_cost, errors
        self.at = columns.index

    def read(
        self, rows: Iterable[tuple[int, Sequence[Cell]]], decimal_comma: bool, max_lines: int
    ) -> SellerFile:
        lines: list[SellerLine] = []
        totals: list[IgnoredRow] = []  # rows that look like totals; an error unless trailing
        for number, row in rows:
            if self._is_total(row):
                totals.append(IgnoredRow(number, "a total row (no identifier)"))
                continue
            for total in totals:  # a "total" row followed by lines: not a total after all
                self.errors.add(
                    total.row,
                    self.columns.shown["identifier"],
                    "empty: enter an ISBN-10, ISBN-13 or ASIN",
                )
            totals = []
            line = self._line(number, row, decimal_comma)
            if line is not None:
                if len(lines) == max_lines:
                    raise FileRejected(self.errors.errors, self.errors.total, max_lines)
                lines.append(line)
        if self.errors.total:
            raise FileRejected(self.errors.errors, self.errors.total)
        if not lines:
            raise FileRejected([RowError(1, None, "the file has no lines to analyse")], 1)
        return SellerFile(lines, dict(self.columns.shown), totals)

    def _cell(self, row: Sequence[Cell], role: Role) -> Cell:
        at = self.at.get(role)
        return row[at] if at is not None and at < len(row) else None

    def _is_total(self, row: Sequence[Cell]) -> bool:
        ident = self._cell(row, "identifier")
        if isinstance(ident, str) and _TOTAL_WORDS.match(ident):
            return True
        return cells.is_empty(ident) and not cells.is_empty(self._cell(row, "cost"))

    def _line(self, number: int, row: Sequence[Cell], decimal_comma: bool) -> SellerLine | None:
        if all(cells.is_empty(self._cell(row, r)) for r in ("identifier", "cost")):
            return None  # only other columns filled in (a heading, a remark): not a line
        before = self.errors.total
        identifier = self._parsed(number, row, "identifier", cells.identifier, "")
        cost = self._parsed(
            number,
            row,
            "cost",
            lambda v: cells.cost(v, decimal_comma=decimal_comma, max_cost=self.max_cost),
            Decimal(0),
        )
        condition = self._parsed(number, row, "condition", cells.condition, None)
        quantity = self._parsed(number, row, "quantity", cells.quantity, 1)
        note = self._parsed(number, row, "note", cells.note, None)
        if self.errors.total > before:
            return None
        return SellerLine(identifier, cost, condition, quantity, note)

    def _parsed(
        self, number: int, row: Sequence[Cell], role: Role, parse: Callable[[Cell], T], absent: T
    ) -> T:
        """The cell's value (`absent` when the file has no such column), or `absent` and its
        error collected."""
        if role not in self.at:
            return absent
        try:
            return parse(self._cell(row, role))
        except CellError as exc:
            self.errors.add(number, self.columns.shown[role], exc.message)
            return absent
