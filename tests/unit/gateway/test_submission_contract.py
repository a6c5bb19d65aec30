"""A batch's lines become event items without being validated a second time
(`gateway.api.batches._chunk_items` builds `ChunkItem`s with `model_construct`): that holds only
while every line `ItemIn` accepts is also a valid `ChunkItem`. Checked here over generated lines
at and inside every bound, so the two contracts cannot drift apart unnoticed."""

from __future__ import annotations

import string
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from av_shared.events import ChunkItem
from av_shared.identifiers import asin_of, isbn10_check_digit, isbn13_check_digit, parse_identifier
from gateway.api.batches import _chunk_items
from gateway.api.schemas import MAX_NOTE, MAX_QUANTITY, ItemIn, buy_cost_limit
from gateway.settings import GatewaySettings

HIGHEST_MAX_BUY_COST = GatewaySettings.model_fields["max_buy_cost"].metadata[1].le

_nine = st.text(string.digits, min_size=9, max_size=9)
ISBN10 = _nine.map(lambda s: s + isbn10_check_digit(s))
ISBN13 = st.tuples(st.sampled_from(["978", "979"]), _nine).map(
    lambda p: p[0] + p[1] + isbn13_check_digit(p[0] + p[1])
)
ASIN = st.text(string.ascii_uppercase + string.digits, min_size=9, max_size=9).map("B".__add__)
# As sellers type them: hyphens, a label, a lower-case x.
WRITTEN = st.one_of(ISBN10, ISBN13, ASIN).flatmap(
    lambda i: st.sampled_from([i, i.lower(), f"ISBN {i}", f"{i[:3]}-{i[3:]}"])
)
LINES = st.fixed_dictionaries(
    {
        "identifier": WRITTEN,
        "buy_cost": st.integers(0, int(HIGHEST_MAX_BUY_COST * 100)).map(lambda c: Decimal(c) / 100),
    },
    optional={
        "condition": st.sampled_from(["new", "used"]),
        "quantity": st.integers(1, MAX_QUANTITY),
        "note": st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), max_size=MAX_NOTE),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=5), st.sampled_from(["new", "used"]))
def test_every_accepted_line_is_a_valid_event_item(
    lines: list[dict[str, object]], default: str
) -> None:
    token = buy_cost_limit.set(Decimal(str(HIGHEST_MAX_BUY_COST)))
    try:
        accepted = [ItemIn.model_validate(line) for line in lines]
    finally:
        buy_cost_limit.reset(token)
    built = _chunk_items(accepted, default)  # type: ignore[arg-type]
    for item in built:
        assert ChunkItem.model_validate(item.model_dump()) == item


@given(st.one_of(ISBN10, ISBN13, ASIN))
def test_the_asin_of_an_accepted_identifier_is_the_one_parsing_finds(identifier: str) -> None:
    parsed = parse_identifier(identifier)
    assert asin_of(parsed.normalized) == parsed.asin
