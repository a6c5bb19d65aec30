"""Request bodies of the public API. Unknown fields are rejected; every error names its field.

Amounts are JSON numbers (an integer or a decimal, never a string or a boolean), finite, with at
most 2 decimal places: they are validated here with the same bounds the event contracts use, so
whatever passes here also passes in every consumer.
"""

from __future__ import annotations

import math
import re
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    EmailStr,
    Field,
    PlainSerializer,
    StringConstraints,
    Tag,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
)
from pydantic import Strict as StrictType
from pydantic_core import PydanticCustomError

from av_shared.events import StrategyName
from av_shared.events.business_config import InboundPlacementName, SellAgainst
from av_shared.events.chunk_item import Condition
from av_shared.identifiers import InvalidIdentifier, parse_identifier

# The MAX_BUY_COST and MAX_BATCH_ITEMS settings of the app serving the request: the request guard
# sets them per request.
DEFAULT_MAX_BUY_COST = Decimal("10000")
buy_cost_limit: ContextVar[Decimal] = ContextVar("buy_cost_limit", default=DEFAULT_MAX_BUY_COST)
DEFAULT_MAX_BATCH_ITEMS = 100_000
batch_items_limit: ContextVar[int] = ContextVar(
    "batch_items_limit", default=DEFAULT_MAX_BATCH_ITEMS
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Union members are tagged "<...>": problems.field_path leaves such parts out of a field's path.
PRESET_TAG, THRESHOLDS_TAG = "<preset>", "<thresholds>"


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _json_number(value: Any) -> Decimal:
    """A JSON number (integer or decimal) as an exact Decimal; strings and booleans are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError(
            "number_type", "must be a number (e.g. 2.5), not {kind}", {"kind": _kind_of(value)}
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError("finite_number", "must be a finite number")
        return Decimal(repr(value))  # the shortest repr: 2.675 is Decimal("2.675"), exactly
    if isinstance(value, Decimal) and not value.is_finite():
        raise PydanticCustomError("finite_number", "must be a finite number")
    return Decimal(value)


def _at_most_places(places: int) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise PydanticCustomError(
                "decimal_places", "must have at most {places} decimal places", {"places": places}
            )
        return value

    return AfterValidator(check)


def _plain(amount: Decimal) -> str:
    """10000.0 -> '10000', 2500.50 -> '2500.5'."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _within_max_buy_cost(value: Decimal) -> Decimal:
    limit = buy_cost_limit.get()
    if value > limit:
        raise PydanticCustomError(
            "less_than_equal",
            "must be less than or equal to {limit} (the MAX_BUY_COST setting)",
            {"limit": _plain(limit)},
        )
    return value


def _as_float(value: Decimal) -> float:
    return float(value)


def _number_schema(maximum: float, places: int = 2) -> WithJsonSchema:
    """`multipleOf` states the decimal places (0.01: cents), as the validator checks them."""
    step = float(Decimal(1).scaleb(-places))
    return WithJsonSchema({"type": "number", "minimum": 0, "maximum": maximum, "multipleOf": step})


AsFloat = PlainSerializer(_as_float, return_type=float, when_used="json")
JsonNumber = BeforeValidator(_json_number)
Cents = _at_most_places(2)
# Bounds as in av_shared.events (StrategyThresholds, SellerCosts, ChunkItem).
Money = Annotated[
    Decimal, JsonNumber, Field(ge=0, le=100_000), Cents, _number_schema(100_000), AsFloat
]
Percent = Annotated[
    Decimal, JsonNumber, Field(ge=0, le=10_000), Cents, _number_schema(10_000), AsFloat
]
CostPerUnit = Annotated[
    Decimal, JsonNumber, Field(ge=0, le=1_000), Cents, _number_schema(1_000), AsFloat
]
TaxPercent = Annotated[
    Decimal, JsonNumber, Field(ge=0, le=100), _at_most_places(3), _number_schema(100, 3), AsFloat
]
# The maximum documented here is replaced by the MAX_BUY_COST setting in the served document.
BuyCost = Annotated[
    Decimal,
    JsonNumber,
    Field(ge=0),
    AfterValidator(_within_max_buy_cost),
    Cents,
    _number_schema(float(DEFAULT_MAX_BUY_COST)),
    AsFloat,
]


def _whole_number(value: Any) -> Any:
    """40.0 is a JSON Schema integer as 40 is (a client may well write it so)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A JSON integer: "40", 40.5 and true are refused
Count = Annotated[int, BeforeValidator(_whole_number), StrictType()]


def no_control_characters(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise PydanticCustomError(
            "control_character",
            "must not contain control characters (U+{code} at position {position})",
            {"code": f"{ord(found.group()):04X}", "position": found.start()},
        )
    return value


# No control character, and at least one that is not whitespace (names are stripped).
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_control_characters),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200, "pattern": NAME_PATTERN}),
]
# What `parse_identifier` reads: an optional ISBN label, then an ISBN-10 (9 digits and a digit
# or X), an ASIN (B and 9 letters or digits) or an ISBN-13 (13 digits from 978 or 979), with
# spaces and hyphens anywhere. The check digit is beyond a pattern: the format names it.
_SEP = r"[\s\u2010-\u2014-]"
_D = rf"[0-9]{_SEP}*"
IDENTIFIER_PATTERN = (
    rf"^\s*(?:[Ii][Ss][Bb][Nn](?:{_SEP}*1[03])?\s*[:.]?)?{_SEP}*"
    rf"(?:(?:{_D}){{9}}[0-9Xx]|[Bb]{_SEP}*(?:[0-9A-Za-z]{_SEP}*){{8}}[0-9A-Za-z]"
    rf"|9{_SEP}*7{_SEP}*[89]{_SEP}*(?:{_D}){{9}}[0-9]){_SEP}*$"
)
IDENTIFIER_FORMAT = "book-identifier"
MAX_QUANTITY, MAX_NOTE = 10_000, 500
Note = Annotated[
    str,
    StringConstraints(max_length=MAX_NOTE),
    AfterValidator(no_control_characters),
    WithJsonSchema(
        {"type": "string", "maxLength": MAX_NOTE, "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"}
    ),
]
# A `date-time` of the document (RFC 3339, with its offset) is a string of that shape: pydantic
# alone would also take a number or a numeric string as Unix time.
_DATE_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _date_time_text(value: Any) -> Any:
    if not isinstance(value, str) or _DATE_TIME.match(value) is None:
        raise PydanticCustomError(
            "date_time_text",
            "must be an RFC 3339 date-time string with its offset, e.g. 2026-12-31T23:00:00Z",
        )
    return value


DateTimeText = BeforeValidator(_date_time_text)
# email-validator refuses addresses at the special-use domains of RFC 6761 and its kin (.arpa,
# .invalid, .local, .localhost, .onion, .test): the document says so, case-insensitively.
_SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")
_SPECIAL_USE = "|".join("".join(f"[{c}{c.upper()}]" for c in name) for name in _SPECIAL_USE_DOMAINS)
# An account's address is ASCII: a dot-atom of at most 64 characters, then a domain of labels
# (letters, digits, inner hyphens, no `--`) whose last starts with a letter.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = (
    rf"^(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?!(?:.*\.)?(?:{_SPECIAL_USE})$)(?!.*--)"
    rf"(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?$"
)
_EMAIL = re.compile(EMAIL_PATTERN)
_EMAIL_STR: TypeAdapter[EmailStr] = TypeAdapter(EmailStr)


def _email(value: str) -> str:
    """The pattern, then email-validator (through EmailStr) on what passed it."""
    if _EMAIL.match(value) is None:
        raise PydanticCustomError(
            "email_shape", "not an email address of the accepted shape (see the pattern)"
        )
    return str(_EMAIL_STR.validate_python(value))


Email = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_email),
    WithJsonSchema(
        {"type": "string", "format": "email", "maxLength": 254, "pattern": EMAIL_PATTERN}
    ),
]
RoleName = Literal["user", "admin"]
# If-Match of PUT /config: `*` or an ETag of GET /config (`"3"`, weak `W/"3"`).
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,9}")$'


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(Strict):
    identifier: str = Field(
        max_length=40,
        description="ISBN-10, ISBN-13 (978/979) or ASIN (B + 9 letters/digits); "
        "spaces, hyphens and an 'ISBN' label are ok. Format `book-identifier`: the ISBN's "
        "check digit must hold",
        examples=["0593655036"],
        json_schema_extra={
            "minLength": 10,
            "pattern": IDENTIFIER_PATTERN,
            "format": IDENTIFIER_FORMAT,
        },
    )
    buy_cost: BuyCost = Field(
        description="What one copy costs you, in USD: a number with at most 2 decimal places, "
        "at most the MAX_BUY_COST setting",
        examples=[2.5],
    )
    condition: Condition | None = Field(
        None, description="Default: your config's batch_defaults.condition ('used' at first)"
    )
    quantity: Count = Field(1, ge=1, le=MAX_QUANTITY, description="Copies you have of this line")
    note: Note | None = Field(None, description="Your note, kept with the line's analysis")

    @field_validator("identifier")
    @classmethod
    def _valid_identifier(cls, value: str) -> str:
        try:
            return parse_identifier(value).normalized
        except InvalidIdentifier as exc:
            raise ValueError(exc.reason) from None

    def cost(self) -> Decimal:
        return self.buy_cost.quantize(Decimal("0.01"))


class _Thresholds(Strict):
    name: StrategyName | None = None
    min_roi_percent: Percent | None = Field(None, description="Lowest ROI, percent")
    min_profit: Money | None = Field(None, description="Lowest profit per copy, USD")
    min_velocity_score: Count | None = Field(None, ge=0, le=100)
    max_sales_rank: Count | None = Field(None, ge=1, le=100_000_000, description="`null`: no limit")
    max_competing_fba_offers: Count | None = Field(
        None, ge=0, le=10_000, description="`null`: no limit"
    )
    max_amazon_buy_box_percent: Count | None = Field(
        None,
        ge=0,
        le=100,
        description="Most of the time Amazon may hold the new buy box, "
        "percent of Keepa's stats window; `null`: no limit",
    )
    rank_bands: list[RankBandIn] | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="Sales-rank bands, ascending `up_to_rank`, only the last open: the band of a "
        "book's rank replaces min_profit/min_roi_percent. Left out: the preset's (or your "
        "config's), unless min_profit or min_roi_percent is given; `null`: no bands, one "
        "threshold at every rank",
    )
    sell_within_days: Count | None = Field(
        None, ge=1, le=730, description="How long copies may take to sell (default 180 days)"
    )


class RankBandIn(Strict):
    """Thresholds for books up to a sales rank (ScoutIQ's triggers): faster sellers may need
    less margin than a book at rank 2,000,000."""

    up_to_rank: Count | None = Field(
        ge=1, le=100_000_000, description="Highest rank of the band; `null`: every rank above"
    )
    min_profit: Money = Field(description="Lowest profit per copy in this band, USD")
    min_roi_percent: Percent = Field(description="Lowest ROI in this band, percent")
    sell_against: SellAgainst = Field(
        "buy_box",
        description="The price sold against: the buy box, the lowest FBA offer, the n-th lowest "
        "FBA offer (`fba_offer_slot`) or the used buy box; the usual order when it is missing",
    )
    fba_offer_slot: Count = Field(1, ge=1, le=20, description="With nth_lowest_fba: 1 = lowest")


class StrategyOverride(_Thresholds):
    """A batch's own thresholds; unset fields come from the named strategy (or your config)."""


class StrategyIn(_Thresholds):
    """Thresholds that decide BUY/WATCH/PASS. Fields left out come from the named preset;
    `null` for a maximum means no limit."""

    name: StrategyName = "balanced"


def _strategy_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return PRESET_TAG
    if isinstance(value, dict | StrategyOverride):
        return THRESHOLDS_TAG
    return None


StrategyChoice = Annotated[
    Annotated[StrategyName, Tag(PRESET_TAG)] | Annotated[StrategyOverride, Tag(THRESHOLDS_TAG)],
    Discriminator(
        _strategy_kind,
        custom_error_type="strategy_type",
        custom_error_message="must be a strategy name ('balanced', 'textbook' or "
        "'velocity') or an object of thresholds",
    ),
]


def too_many_items(limit: int) -> str:
    return f"at most {limit} items (the MAX_BATCH_ITEMS setting)"


def _within_max_batch_items(value: Any) -> Any:
    """Counted before any line is validated (pydantic's `max_length` counts while validating
    them): a list of a million lines is refused at once."""
    limit = batch_items_limit.get()
    if isinstance(value, list | tuple) and len(value) > limit:
        raise PydanticCustomError("too_long", too_many_items(limit))
    return value


class BatchIn(Strict):
    name: Name
    items: Annotated[list[ItemIn], BeforeValidator(_within_max_batch_items)] = Field(
        min_length=1, description="1 to MAX_BATCH_ITEMS lines (100,000 by default)"
    )
    strategy: StrategyChoice | None = Field(
        None,
        description="A named strategy, or thresholds that replace your config's for this "
        "batch only",
    )


class StatusChangeIn(Strict):
    status: Literal["CANCELLED"] = Field(description="The only change a seller can ask for")


class InstantAnalysisIn(ItemIn):
    strategy: StrategyChoice | None = Field(
        None,
        description="A named strategy, or thresholds that replace your config's for this "
        "analysis only",
    )


# -- business config ------------------------------------------------------------------------------
class SellerCostsIn(Strict):
    """What selling one copy costs you besides Amazon's fees."""

    inbound_shipping_per_lb: CostPerUnit = Decimal("0.50")
    prep_per_unit: CostPerUnit = Decimal("0.35")
    sales_tax_percent: TaxPercent = Decimal("0")
    inbound_placement: InboundPlacementName = Field(
        "amazon_optimized",
        description="Amazon's inbound placement option you ship with: amazon_optimized (free), "
        "minimal_split or partial_split (a fee per unit, by size and weight)",
    )


class BatchDefaults(Strict):
    """Applied to the lines of a new batch (and instant analyses) that do not say otherwise."""

    condition: Condition = "used"


class BusinessConfigIn(Strict):
    strategy: StrategyIn = Field(default_factory=StrategyIn)
    seller_costs: SellerCostsIn = Field(default_factory=SellerCostsIn)
    batch_defaults: BatchDefaults = Field(default_factory=BatchDefaults)


class RankBandOut(BaseModel):
    up_to_rank: int | None
    min_profit: Annotated[Decimal, AsFloat]
    min_roi_percent: Annotated[Decimal, AsFloat]
    sell_against: SellAgainst
    fba_offer_slot: int


class StrategyOut(BaseModel):
    name: StrategyName
    min_roi_percent: Annotated[Decimal, AsFloat]
    min_profit: Annotated[Decimal, AsFloat]
    min_velocity_score: int
    max_sales_rank: int | None
    max_competing_fba_offers: int | None
    max_amazon_buy_box_percent: int | None
    rank_bands: list[RankBandOut] | None = Field(
        description="`null`: min_profit/min_roi_percent at every rank, against the buy box"
    )
    sell_within_days: int


class SellerCostsOut(BaseModel):
    inbound_shipping_per_lb: Annotated[Decimal, AsFloat]
    prep_per_unit: Annotated[Decimal, AsFloat]
    sales_tax_percent: Annotated[Decimal, AsFloat]
    inbound_placement: InboundPlacementName


class BusinessConfigOut(BaseModel):
    version: int = Field(description="0: the defaults, never changed; each change adds one")
    created_at: datetime | None = Field(description="When this version was saved")
    strategy: StrategyOut
    seller_costs: SellerCostsOut
    batch_defaults: BatchDefaults
