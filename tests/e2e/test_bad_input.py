"""Bad input gets a problem+json naming the field or item, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.stack import Stack
from tests.e2e.conftest import Seller
from tests.helpers import admin_value

GOOD = {"identifier": "0593655036", "buy_cost": 2.5}
TRACE_SQL = ("SELECT (SELECT count(*) FROM gateway.submissions) "
             "+ (SELECT count(*) FROM gateway.outbox)")


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"name": "x", "items": [GOOD, {"identifier": "0-306-40615-3", "buy_cost": 1}]},
     "items[1].identifier", "check digit"),
    ({"name": "x", "items": [{"identifier": "B0-BAD", "buy_cost": 1}]},
     "items[0].identifier", "length"),
    ({"name": "x", "items": [{"identifier": "B0ÄÖÜ12345", "buy_cost": 1}]},
     "items[0].identifier", "character"),
    ({"name": "x", "items": [GOOD, GOOD, {"identifier": "0593655036", "buy_cost": -1}]},
     "items[2].buy_cost", "greater than or equal"),
    ({"name": "x", "items": [{"identifier": "0593655036", "buy_cost": 1e12}]},
     "items[0].buy_cost", "less than or equal"),
    ({"name": "x", "items": [{"identifier": "0593655036", "buy_cost": 1.234}]},
     "items[0].buy_cost", "2 decimal places"),
    ({"name": "x", "items": [{"identifier": "0593655036", "buy_cost": 1, "condition": "mint"}]},
     "items[0].condition", "'new' or 'used'"),
    ({"name": "x", "items": []}, "items", "at least 1"),
    ({"name": "x", "items": [GOOD], "priority": "high"}, "priority", "not permitted"),
    ({"name": "", "items": [GOOD]}, "name", "at least 1"),
])
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


async def test_over_the_item_limit_is_refused(seller: Seller, stack: Stack) -> None:
    before = await admin_value(stack.admin_url, TRACE_SQL)
    response = await seller.post("/api/v1/batches", json={"name": "huge",
                                                          "items": [GOOD] * 100_001})
    assert response.status_code in (413, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "100000" in response.text or "100,000" in response.text
    assert await admin_value(stack.admin_url, TRACE_SQL) == before


async def test_wrong_content_type_and_broken_json(seller: Seller) -> None:
    as_text = await seller.post("/api/v1/batches", content=b'{"name": "x"}',
                                headers={**seller.headers, "Content-Type": "text/plain"})
    assert as_text.status_code == 415
    assert as_text.headers["content-type"] == "application/problem+json"
    broken = await seller.post("/api/v1/batches", content=b'{"name": "x", "items": [',
                               headers={**seller.headers, "Content-Type": "application/json"})
    assert broken.status_code == 422
    assert broken.headers["content-type"] == "application/problem+json"


async def test_bad_query_parameters_are_named(seller: Seller) -> None:
    response = await seller.get("/api/v1/analyses", params={"size": 501, "sort": "price"})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"size", "sort"}
