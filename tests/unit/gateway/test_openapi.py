"""The OpenAPI document is what the front-end generates its typed client from: keep it clean."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.main import create_app


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app().openapi()


def _operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in openapi["paths"].items()
            for method, op in item.items()]


def test_operation_ids_are_unique_and_usable_as_names(openapi: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(openapi)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z_]+-[a-z_]+", i) for i in ids), ids


def test_errors_are_documented_as_problem_details(openapi: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    for path, method, op in _operations(openapi):
        if not path.startswith("/api/v1/"):
            continue
        for status in ("401", "422"):
            content = op["responses"][status]["content"]
            assert list(content) == ["application/problem+json"], (path, method, status)


def test_batch_and_analysis_responses_are_typed(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    analysis = schemas["AnalysisView"]["properties"]
    for field in ("fees", "profit", "roi_percent", "velocity_score", "recommendation", "reasons",
                  "price_basis", "estimated_monthly_sales", "risk_flags", "fee_schedule"):
        assert field in analysis
    batch = schemas["BatchView"]["properties"]
    for field in ("status", "items_total", "items_processed", "items_failed", "eta_seconds"):
        assert field in batch
