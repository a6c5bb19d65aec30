"""Bad input gets a problem+json naming the field or item, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from devstack.stack import Stack
from tests.e2e.conftest import Seller
from tests.helpers import admin_value

GOOD = {"identifier": "0593655036", "buy_cost": 2.5}
TRACE_SQL = (
    "SELECT (SELECT count(*) FROM gateway.submissions) + (SELECT count(*) FROM gateway.outbox)"
)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"name": "x", "items": [GOOD, {"identifier": "0-306-40615-3", "buy_cost": 1}]},
            "items[1].identifier",
            "check digit",
        ),
        (
            {"name": "x", "items": [{"identifier": "B0-BAD", "buy_cost": 1}]},
            "items[0].identifier",
            "length",
        ),
        (
            {"name": "x", "items": [{"identifier": "B0ÄÖÜ12345", "buy_cost": 1}]},
            "items[0].identifier",
            "character",
        ),
        (
            {"name": "x", "items": [GOOD, GOOD, {"identifier": "0593655036", "buy_cost": -1}]},
            "items[2].buy_cost",
            "greater than or equal",
        ),
        (
            {"name": "x", "items": [{"identifier": "0593655036", "buy_cost": 1e12}]},
            "items[0].buy_cost",
            "less than or equal to 10000 (the MAX_BUY_COST setting)",
        ),
        (
            {"name": "x", "items": [{"identifier": "0593655036", "buy_cost": "2.50"}]},
            "items[0].buy_cost",
            "must be a number",
        ),
        (
            {"name": "x", "items": [{"identifier": "0593655036", "buy_cost": True}]},
            "items[0].buy_cost",
            "must be a number",
        ),
        (
            {"name": "x", "items": [{"identifier": "HELLOWORLD", "buy_cost": 1}]},
            "items[0].identifier",
            "an ASIN is 10 letters/digits starting with B",
        ),
        (
            {"name": "x", "items": [{"identifier": "1234567ABC", "buy_cost": 1}]},
            "items[0].identifier",
            "not an ISBN or ASIN",
        ),
        ({"name": "a\u0001b", "items": [GOOD]}, "name", "control characters"),
        (
            {"name": "x", "items": [GOOD], "strategy": {"min_profit": 1.234}},
            "strategy.min_profit",
            "at most 2 decimal places",
        ),
        (
            {"name": "x", "items": [GOOD], "strategy": {"min_roi_percent": 1e-7}},
            "strategy.min_roi_percent",
            "at most 2 decimal places",
        ),
        (
            {"name": "x", "items": [GOOD], "strategy": {"min_roi_percent": -5}},
            "strategy.min_roi_percent",
            "greater than or equal to 0",
        ),
        (
            {"name": "x", "items": [{"identifier": "0593655036", "buy_cost": 1.234}]},
            "items[0].buy_cost",
            "2 decimal places",
        ),
        (
            {
                "name": "x",
                "items": [{"identifier": "0593655036", "buy_cost": 1, "condition": "mint"}],
            },
            "items[0].condition",
            "'new' or 'used'",
        ),
        ({"name": "x", "items": []}, "items", "at least 1"),
        ({"name": "x", "items": [GOOD], "priority": "high"}, "priority", "not permitted"),
        ({"name": "", "items": [GOOD]}, "name", "at least 1"),
    ],
)
async def test_bad_batches_are_named_and_leave_no_trace(
    seller: Seller, stack: Stack, body: dict[str, Any], field: str, message: str
) -> None:
    before = await admin_value(stack.admin_url, TRACE_SQL)
    response = await seller.post("/api/v1/batches", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["title"]
    named = {e["field"]: e["message"] for e in problem["errors"]}
    assert field in named, problem
    assert message in named[field], problem
    assert await admin_value(stack.admin_url, TRACE_SQL) == before


@pytest.mark.parametrize(
    ("strategy", "field"),
    [
        ({"min_profit": 1.234}, "strategy.min_profit"),
        ({"min_roi_percent": 1e-7}, "strategy.min_roi_percent"),
    ],
)
async def test_an_instant_analysis_override_is_validated(
    seller: Seller, strategy: Any, field: str
) -> None:
    response = await seller.post("/api/v1/analyses", json={**GOOD, "strategy": strategy})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert (await seller.get("/api/v1/users/me/quotas")).json()["items_today"] == 0


async def test_an_override_with_cents_reaches_the_batch_service(seller: Seller) -> None:
    """The snapshot in the events parses in every consumer: the batch is acknowledged and runs."""
    batch = await seller.submit(
        [GOOD], name="own thresholds", strategy={"min_profit": 1.23, "min_roi_percent": 12.5}
    )
    assert (await seller.wait_terminal(batch["id"]))["status"] == "COMPLETED"


async def test_over_the_item_limit_is_refused(seller: Seller, stack: Stack) -> None:
    before = await admin_value(stack.admin_url, TRACE_SQL)
    response = await seller.post(
        "/api/v1/batches", json={"name": "huge", "items": [GOOD] * 100_001}
    )
    assert response.status_code in (413, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "100000" in response.text or "100,000" in response.text
    assert await admin_value(stack.admin_url, TRACE_SQL) == before


async def test_wrong_content_type_and_broken_json(seller: Seller) -> None:
    as_text = await seller.post(
        "/api/v1/batches",
        content=b'{"name": "x"}',
        headers={**seller.headers, "Content-Type": "text/plain"},
    )
    assert as_text.status_code == 415
    assert as_text.headers["content-type"] == "application/problem+json"
    broken = await seller.post(
        "/api/v1/batches",
        content=b'{"name":"x",',
        headers={**seller.headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert broken.headers["content-type"] == "application/problem+json"
    [error] = broken.json()["errors"]
    assert error["field"] == "body"
    assert error["message"].startswith("malformed JSON at character 12")
    latin1 = await seller.post(
        "/api/v1/batches",
        content=b'{"name": "caf\xe9", "items": []}',
        headers={**seller.headers, "Content-Type": "application/json"},
    )
    assert latin1.status_code == 422
    assert latin1.json()["errors"] == [
        {"field": "body", "message": "not valid UTF-8: byte 0xe9 at position 13"}
    ]


async def test_a_streamed_body_over_the_limit_is_413(seller: Seller, stack: Stack) -> None:
    """Without Content-Length (chunked), the bytes are counted as they arrive."""
    limit = 16 * 1024 * 1024  # MAX_REQUEST_BYTES' default
    before = await admin_value(stack.admin_url, TRACE_SQL)

    async def body() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(limit // (1024 * 1024)):
            yield b"n" * (1024 * 1024)
        yield b"n" * 1024 + b'", "items": []}'

    response = await seller.post(
        "/api/v1/batches", content=body(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert f"at most {limit} bytes" in response.json()["detail"]
    assert await admin_value(stack.admin_url, TRACE_SQL) == before


async def test_bad_query_parameters_are_named(seller: Seller) -> None:
    response = await seller.get("/api/v1/analyses", params={"size": 501, "sort": "price"})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"size", "sort"}


@pytest.mark.parametrize(
    ("path", "params", "unknown"),
    [
        ("/api/v1/analyses", {"min_roii": 50}, "min_roii"),
        ("/api/v1/batches", {"page": 1, "limit": 10}, "limit"),
        ("/api/v1/config/history", {"offset": 5}, "offset"),
    ],
)
async def test_unknown_query_parameters_are_refused(
    seller: Seller, path: str, params: dict[str, Any], unknown: str
) -> None:
    response = await seller.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [unknown]


async def test_a_405_names_every_method_of_the_path(seller: Seller) -> None:
    """Each method of a path is its own route: the Allow header lists them all (RFC 9110)."""
    for method, path, allowed in [
        ("DELETE", "/api/v1/batches", {"GET", "POST"}),
        ("PATCH", "/api/v1/config", {"GET", "PUT"}),
        ("PUT", "/api/v1/api-keys", {"GET", "POST"}),
    ]:
        response = await seller.request(method, path)
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        advertised = {m.strip() for m in response.headers["allow"].split(",")}
        assert advertised - {"HEAD"} == allowed, (path, advertised)


async def test_if_match_takes_only_an_etag_of_the_config(seller: Seller) -> None:
    for bad in ["", "3", "W/3", '"3', '"x"']:
        response = await seller.put("/api/v1/config", json={}, headers={"If-Match": bad})
        assert response.status_code == 400, (bad, response.text)
    current = await seller.get("/api/v1/config")
    saved = await seller.put(
        "/api/v1/config", json={}, headers={"If-Match": current.headers["etag"]}
    )
    assert saved.status_code == 200, saved.text
    assert (
        await seller.put("/api/v1/config", json={}, headers={"If-Match": "*"})
    ).status_code == 200
