"""Identifier parsing: ISBN-10, ISBN-13 (978/979) and ASINs, with reasons for bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from av_shared.identifiers import (
    Identifier,
    IdentifierKind,
    InvalidIdentifier,
    is_valid_isbn10,
    is_valid_isbn13,
    isbn10_check_digit,
    isbn10_to_isbn13,
    isbn13_check_digit,
    isbn13_to_isbn10,
    parse_identifier,
)


@pytest.mark.parametrize(
    ("raw", "kind", "normalized", "asin", "isbn13"),
    [
        # The Anxious Generation: asin 0593655036, eanList ["9780593655030"] in the Keepa sample
        ("0593655036", IdentifierKind.ISBN10, "0593655036", "0593655036", "9780593655030"),
        ("9780593655030", IdentifierKind.ISBN13, "9780593655030", "0593655036", "9780593655030"),
        ("978-0-593-65503-0", IdentifierKind.ISBN13, "9780593655030", "0593655036",
         "9780593655030"),
        (" 0 593 65503 6 ", IdentifierKind.ISBN10, "0593655036", "0593655036", "9780593655030"),
        ("ISBN-13: 978-0-593-65503-0", IdentifierKind.ISBN13, "9780593655030", "0593655036",
         "9780593655030"),
        # check digit X (= 10), lower-case accepted
        ("080442957X", IdentifierKind.ISBN10, "080442957X", "080442957X", "9780804429573"),
        ("0-8044-2957-x", IdentifierKind.ISBN10, "080442957X", "080442957X", "9780804429573"),
        # 979 ISBN-13: no ISBN-10, so the ASIN needs Keepa's code lookup
        ("979-10-90636-07-1", IdentifierKind.ISBN13, "9791090636071", None, "9791090636071"),
        # non-book ASIN (the nonbook Keepa sample), upper-cased
        ("B08N5WRWNW", IdentifierKind.ASIN, "B08N5WRWNW", "B08N5WRWNW", None),
        ("b08n5wrwnw", IdentifierKind.ASIN, "B08N5WRWNW", "B08N5WRWNW", None),
    ],
)  # fmt: skip
def test_valid_identifiers(
    raw: str, kind: IdentifierKind, normalized: str, asin: str | None, isbn13: str | None
) -> None:
    parsed = parse_identifier(raw)
    assert parsed == Identifier(raw, normalized, kind, asin, isbn13)


NOT_AN_ASIN = (
    "not an ISBN or ASIN: an ISBN-10 is 10 digits (the last may be X), "
    "an ASIN is 10 letters/digits starting with B"
)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0593655037", "wrong check digit (expected 6)"),
        ("9780593655031", "wrong check digit (expected 0)"),
        # 10 digits with a bad check digit is a mistyped ISBN-10, not an ASIN
        ("1234567890", "wrong check digit (expected X)"),
        ("059365503", "wrong length: 9 characters, expected 10 or 13"),
        ("97805936550300", "wrong length: 14 characters, expected 10 or 13"),
        ("9770593655030", "ISBN-13 must start with 978 or 979"),
        ("0593655036!", "bad characters: '!' (only digits, letters, X)"),
        ("12X4567890", "bad characters: 'X' is only allowed as the last character"),
        ("978059365503X", "bad characters: 'X' (an ISBN-13 is digits only)"),
        ("", "empty: enter an ISBN-10, ISBN-13 or ASIN"),
        ("ISBN", "empty: enter an ISBN-10, ISBN-13 or ASIN"),
        # 10 letters/digits that are neither an ISBN-10 nor an ASIN (which starts with B)
        ("HELLOWORLD", NOT_AN_ASIN),
        ("1234567ABC", NOT_AN_ASIN),
        ("A08N5WRWNW", NOT_AN_ASIN),
        ("059365503O", NOT_AN_ASIN),  # letter O typed for a zero
        (" - ", "empty: enter an ISBN-10, ISBN-13 or ASIN"),
    ],
)
def test_invalid_identifiers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_identifier(raw)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


def test_conversions() -> None:
    assert isbn10_to_isbn13("1492056200") == "9781492056201"
    assert isbn13_to_isbn10("9781492056201") == "1492056200"
    assert isbn13_to_isbn10("9791090636071") is None
    with pytest.raises(InvalidIdentifier):
        isbn10_to_isbn13("1492056201")
    with pytest.raises(InvalidIdentifier):
        isbn13_to_isbn10("9781492056200")


def test_identifier_properties() -> None:
    assert parse_identifier("9780593655030").isbn10 == "0593655036"
    assert parse_identifier("0593655036").isbn10 == "0593655036"
    assert parse_identifier("9791090636071").needs_code_lookup
    assert parse_identifier("B08N5WRWNW").isbn10 is None


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@given(nine_digits)
def test_isbn10_isbn13_round_trip(first9: str) -> None:
    isbn10 = first9 + isbn10_check_digit(first9)
    isbn13 = isbn10_to_isbn13(isbn10)
    assert is_valid_isbn10(isbn10) and is_valid_isbn13(isbn13)
    assert isbn13.startswith("978")
    assert isbn13_to_isbn10(isbn13) == isbn10
    assert parse_identifier(isbn10).isbn13 == isbn13
    assert parse_identifier(isbn13).asin == isbn10


@given(nine_digits)
def test_979_has_no_isbn10(first9: str) -> None:
    first12 = "979" + first9
    parsed = parse_identifier(first12 + isbn13_check_digit(first12))
    assert parsed.kind is IdentifierKind.ISBN13 and parsed.asin is None


@given(nine_digits, st.integers(min_value=1, max_value=10))
def test_any_wrong_isbn10_check_digit_is_rejected(first9: str, shift: int) -> None:
    good = isbn10_check_digit(first9)
    value = 10 if good == "X" else int(good)
    wrong = (value + shift) % 11
    raw = first9 + ("X" if wrong == 10 else str(wrong))
    with pytest.raises(InvalidIdentifier, match="wrong check digit"):
        parse_identifier(raw)


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=9, max_size=9))
def test_b_asins_parse_as_asins(rest: str) -> None:
    parsed = parse_identifier("B" + rest)
    assert parsed.kind is IdentifierKind.ASIN and parsed.asin == "B" + rest


@given(st.text(max_size=20))
def test_parse_never_fails_with_anything_but_invalid_identifier(raw: str) -> None:
    try:
        parsed = parse_identifier(raw)
    except InvalidIdentifier as error:
        assert error.reason
    else:
        assert parsed.normalized == parsed.normalized.upper()
        assert len(parsed.normalized) in (10, 13)


# Valid ISBN-10s that start with "10" or "13", the digits of an "ISBN-10"/"ISBN-13" label.
LABEL_LOOKALIKES = ["1305271890", "1009186205"]


@pytest.mark.parametrize(
    "label",
    [
        "ISBN ",
        "ISBN",
        "isbn ",
        "ISBN: ",
        "ISBN:",
        "ISBN-10: ",
        "ISBN10:",
        "ISBN 10 ",
        "ISBN\u201110: ",
        " ISBN  ",
    ],
)
@pytest.mark.parametrize("isbn10", LABEL_LOOKALIKES)
def test_a_label_before_an_isbn10_starting_10_or_13_is_dropped(label: str, isbn10: str) -> None:
    parsed = parse_identifier(label + isbn10)
    assert parsed.kind is IdentifierKind.ISBN10 and parsed.normalized == isbn10


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("ISBN 13 05271890", "1305271890"),  # "13" was the number's start, not the label
        ("ISBN-13: 978-1-305-27189-0", "9781305271890"),
        ("ISBN13 9781305271890", "9781305271890"),
        ("ISBN 1-305-27189-0", "1305271890"),
        ("isbn-10:1-009-18620-5", "1009186205"),
    ],
)
def test_label_table(raw: str, normalized: str) -> None:
    assert parse_identifier(raw).normalized == normalized


labels = st.sampled_from(
    [
        "",
        "ISBN",
        "ISBN ",
        "ISBN: ",
        "isbn:",
        "ISBN-10 ",
        "ISBN10: ",
        "ISBN 10: ",
        "ISBN-13: ",
        "ISBN13 ",
        "ISBN 13 ",
    ]
)
separators = st.sampled_from(["", " ", "-", "\u2013"])


@given(labels, nine_digits, separators)
def test_any_label_and_separators_keep_an_isbn10(label: str, first9: str, sep: str) -> None:
    isbn10 = first9 + isbn10_check_digit(first9)
    written = sep.join([isbn10[0], isbn10[1:4], isbn10[4:9], isbn10[9]])
    assert parse_identifier(label + written).normalized == isbn10


@given(labels, nine_digits, separators)
def test_any_label_and_separators_keep_an_isbn13(label: str, first9: str, sep: str) -> None:
    first12 = "978" + first9
    isbn13 = first12 + isbn13_check_digit(first12)
    written = sep.join([isbn13[:3], isbn13[3], isbn13[4:7], isbn13[7:12], isbn13[12]])
    assert parse_identifier(label + written).normalized == isbn13


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=10, max_size=10))
def test_ten_characters_are_an_isbn10_or_a_b_asin_or_rejected(value: str) -> None:
    try:
        parsed = parse_identifier(value)
    except InvalidIdentifier as error:
        assert not is_valid_isbn10(value) and not value.startswith("B")
        assert error.reason
    else:
        assert is_valid_isbn10(value) or (
            value.startswith("B") and parsed.kind is IdentifierKind.ASIN
        )
