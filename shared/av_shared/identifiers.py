"""Book identifiers: ISBN-10, ISBN-13 and Amazon ASINs.

Shared by the gateway (which rejects bad input with a reason the seller can act on) and the
analysis service (which needs the ASIN to look a book up on Keepa). Pure stdlib, no I/O.

Rules:
- normalise by upper-casing (so a trailing ``x`` becomes ``X``), dropping a leading label
  ("ISBN", "ISBN:", "ISBN-10", "ISBN13:", ...) and then removing spaces and hyphens. The label
  goes first: once spaces are gone, "ISBN 1305271890" would read as "ISBN13" + "05271890";
- ISBN-10: 9 digits and a check character, weighted sum (10..1) divisible by 11, ``X`` = 10,
  allowed only as the last character;
- ISBN-13: 13 digits starting 978 or 979, alternating 1/3 weights, sum divisible by 10;
- ASIN: ``B`` and 9 letters/digits. An ASIN that is not an ISBN-10 always starts with ``B``;
  any other 10 characters (``HELLOWORLD``, ``1234567ABC``, 10 digits with a bad check digit)
  are a mistyped ISBN-10 or not an identifier at all, and are rejected.

The ISBN-10 of a book is its ASIN. A 978 ISBN-13 converts to that ISBN-10; a 979 ISBN-13 has
no ISBN-10, so its ASIN is unknown here and must be resolved through Keepa's ``code`` lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from operator import mul

__all__ = [
    "Identifier",
    "IdentifierKind",
    "InvalidIdentifier",
    "asin_of",
    "is_valid_isbn10",
    "is_valid_isbn13",
    "isbn10_check_digit",
    "isbn10_to_isbn13",
    "isbn13_check_digit",
    "isbn13_to_isbn10",
    "normalize_identifier",
    "parse_identifier",
]

_DASHES = "\u2010\u2011\u2012\u2013\u2014-"
_SEPARATORS = re.compile(rf"[\s{_DASHES}]+")
_ISBN10_SHAPE = re.compile(r"^[0-9]{9}[0-9X]$")
_DIGITS_AND_X = re.compile(r"^[0-9X]+$")
# "ISBN-13: 978...", "ISBN 0593655036", "isbn10:..." pasted from a listing. "10"/"13" belong to the
# label only when no digit follows them ("ISBN 1305271890" is the ISBN-10 1305271890).
_ISBN_LABEL = re.compile(rf"^\s*ISBN(?P<kind>[\s{_DASHES}]*(?:10|13)(?![0-9]))?\s*[:.]?")
_ASIN_SHAPE = re.compile(r"^B[0-9A-Z]{9}$")


class IdentifierKind(StrEnum):
    ISBN10 = "isbn10"
    ISBN13 = "isbn13"
    ASIN = "asin"


class InvalidIdentifier(ValueError):
    """The input is not a usable ISBN or ASIN; ``reason`` says why, in the seller's words."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"invalid identifier {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


@dataclass(frozen=True)
class Identifier:
    raw: str
    normalized: str
    kind: IdentifierKind
    asin: str | None  # None only for a 979 ISBN-13: resolve through Keepa's code lookup
    isbn13: str | None  # None for a non-book ASIN

    @property
    def isbn10(self) -> str | None:
        if self.kind is IdentifierKind.ISBN10:
            return self.normalized
        if self.isbn13 is not None:
            return isbn13_to_isbn10(self.isbn13)
        return None

    @property
    def needs_code_lookup(self) -> bool:
        """True when the ASIN must be found through Keepa (979 ISBN-13s)."""
        return self.asin is None


def normalize_identifier(raw: str) -> str:
    """Upper-cased, without a leading "ISBN"/"ISBN-13:" label, spaces and hyphens."""
    upper = raw.upper()
    if upper.isalnum() and upper.isascii() and not upper.startswith("ISBN"):
        return upper  # the common case, a clean identifier: nothing to take away
    label = _ISBN_LABEL.match(upper)
    if label is None:
        return _SEPARATORS.sub("", upper)
    value = _SEPARATORS.sub("", upper[label.end() :])
    if label.group("kind") and len(value) not in (10, 13):
        # "ISBN 13 05271890": the "13" was the start of the number after all
        whole = _SEPARATORS.sub("", upper[label.start("kind") :]).lstrip(":.")
        if len(whole) in (10, 13):
            return whole
    return value


_WEIGHTS10 = tuple(range(10, 1, -1))
_WEIGHTS13 = (1, 3) * 6
_ZERO = ord("0")


def _weighted_sum(digits: str, weights: tuple[int, ...]) -> int:
    """sum(weight * digit) over ASCII digits (callers check the shape first), at C speed."""
    if len(digits) != len(weights) or not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"expected {len(weights)} digits, got {digits!r}")
    total: int = sum(map(mul, weights, digits.encode()))
    return total - _ZERO * sum(weights)


def isbn10_check_digit(first9: str) -> str:
    total = _weighted_sum(first9, _WEIGHTS10)
    check = (11 - total % 11) % 11
    return "X" if check == 10 else str(check)


def isbn13_check_digit(first12: str) -> str:
    total = _weighted_sum(first12, _WEIGHTS13)
    return str((10 - total % 10) % 10)


def is_valid_isbn10(value: str) -> bool:
    return bool(_ISBN10_SHAPE.match(value)) and isbn10_check_digit(value[:9]) == value[9]


def is_valid_isbn13(value: str) -> bool:
    return (
        len(value) == 13
        and value.isascii()
        and value.isdigit()
        and value[:3] in ("978", "979")
        and isbn13_check_digit(value[:12]) == value[12]
    )


def isbn10_to_isbn13(isbn10: str) -> str:
    value = normalize_identifier(isbn10)
    if not is_valid_isbn10(value):
        raise InvalidIdentifier(isbn10, "not a valid ISBN-10")
    return _isbn13_of_valid_isbn10(value)


def isbn13_to_isbn10(isbn13: str) -> str | None:
    """The ISBN-10 of a 978 ISBN-13; None for a 979 ISBN-13, which has no ISBN-10."""
    value = normalize_identifier(isbn13)
    if not is_valid_isbn13(value):
        raise InvalidIdentifier(isbn13, "not a valid ISBN-13")
    return None if value.startswith("979") else _isbn10_of_978(value)


def _isbn13_of_valid_isbn10(value: str) -> str:
    first12 = "978" + value[:9]
    return first12 + isbn13_check_digit(first12)


def _isbn10_of_978(value: str) -> str:
    return value[3:12] + isbn10_check_digit(value[3:12])


def asin_of(normalized: str) -> str | None:
    """The ASIN of an identifier `parse_identifier` accepted, from its `normalized` form
    (without checking it again): an ISBN-10 or ASIN is its own, a 978 ISBN-13 converts, a 979
    ISBN-13 has none."""
    if len(normalized) != 13:
        return normalized
    return None if normalized.startswith("979") else _isbn10_of_978(normalized)


def parse_identifier(raw: str) -> Identifier:
    value = normalize_identifier(raw)
    if not value:
        raise InvalidIdentifier(raw, "empty: enter an ISBN-10, ISBN-13 or ASIN")
    clean = value.isascii() and value.isalnum()
    bad = [] if clean else sorted({c for c in value if not (c.isascii() and c.isalnum())})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise InvalidIdentifier(raw, f"bad characters: {shown} (only digits, letters, X)")
    if len(value) == 13:
        return _parse_isbn13(raw, value)
    if len(value) == 10:
        return _parse_ten(raw, value)
    raise InvalidIdentifier(raw, f"wrong length: {len(value)} characters, expected 10 or 13")


def _parse_isbn13(raw: str, value: str) -> Identifier:
    if not value.isdigit():
        letters = ", ".join(repr(c) for c in sorted({c for c in value if not c.isdigit()}))
        raise InvalidIdentifier(raw, f"bad characters: {letters} (an ISBN-13 is digits only)")
    if value[:3] not in ("978", "979"):
        raise InvalidIdentifier(raw, "ISBN-13 must start with 978 or 979")
    expected = isbn13_check_digit(value[:12])
    if value[12] != expected:
        raise InvalidIdentifier(raw, f"wrong check digit (expected {expected})")
    return Identifier(
        raw=raw,
        normalized=value,
        kind=IdentifierKind.ISBN13,
        asin=None if value.startswith("979") else _isbn10_of_978(value),
        isbn13=value,
    )


def _parse_ten(raw: str, value: str) -> Identifier:
    if _ISBN10_SHAPE.match(value):
        expected = isbn10_check_digit(value[:9])
        if value[9] != expected:
            raise InvalidIdentifier(raw, f"wrong check digit (expected {expected})")
        return Identifier(
            raw=raw,
            normalized=value,
            kind=IdentifierKind.ISBN10,
            asin=value,
            isbn13=_isbn13_of_valid_isbn10(value),
        )
    if _DIGITS_AND_X.match(value):
        # Digits with an X somewhere other than the end: a mistyped ISBN-10, not an ASIN.
        raise InvalidIdentifier(raw, "bad characters: 'X' is only allowed as the last character")
    if not _ASIN_SHAPE.match(value):
        raise InvalidIdentifier(
            raw,
            "not an ISBN or ASIN: an ISBN-10 is 10 digits (the last may be X), "
            "an ASIN is 10 letters/digits starting with B",
        )
    return Identifier(raw=raw, normalized=value, kind=IdentifierKind.ASIN, asin=value, isbn13=None)
