"""The OpenAPI document is what the front-end generates its typed client from: keep it clean."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.api.openapi import ENUMS
from gateway.main import create_app
from gateway.settings import GatewaySettings

PROBLEM = "#/components/schemas/Problem"
PUBLIC = {"/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/refresh"}
BODY_METHODS = {"post", "put", "patch"}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app(GatewaySettings(max_buy_cost=2500, max_batch_items=1234)).openapi()


def _operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op) for path, item in openapi["paths"].items() for method, op in item.items()
    ]


def _api(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, op) for p, m, op in _operations(openapi) if p.startswith("/api/v1/")]


def _nodes(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _nodes(value, (*path, n))


def test_schema_names_are_chosen_not_generated(openapi: dict[str, Any]) -> None:
    names = list(openapi["components"]["schemas"])
    assert not [
        n for n in names if n.startswith("Body_") or not re.fullmatch(r"[A-Z][A-Za-z]*", n)
    ], names
    for page in ("AnalysisPage", "BatchPage", "BatchItemPage", "UserPage", "ConfigVersionPage"):
        assert page in names
    assert "TokenForm" in names


def test_operation_ids_are_unique_snake_case_verbs(openapi: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(openapi)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", i) for i in ids), ids
    by_route = {(m, p): op["operationId"] for p, m, op in _operations(openapi)}
    assert by_route[("post", "/api/v1/batches")] == "submit_batch"
    assert by_route[("get", "/api/v1/batches")] == "list_batches"
    assert by_route[("get", "/api/v1/batches/{batch_id}")] == "get_batch"
    assert by_route[("patch", "/api/v1/batches/{batch_id}/status")] == "cancel_batch"
    tags = {t["name"]: t for t in openapi["tags"]}
    for _, _, op in _operations(openapi):
        [tag] = op["tags"]
        assert tag in tags and " " not in tag and tags[tag]["description"]
        assert not op["operationId"].startswith(f"{tag}_")


def test_every_enum_is_a_named_schema_used_by_ref(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for path, node in _nodes(openapi):
        if isinstance(node, dict) and "enum" in node:
            assert path[:2] == ("components", "schemas") and len(path) == 3, path
            assert path[2] in ENUMS
    used = {
        node
        for _, node in _nodes(openapi)
        if isinstance(node, str) and node.startswith("#/components/schemas/")
    }
    for name in (
        "Condition",
        "BatchStatus",
        "ItemStatus",
        "Recommendation",
        "StrategyName",
        "Role",
        "AnalysisSort",
        "AnalysisOutcome",
    ):
        assert schemas[name]["enum"] and f"#/components/schemas/{name}" in used


def test_errors_are_documented_as_problem_details(openapi: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    for path, method, op in _api(openapi):
        responses = op["responses"]
        expected = {"422", "503"} | (set() if path in PUBLIC else {"401", "429"})
        if method in BODY_METHODS:
            expected |= {"413", "415"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], (path, status)
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": PROBLEM
                }
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"]
        assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
            responses["429"]["headers"]
        )
        assert "Retry-After" in responses["503"]["headers"]


def test_each_route_documents_what_it_can_answer(openapi: dict[str, Any]) -> None:
    def statuses(method: str, path: str) -> set[str]:
        return set(openapi["paths"][path][method]["responses"])

    assert "404" not in statuses("get", "/api/v1/batches")  # a list cannot be missing
    assert "404" not in statuses("post", "/api/v1/batches")
    assert {"404", "409"} <= statuses("patch", "/api/v1/batches/{batch_id}/status")
    assert "409" in statuses("post", "/api/v1/batches")
    assert {"502", "504"} <= statuses("post", "/api/v1/analyses")
    assert {"400", "412"} <= statuses("put", "/api/v1/config")
    for path, method, _ in _api(openapi):
        # 403: admins only, or registration closed (REGISTRATION_MODE).
        forbidding = path.startswith("/api/v1/admin/") or path == "/api/v1/auth/register"
        assert ("403" in statuses(method, path)) == forbidding, path
    headers = {
        ("post", "/api/v1/batches", "202"): "Location",
        ("patch", "/api/v1/batches/{batch_id}/status", "202"): "Location",
        ("get", "/api/v1/config", "200"): "ETag",
        ("put", "/api/v1/config", "200"): "ETag",
        ("get", "/api/v1/batches/{batch_id}/export", "200"): "Content-Disposition",
    }
    for (method, path, status), header in headers.items():
        assert header in openapi["paths"][path][method]["responses"][status]["headers"]


def test_problem_schema_has_every_extension_the_code_sends(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["Problem"]["properties"]
    assert {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "errors",
        "limit",
        "limit_value",
        "used",
    } <= set(problem)


def test_limits_are_this_deployments_settings(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    items = schemas["BatchIn"]["properties"]["items"]
    assert items["minItems"] == 1 and items["maxItems"] == 1234
    for model in ("ItemIn", "InstantAnalysisIn"):
        buy_cost = schemas[model]["properties"]["buy_cost"]
        assert buy_cost["type"] == "number" and buy_cost["maximum"] == 2500  # never a string


def test_batch_and_analysis_responses_are_typed(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    analysis = schemas["AnalysisView"]["properties"]
    for field in (
        "fees",
        "profit",
        "roi_percent",
        "velocity_score",
        "recommendation",
        "reasons",
        "price_basis",
        "estimated_monthly_sales",
        "risk_flags",
        "fee_schedule",
    ):
        assert field in analysis
    batch = schemas["BatchView"]["properties"]
    for field in ("status", "items_total", "items_processed", "items_failed", "eta_seconds"):
        assert field in batch
    assert "requested_status" in schemas["BatchCancelAccepted"]["properties"]
