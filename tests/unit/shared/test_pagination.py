"""The keyset cursor codec and the offset cap (av_shared.pagination)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given
from hypothesis import strategies as st

from av_shared.pagination import (
    COUNT_LIMIT,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET_ROWS,
    CursorError,
    check_page,
    counted,
    decode_cursor,
    encode_cursor,
    page_answer,
    read_cursor,
)


def _raw(plain: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).rstrip(b"=").decode()


def test_a_cursor_round_trips_every_kind_of_key() -> None:
    when = datetime(2026, 12, 2, 14, 30, 1, 123456, tzinfo=UTC)
    row_id = uuid.uuid4()
    cases: list[tuple[str, list[object], list[str]]] = [
        ("-created", [when, row_id], ["datetime", "uuid"]),
        ("roi", [Decimal("-12.50"), row_id], ["decimal?", "uuid"]),
        ("-roi", [None, row_id], ["decimal?", "uuid"]),
        ("velocity", [87, row_id], ["int?", "uuid"]),
        ("item", [0], ["int"]),
    ]
    for sort, values, kinds in cases:
        text = encode_cursor(sort, values)  # type: ignore[arg-type]
        assert "=" not in text and "+" not in text and "/" not in text  # URL-safe as it is
        assert decode_cursor(text, sort, kinds) == values  # type: ignore[arg-type]


def test_a_time_keeps_its_zone_and_microseconds() -> None:
    when = datetime(2026, 1, 1, 9, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5)))
    [back] = decode_cursor(encode_cursor("x", [when]), "x", ["datetime"])
    assert back == when and isinstance(back, datetime) and back.utcoffset() == when.utcoffset()


@given(
    st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=2)),
    st.uuids(),
)
def test_any_decimal_key_round_trips(value: Decimal | None, row_id: uuid.UUID) -> None:
    text = encode_cursor("profit", [value, row_id])
    assert decode_cursor(text, "profit", ["decimal?", "uuid"]) == [value, row_id]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64 at all!",
        "%%%%",
        _raw("a string"),
        _raw({"sort": "-created"}),
        _raw(["-created"]),  # too short
        _raw(["-created", "2026-12-02T00:00:00+00:00", str(uuid.uuid4()), 1]),  # too long
        _raw(["-created", "yesterday", str(uuid.uuid4())]),
        _raw(["-created", "2026-12-02T00:00:00", str(uuid.uuid4())]),  # no zone
        _raw(["-created", "2026-12-02T00:00:00+00:00", "not-a-uuid"]),
        _raw(["-created", None, str(uuid.uuid4())]),  # created is never NULL
        _raw(["-created", 12, str(uuid.uuid4())]),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),  # not UTF-8
        "A" * (MAX_CURSOR_LENGTH + 1),
    ],
)
def test_a_malformed_cursor_is_refused(text: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(text, "-created", ["datetime", "uuid"])


@pytest.mark.parametrize(
    "plain",
    [
        ["roi", "NaN", str(uuid.uuid4())],
        ["roi", "Infinity", str(uuid.uuid4())],
        ["roi", "12,5", str(uuid.uuid4())],
        ["roi", 12.5, str(uuid.uuid4())],  # decimals travel as text, exactly
        ["velocity", True, str(uuid.uuid4())],
        ["velocity", 2**70, str(uuid.uuid4())],
    ],
)
def test_a_number_that_is_not_one_is_refused(plain: list[object]) -> None:
    kinds = {"roi": "decimal?", "velocity": "int?"}
    with pytest.raises(CursorError):
        decode_cursor(_raw(plain), str(plain[0]), [kinds[str(plain[0])], "uuid"])  # type: ignore[list-item]


def test_a_cursor_of_another_sort_is_refused() -> None:
    text = encode_cursor("roi", [Decimal("5"), uuid.uuid4()])
    with pytest.raises(CursorError, match="another sort"):
        decode_cursor(text, "-roi", ["decimal?", "uuid"])


def test_read_cursor_is_a_422_naming_after() -> None:
    with pytest.raises(RequestValidationError) as caught:
        read_cursor("garbage", "-created", ["datetime", "uuid"])
    [error] = caught.value.errors()
    assert error["loc"] == ("query", "after")
    assert "malformed cursor" in error["msg"]


def test_offsets_are_capped_and_a_cursor_takes_no_page() -> None:
    check_page(1, 500, None)
    check_page(MAX_OFFSET_ROWS // 500, 500, None)  # the last page within the cap
    check_page(MAX_OFFSET_ROWS, 1, None)
    check_page(1, 500, "cursor")
    for page, size, after in [
        (MAX_OFFSET_ROWS // 500 + 1, 500, None),
        (MAX_OFFSET_ROWS + 1, 1, None),
        (1_000_000, 500, None),
        (2, 50, "cursor"),
    ]:
        with pytest.raises(RequestValidationError) as caught:
            check_page(page, size, after)
        [error] = caught.value.errors()
        assert error["loc"] == ("query", "page")
        assert "after" in error["msg"]


def test_counts_are_capped() -> None:
    assert counted(0) == {"total": 0, "total_is_exact": True}
    assert counted(COUNT_LIMIT) == {"total": COUNT_LIMIT, "total_is_exact": True}
    assert counted(COUNT_LIMIT + 1) == {"total": COUNT_LIMIT, "total_is_exact": False}


def test_a_page_has_a_next_cursor_only_when_more_rows_follow() -> None:
    assert page_answer([1, 2, 3], 3, str) == ([1, 2, 3], None)
    assert page_answer([1, 2, 3, 4], 3, str) == ([1, 2, 3], "3")
    assert page_answer([], 3, str) == ([], None)
