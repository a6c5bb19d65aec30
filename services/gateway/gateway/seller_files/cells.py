"""One cell's value, or why it cannot be used, in the seller's words: the usual damage a
spreadsheet does to ISBNs and amounts is recognised and explained."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from av_shared.events.chunk_item import Condition
from av_shared.identifiers import InvalidIdentifier, is_valid_isbn10, parse_identifier

from .tables import Cell

MAX_QUANTITY = 10_000
MAX_NOTE = 500
CENT = Decimal("0.01")
# 9.78149E+12: Excel showed an ISBN-13 as a number in scientific notation and saved it so.
_SCIENTIFIC = re.compile(r"^([0-9])(?:[.,]([0-9]*))?E\+?([0-9]{1,2})$", re.IGNORECASE)
_CURRENCY = re.compile(r"^(?:US\$|USD|\$)\s*|\s*(?:USD|\$)$", re.IGNORECASE)
_OTHER_CURRENCY = re.compile(r"[€£¥]|EUR|GBP|CAD|C\$|A\$", re.IGNORECASE)
_GROUPED = re.compile(r"^[0-9]{1,3}(?:[,.' ][0-9]{3})+(?:[.,][0-9]*)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
# Amazon's inventory-file codes: 11 new; 1-4 used (like new .. acceptable); 5-8 collectible.
_AMAZON_CODES: dict[str, Condition] = {"11": "new", **{str(n): "used" for n in range(1, 9)}}
_USED_WORDS = ("used", "likenew", "verygood", "good", "acceptable", "collectible", "fair")
_NEW_WORDS = ("new", "brandnew", "newitem", "sealed")


class CellError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_empty(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text_of(value: Cell) -> str:
    """A number as a spreadsheet shows it without decimals when it is whole (9780593655036.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value).strip() if value is not None else ""


def identifier(value: Cell) -> str:
    """The normalised ISBN-10, ISBN-13 or ASIN."""
    if isinstance(value, float) and not value.is_integer():
        raise CellError(f"{value!r} is a number with decimals, not an ISBN or ASIN")
    raw = text_of(value)
    scientific = _SCIENTIFIC.match(raw)
    if scientific:
        raw = _from_scientific(raw, scientific)
    try:
        return parse_identifier(raw).normalized
    except InvalidIdentifier as exc:
        raise CellError(_with_lost_zeros(raw, exc.reason)) from None


def _from_scientific(raw: str, match: re.Match[str]) -> str:
    whole, decimals, exponent = match.group(1), match.group(2) or "", int(match.group(3))
    if len(decimals) < exponent:
        digits = 1 + len(decimals)
        raise CellError(
            f"{raw} is an ISBN that the spreadsheet turned into a number in scientific notation "
            f"and cut to {digits} digits: the others are lost. Format the column as Text "
            "(or Number without decimals) before typing or pasting the ISBNs, then export again"
        )
    return (whole + decimals)[: exponent + 1]


def _with_lost_zeros(raw: str, reason: str) -> str:
    """An ISBN-10 that lost its leading zeros (the column was a number): say which it was, only
    when the zeros make a valid ISBN-10."""
    if raw.isdigit() and 7 <= len(raw) <= 9:
        padded = raw.zfill(10)
        if is_valid_isbn10(padded):
            return (
                f"{reason}; {raw} looks like the ISBN-10 {padded} with its leading zeros "
                "dropped by the spreadsheet: format the column as Text and enter it again"
            )
    return reason


def cost(value: Cell, *, decimal_comma: bool, max_cost: Decimal) -> Decimal:
    """What one copy cost: `$3.50`, `3,50` in a decimal-comma file, `1,234.50`."""
    if isinstance(value, int | float):
        amount = _float_cost(value)
    else:
        amount = _text_cost(text_of(value), decimal_comma)
    if amount < 0:
        raise CellError(f"{_plain(amount)}: a cost cannot be negative")
    if amount > max_cost:
        raise CellError(
            f"{_plain(amount)} is more than {_plain(max_cost)}, the highest cost of one copy "
            "(the MAX_BUY_COST setting)"
        )
    return amount.quantize(CENT)


def _float_cost(value: float) -> Decimal:
    if not math.isfinite(value):
        raise CellError("not a number")
    exact = Decimal(repr(value))
    rounded = exact.quantize(CENT)
    if abs(exact - rounded) > Decimal("0.000001"):  # more than float noise: 3.333
        raise CellError(f"{value!r} has more than 2 decimal places: round it to cents")
    return rounded


def _text_cost(raw: str, decimal_comma: bool) -> Decimal:
    if not raw:
        raise CellError("empty: enter what one copy cost, e.g. 3.50")
    text = _CURRENCY.sub("", raw).strip()
    if _OTHER_CURRENCY.search(text):
        raise CellError(f"{raw!r}: costs are in US dollars; enter the amount without a currency")
    text = text.replace("\u00a0", " ")
    try:
        amount = Decimal(_as_number_text(text, decimal_comma))
    except (InvalidOperation, ValueError):
        raise CellError(f"{raw!r} is not an amount (e.g. 3.50)") from None
    if not amount.is_finite():
        raise CellError(f"{raw!r} is not an amount (e.g. 3.50)")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise CellError(f"{raw!r} has more than 2 decimal places: round it to cents")
    return amount


def _as_number_text(text: str, decimal_comma: bool) -> str:
    """'1.234,50' (decimal comma) or '1,234.50' -> '1234.50'."""
    point, separator = (",", ".") if decimal_comma else (".", ",")
    if _GROUPED.match(text):
        if decimal_comma and "," not in text and "." in text and not _three_after_point(text):
            return text  # 3.50 in a decimal-comma file: a decimal point after all
        text = text.replace(separator, "").replace(" ", "").replace("'", "")
    elif " " in text:
        raise ValueError(text)
    return text.replace(point, ".") if decimal_comma else text


def _three_after_point(text: str) -> bool:
    return bool(re.search(r"\.[0-9]{3}$", text))


def _plain(amount: Decimal) -> str:
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def condition(value: Cell) -> Condition | None:
    """`New`, `Used - Good`, `UsedVeryGood`, Amazon's codes (11, 1-8); empty: the config's."""
    raw = text_of(value)
    key = _NOT_ALNUM.sub("", raw.casefold())
    if not key:
        return None
    if key in _AMAZON_CODES:
        return _AMAZON_CODES[key]
    if key.startswith(_USED_WORDS):
        return "used"
    if key.startswith(_NEW_WORDS):
        return "new"
    raise CellError(
        f"{raw!r} is not a condition: New, Used, or Amazon's (Used - Like New, Used - Very Good, "
        "Used - Good, Used - Acceptable)"
    )


def quantity(value: Cell) -> int:
    """Copies of this line; empty: 1."""
    if is_empty(value):
        return 1
    raw = text_of(value)
    if not raw.isdigit():
        raise CellError(f"{raw!r} is not a whole number of copies")
    count = int(raw)
    if not 1 <= count <= MAX_QUANTITY:
        raise CellError(f"{count}: the quantity must be 1 to {MAX_QUANTITY}")
    return count


def note(value: Cell) -> str | None:
    """The seller's note, on one line (a cell's line breaks become spaces)."""
    raw = text_of(value)
    if _CONTROL.search(raw):
        raise CellError("contains a control character")
    text = _WHITESPACE.sub(" ", raw).strip()
    if len(text) > MAX_NOTE:
        raise CellError(f"{len(text)} characters: a note has at most {MAX_NOTE}")
    return text or None
