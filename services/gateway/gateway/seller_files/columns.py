"""Which column holds what: found by header, case- and punctuation-insensitively, in any order
(`ISBN-13`, `isbn13` and `ISBN 13` are one name), as scanners, InventoryLab, Amazon and hand-made
sheets name them."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Role = Literal["identifier", "cost", "condition", "quantity", "note"]
ROLES: tuple[Role, ...] = ("identifier", "cost", "condition", "quantity", "note")
# Best first: a sheet with both `ISBN` and `ASIN` columns reads the ISBN.
NAMES: dict[Role, tuple[str, ...]] = {
    "identifier": (
        "isbn", "isbn13", "isbn10", "isbnasin", "asinisbn", "asin", "ean", "ean13", "upc",
        "productid", "productcode", "externalproductid", "identifier", "code", "barcode",
        "scannedcode", "itemcode", "bookisbn",
    ),
    "cost": (
        "cost", "costunit", "costperunit", "unitcost", "buycost", "mycost", "netcost",
        "pricepaid", "paid", "purchaseprice", "buyprice", "costprice", "itemcost", "costeach",
        "price",
    ),
    "condition": ("condition", "itemcondition", "cond", "conditiontype", "bookcondition"),
    "quantity": ("quantity", "qty", "units", "copies", "count", "quantitypurchased"),
    "note": ("note", "notes", "comment", "comments", "remark", "remarks", "memo"),
}  # fmt: skip
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_CURRENCY_SUFFIX = re.compile(r"(usd|\$)$")


@dataclass(frozen=True)
class Columns:
    """Index of each role's column, and the column's name as the seller sees it (its header,
    or its letter in a file without headers)."""

    index: dict[Role, int]
    shown: dict[Role, str]
    header: bool  # the first row was a header row


def key_of(header: str) -> str:
    """'Cost/Unit ($)' -> 'costunit', 'ISBN-13' -> 'isbn13'."""
    key = _NOT_ALNUM.sub("", header.casefold())
    return _CURRENCY_SUFFIX.sub("", key) or key


def from_header(cells: Sequence[str]) -> Columns | None:
    """The columns named by this row, or None if it names no identifier column."""
    keys = [key_of(c) for c in cells]
    index: dict[Role, int] = {}
    for role in ROLES:
        for name in NAMES[role]:
            found = next(
                (i for i, k in enumerate(keys) if k == name and i not in index.values()), None
            )
            if found is not None:
                index[role] = found
                break
    if "identifier" not in index:
        return None
    return Columns(index, {role: cells[i].strip() for role, i in index.items()}, header=True)


def headerless() -> Columns:
    return Columns({"identifier": 0, "cost": 1}, {"identifier": "A", "cost": "B"}, header=False)


def letter(index: int) -> str:
    """0 -> 'A', 26 -> 'AA': the column as a spreadsheet names it."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = string.ascii_uppercase[rest] + name
    return name


SHOWN: dict[Role, str] = {
    "identifier": "ISBN, ISBN13, ISBN-10, EAN, UPC, ASIN, Product ID, Code",
    "cost": "Cost, Cost/Unit, Buy Cost, My Cost, Net Cost, Price Paid",
    "condition": "Condition",
    "quantity": "Quantity, Qty",
    "note": "Note, Notes, Comment",
}


def accepted_names(role: Role) -> str:
    return SHOWN[role]
