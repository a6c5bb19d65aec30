"""What the public API answers to bad requests, before any work is done: status and a
problem+json body naming the field. The app runs in process (no database or services: requests
that would pass validation are not sent here, except to routes served by the fake services)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from av_shared.events import BatchSubmitted, BusinessConfigSnapshot, parse_event, serialize_event
from gateway.api import deps
from gateway.api.problems import ProblemError
from gateway.api.schemas import ItemIn, StrategyOverride, buy_cost_limit
from gateway.business_config import apply_override
from gateway.main import create_app
from gateway.settings import GatewaySettings

MAX_BYTES = 16_384
MAX_BUY_COST = 50
GOOD = {"identifier": "0593655036", "buy_cost": 2.5}
PROBLEM = "application/problem+json"


class FakeServices:
    """The internal services: list endpoints answer an empty page; every call is recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def analysis(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append((path, params or {}))
        return {"items": [], "total": 0, "page": 1, "size": 50}

    async def batch(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append((path, params or {}))
        return {"items": [], "total": 0, "page": 1, "size": 50}

    async def analysis_bytes(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        return json.dumps(await self.analysis(path, params)).encode()


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
async def client(services: FakeServices) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        GatewaySettings(max_request_bytes=MAX_BYTES, max_buy_cost=MAX_BUY_COST, max_batch_items=5)
    )

    async def no_session() -> AsyncIterator[None]:
        yield None

    app.dependency_overrides[deps.get_current_user] = lambda: deps.CurrentUserInfo(
        uuid.uuid4(), "seller@example.com", "user"
    )
    app.dependency_overrides[deps.get_session] = no_session
    app.dependency_overrides[deps.get_services] = lambda: services
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


def named(response: httpx.Response, status: int = 422) -> dict[str, str]:
    """{field: message} of a problem response, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    return {e["field"]: e["message"] for e in problem.get("errors", [])}


# -- 1, 6: strategy overrides --------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/batches", "/api/v1/analyses"])
@pytest.mark.parametrize(
    ("strategy", "field", "message"),
    [
        ({"min_profit": 1.234}, "strategy.min_profit", "at most 2 decimal places"),
        ({"min_roi_percent": 1e-7}, "strategy.min_roi_percent", "at most 2 decimal places"),
        ({"min_roi_percent": -5}, "strategy.min_roi_percent", "greater than or equal to 0"),
        ({"min_profit": "3.00"}, "strategy.min_profit", "must be a number"),
        ({"min_velocity_score": "40"}, "strategy.min_velocity_score", "integer"),
        ({"min_velocity_score": True}, "strategy.min_velocity_score", "integer"),
        ({"colour": "red"}, "strategy.colour", "not permitted"),
        ("yolo", "strategy", "'balanced', 'textbook' or 'velocity'"),
        (5, "strategy", "a strategy name ('balanced', 'textbook' or 'velocity') or an object"),
    ],
)
async def test_a_bad_strategy_override_is_named(
    client: httpx.AsyncClient, path: str, strategy: Any, field: str, message: str
) -> None:
    body = {"name": "x", "items": [GOOD]} if path.endswith("batches") else dict(GOOD)
    response = await client.post(path, json={**body, "strategy": strategy})
    errors = named(response)
    assert list(errors) == [field], response.json()
    assert message in errors[field]
    assert response.json()["detail"].startswith(f"{field}: ")


def test_an_override_is_validated_as_the_event_contract_validates_it() -> None:
    base = BusinessConfigSnapshot()
    done = apply_override(
        base, StrategyOverride.model_validate({"min_profit": 4.5, "min_roi_percent": 12.25})
    )
    assert done.strategy.min_profit == Decimal("4.5")
    # what consumers do with the snapshot: it parses back
    event = BatchSubmitted(
        batch_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        name="n",
        items_total=1,
        chunk_count=1,
        submitted_at=datetime.now(UTC),
        config=done,
        correlation_id="c",
    )
    assert parse_event(serialize_event(event)) == event
    # An override that skipped validation (model_construct) is still refused, naming the field,
    # instead of producing a snapshot that no consumer can read.
    smuggled = StrategyOverride.model_construct(min_profit=Decimal("1.234"))
    smuggled.__pydantic_fields_set__ = {"min_profit"}
    with pytest.raises(ProblemError) as caught:
        apply_override(base, smuggled)
    assert caught.value.status == 422
    assert caught.value.extra["errors"][0]["field"] == "strategy.min_profit"


# -- 5: buy_cost ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("buy_cost", "message"),
    [
        ("2.50", "must be a number (e.g. 2.5), not a string"),
        (True, "must be a number (e.g. 2.5), not a boolean"),
        (None, "must be a number (e.g. 2.5), not null"),
        (-1, "greater than or equal to 0"),
        (1.234, "at most 2 decimal places"),
        (MAX_BUY_COST + 0.01, f"less than or equal to {MAX_BUY_COST} (the MAX_BUY_COST setting)"),
        (1e12, f"less than or equal to {MAX_BUY_COST} (the MAX_BUY_COST setting)"),
    ],
)
async def test_buy_cost_is_a_json_number_within_the_setting(
    client: httpx.AsyncClient, buy_cost: Any, message: str
) -> None:
    response = await client.post(
        "/api/v1/batches",
        json={"name": "x", "items": [GOOD, {"identifier": "0593655036", "buy_cost": buy_cost}]},
    )
    errors = named(response)
    assert list(errors) == ["items[1].buy_cost"] and message in errors["items[1].buy_cost"]


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
async def test_non_finite_buy_costs_say_so(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/api/v1/analyses",
        content=b'{"identifier": "0593655036", "buy_cost": ' + raw + b"}",
        headers={"content-type": "application/json"},
    )
    assert named(response) == {"buy_cost": "must be a finite number"}


def test_buy_cost_limit_follows_the_setting() -> None:
    token = buy_cost_limit.set(Decimal("20000"))
    try:
        assert ItemIn.model_validate(
            {"identifier": "0593655036", "buy_cost": 15000}
        ).cost() == Decimal("15000.00")
        with pytest.raises(ValidationError, match="less than or equal to 20000"):
            ItemIn.model_validate({"identifier": "0593655036", "buy_cost": 20000.01})
    finally:
        buy_cost_limit.reset(token)
    assert ItemIn.model_validate({"identifier": "0593655036", "buy_cost": 2}).cost() == Decimal(
        "2.00"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"strategy": {"min_profit": "3"}}, "strategy.min_profit"),
        ({"strategy": {"min_roi_percent": False}}, "strategy.min_roi_percent"),
        ({"seller_costs": {"prep_per_unit": "0.5"}}, "seller_costs.prep_per_unit"),
        ({"seller_costs": {"sales_tax_percent": "8.25"}}, "seller_costs.sales_tax_percent"),
    ],
)
async def test_config_amounts_are_numbers(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    errors = named(await client.put("/api/v1/config", json=body))
    assert list(errors) == [field] and "must be a number" in errors[field]


# -- 9: names -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a\u0001b", "must not contain control characters (U+0001 at position 1)"),
        ("a\tb", "must not contain control characters (U+0009 at position 1)"),
        ("line\nbreak", "must not contain control characters (U+000A at position 4)"),
        ("del\u007f", "must not contain control characters (U+007F at position 3)"),
        ("   ", "String should have at least 1 character"),
    ],
)
async def test_control_characters_in_names_are_refused(
    client: httpx.AsyncClient, name: str, message: str
) -> None:
    response = await client.post("/api/v1/batches", json={"name": name, "items": [GOOD]})
    assert named(response) == {"name": message}
    key = await client.post("/api/v1/api-keys", json={"name": name})
    assert named(key) == {"name": message}


# -- 3: identifiers -------------------------------------------------------------------------------
@pytest.mark.parametrize("identifier", ["HELLOWORLD", "1234567ABC"])
async def test_malformed_asins_are_refused(client: httpx.AsyncClient, identifier: str) -> None:
    response = await client.post(
        "/api/v1/batches", json={"name": "x", "items": [{"identifier": identifier, "buy_cost": 1}]}
    )
    assert "an ASIN is 10 letters/digits starting with B" in named(response)["items[0].identifier"]


# -- 8: bodies that are not JSON ------------------------------------------------------------------
async def test_malformed_json_names_the_body_and_the_position(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/batches", content=b'{"name":"x",', headers={"content-type": "application/json"}
    )
    errors = named(response)
    assert list(errors) == ["body"]
    assert errors["body"].startswith("malformed JSON at character 12")


async def test_invalid_utf8_is_a_clear_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/batches",
        content=b'{"name": "caf\xe9", "items": []}',
        headers={"content-type": "application/json"},
    )
    assert named(response) == {"body": "not valid UTF-8: byte 0xe9 at position 13"}


# -- 2: body size ---------------------------------------------------------------------------------
def _big_batch() -> bytes:
    return b'{"name": "' + b"n" * (MAX_BYTES * 4) + b'", "items": []}'


async def test_a_declared_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/batches", content=_big_batch(), headers={"content-type": "application/json"}
    )
    named(response, 413)
    assert f"at most {MAX_BYTES} bytes" in response.json()["detail"]


async def test_a_streamed_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        body = _big_batch()
        for start in range(0, len(body), 512):
            sent.append(start)
            yield body[start : start + 512]

    response = await client.post(
        "/api/v1/batches", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    named(response, 413)
    assert f"at most {MAX_BYTES} bytes" in response.json()["detail"]


async def test_a_streamed_body_within_the_limit_is_read(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "x", '
        yield b'"items": [{"identifier": "HELLOWORLD", "buy_cost": 1}]}'

    response = await client.post(
        "/api/v1/batches", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "items[0].identifier" in named(response)


# -- 12: unknown query parameters -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "unknown"),
    [
        ("/api/v1/analyses?min_roii=50", "min_roii"),
        ("/api/v1/analyses?sort=roi&batch=1", "batch"),
        ("/api/v1/batches?pagee=2", "pagee"),
        (f"/api/v1/batches/{uuid.uuid4()}/items?state=FAILED", "state"),
    ],
)
async def test_unknown_query_parameters_are_named(
    client: httpx.AsyncClient, services: FakeServices, path: str, unknown: str
) -> None:
    response = await client.get(path)
    errors = named(response)
    assert list(errors) == [unknown]
    assert errors[unknown].startswith("unknown query parameter; this endpoint takes ")
    assert services.calls == []


async def test_known_query_parameters_still_work(
    client: httpx.AsyncClient, services: FakeServices
) -> None:
    response = await client.get("/api/v1/analyses?min_roi=50&sort=-roi&recommendation=BUY")
    assert response.status_code == 200, response.text
    [(path, params)] = services.calls
    assert path == "/internal/analyses" and params["min_roi"] == 50 and params["sort"] == "-roi"


async def test_too_many_items_name_the_setting(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/batches", json={"name": "x", "items": [GOOD] * 6})
    assert named(response) == {"items": "at most 5 items (the MAX_BATCH_ITEMS setting)"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 5_000 + b"]" * 5_000, "cannot be parsed: nested too deeply"),
        (
            b'{"identifier": "0593655036", "buy_cost": ' + b"9" * 5000 + b"}",
            "cannot be parsed: Exceeds the limit (4300 digits)",
        ),
    ],
)
async def test_unparseable_json_is_a_422_naming_the_body(
    client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    response = await client.post(
        "/api/v1/analyses", content=body, headers={"content-type": "application/json"}
    )
    errors = named(response)
    assert list(errors) == ["body"] and errors["body"].startswith(message)
