"""Identifier rules: ASIN shape, ISBN-10/13 check digits, and the code -> ASIN mapping.

A 978 ISBN-13 has an ISBN-10 twin, which is the book's ASIN. A 979 ISBN-13 has none, so
Amazon gives such books a "B0..." ASIN; the simulator derives it with an invertible map so
that requesting that ASIN later yields the same product with the same `eanList`.
"""

from __future__ import annotations

import re

ASIN_RE = re.compile(r"^[A-Z0-9]{10}$")
CODE_RE = re.compile(r"^[0-9]{8,14}$")

_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_B0_SPACE = 36**8  # the 8 characters after "B0"
_B0_MUL = 1_000_003  # prime, so coprime with 36: the map below is a bijection on _B0_SPACE
_B0_ADD = 1_518_500_249
_B0_MUL_INV = pow(_B0_MUL, -1, _B0_SPACE)
_ISBN_BODY_SPACE = 10**9  # the 9 digits between "979" and the check digit


def normalize_asin(raw: str) -> str:
    return raw.strip().upper()


def is_asin(value: str) -> bool:
    return ASIN_RE.match(value) is not None


def is_code(value: str) -> bool:
    return CODE_RE.match(value) is not None


def isbn10_check(first9: str) -> str:
    total = sum((10 - i) * int(d) for i, d in enumerate(first9))
    check = (11 - total % 11) % 11
    return "X" if check == 10 else str(check)


def ean13_check(first12: str) -> str:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def is_isbn10(value: str) -> bool:
    return bool(re.match(r"^[0-9]{9}[0-9X]$", value)) and isbn10_check(value[:9]) == value[9]


def is_ean13(value: str) -> bool:
    return len(value) == 13 and value.isdigit() and ean13_check(value[:12]) == value[12]


def isbn10_to_isbn13(isbn10: str) -> str | None:
    if not is_isbn10(isbn10):
        return None
    body = "978" + isbn10[:9]
    return body + ean13_check(body)


def isbn13_to_isbn10(code: str) -> str | None:
    if not (is_ean13(code) and code.startswith("978")):
        return None
    first9 = code[3:12]
    return first9 + isbn10_check(first9)


def code979_to_asin(code: str) -> str | None:
    if not (is_ean13(code) and code.startswith("979")):
        return None
    value = (int(code[3:12]) * _B0_MUL + _B0_ADD) % _B0_SPACE
    chars = []
    for _ in range(8):
        value, digit = divmod(value, 36)
        chars.append(_B36[digit])
    return "B0" + "".join(reversed(chars))


def asin_to_code979(asin: str) -> str | None:
    if not (is_asin(asin) and asin.startswith("B0")):
        return None
    value = 0
    for char in asin[2:]:
        value = value * 36 + _B36.index(char)
    body = ((value - _B0_ADD) * _B0_MUL_INV) % _B0_SPACE
    if body >= _ISBN_BODY_SPACE:
        return None  # an ordinary B0 ASIN, not one derived from a 979 ISBN-13
    first12 = f"979{body:09d}"
    return first12 + ean13_check(first12)


def asin_for_code(code: str) -> str | None:
    """The ASIN a book code resolves to when no recorded product claims the code."""
    return isbn13_to_isbn10(code) or code979_to_asin(code)


def ean_for_asin(asin: str) -> str | None:
    """The ISBN-13 a synthetic book lists in `eanList`, if its ASIN implies one."""
    return isbn10_to_isbn13(asin) or asin_to_code979(asin)
