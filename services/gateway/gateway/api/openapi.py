"""The OpenAPI document, clean enough to generate a typed client from: named enums used by $ref,
errors as problem+json only, the limits of this deployment's settings, tags with descriptions."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.models import Schema
from pydantic.json_schema import models_json_schema

from av_shared.events import StrategyName
from av_shared.events.business_config import InboundPlacementName, SellAgainst
from av_shared.events.chunk_item import Condition
from av_shared.views import (
    AnalysisOutcomeName,
    BatchStatusName,
    ItemStatusName,
    RecommendationName,
)

from ..settings import GatewaySettings
from ..watchlists.conditions import AlertKind
from ..webhooks.outbox import WebhookEvent
from .analyses import SortKey
from .books import TrendDirectionName
from .exports import ExportFormat
from .problems import PROBLEM_JSON
from .schemas import BatchIn, RoleName
from .watchlists import ChangeAlertKind, ThresholdAlertKind

TAGS: list[dict[str, Any]] = [
    {
        "name": "auth",
        "description": "Accounts, log in (OAuth2 password flow), access and "
        "refresh tokens, your account and quotas",
    },
    {
        "name": "api_keys",
        "description": "API keys for scripts: `X-API-Key: avk_...` or "
        "`Authorization: Bearer avk_...`",
    },
    {
        "name": "config",
        "description": "Your strategy thresholds, seller costs and batch "
        "defaults; versioned, snapshotted into each batch",
    },
    {
        "name": "batches",
        "description": "Submit lists of books (202, analysed in the "
        "background), follow, cancel and export them",
    },
    {
        "name": "analyses",
        "description": "Results: fees, profit, ROI, velocity and "
        "BUY/WATCH/PASS; the instant analysis of one book",
    },
    {"name": "admin", "description": "Admins only: sellers, their roles and quotas"},
    {
        "name": "books",
        "description": "A book you analysed: its Keepa price and sales-rank history, sales, "
        "trends and chart (no Keepa token spent)",
    },
    {
        "name": "webhooks",
        "description": "Signed HTTPS callbacks when a batch completes or fails and when an "
        "alert triggers; their deliveries and attempts",
    },
    {
        "name": "watchlists",
        "description": "Books you watch, re-analysed on the list's interval, with the "
        "conditions that raise an alert",
    },
    {"name": "alerts", "description": "What triggered on your watchlists, before and after"},
    {
        "name": "schedules",
        "description": "Batches re-submitted on a cron expression or interval; their runs",
    },
    {"name": "operations", "description": "Health, readiness, metrics, the AsyncAPI document"},
]

# Operation ids are route names; these routes come from av_shared and are named as nouns.
OPERATION_IDS = {"health": "get_health", "ready": "get_readiness", "metrics": "get_metrics"}

# Every enum of the document, by its values: the document refers to these by $ref.
ENUMS: dict[str, tuple[tuple[str, ...], str]] = {
    "Condition": (get_args(Condition), "Condition of the copy"),
    "BatchStatus": (get_args(BatchStatusName), "Status of a batch (the last three are final)"),
    "ItemStatus": (get_args(ItemStatusName), "What became of one line of a batch"),
    "Recommendation": (get_args(RecommendationName), "The verdict on buying the book"),
    "StrategyName": (get_args(StrategyName), "A named preset of thresholds"),
    "Role": (get_args(RoleName), "Role of an account"),
    "AnalysisOutcome": (
        get_args(AnalysisOutcomeName),
        "Whether market data was found and the item is a book",
    ),
    "TrendDirection": (
        get_args(TrendDirectionName),
        "Whether a price or the sales rank rose, fell or stayed flat over the window",
    ),
    "AnalysisSort": (
        get_args(SortKey),
        "Sort field of analyses, `-` for descending; `item`: position in the batch",
    ),
    "ExportFormat": (get_args(ExportFormat), "What a batch export is written as"),
    "WebhookEvent": (get_args(WebhookEvent), "An event a webhook can be sent"),
    "AlertKind": (get_args(AlertKind), "What a watched book is alerted on"),
    "ChangeAlertKind": (get_args(ChangeAlertKind), "A change a watched book is alerted on"),
    "ThresholdAlertKind": (get_args(ThresholdAlertKind), "A threshold a watched book crosses"),
    "SellAgainst": (get_args(SellAgainst), "The price a rank band sells a copy against"),
    "InboundPlacement": (
        get_args(InboundPlacementName),
        "Amazon's inbound placement option your shipments use",
    ),
}
_BY_VALUES = {frozenset(values): name for name, (values, _) in ENUMS.items()}
_KEPT_BESIDE_REF = ("description", "default", "examples", "deprecated")


def customise_openapi(app: FastAPI, settings: GatewaySettings) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _bodies_parsed_by_routes(schema)
            _problem_only_errors(schema)
            _named_enums(schema)
            _json_schema_bounds(schema)
            _no_nul_in_strings(schema)
            _deployment_limits(schema, settings)
            _operations_routes(schema)
            _parameters_never_null(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _bodies_parsed_by_routes(schema: dict[str, Any]) -> None:
    """The batch body is parsed by the route (`batch_body`), not by FastAPI: its route refers to
    `BatchIn` (`BATCH_REQUEST_BODY`), and the schemas are added here as FastAPI writes them
    (through its `Schema` model: no `null` defaults, numbers as floats)."""
    _, document = models_json_schema(
        [(BatchIn, "validation")], ref_template="#/components/schemas/{model}"
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in document.get("$defs", {}).items():
        if name not in components:
            components[name] = jsonable_encoder(
                Schema.model_validate(definition), by_alias=True, exclude_none=True
            )


def _problem_only_errors(schema: dict[str, Any]) -> None:
    """FastAPI documents an error response in the route's media type too (application/json, or
    text/csv for an export); errors are problem+json only."""
    for item in schema["paths"].values():
        for op in item.values():
            for response in op.get("responses", {}).values():
                content = response.get("content", {})
                if PROBLEM_JSON in content:
                    for media_type in [m for m in content if m != PROBLEM_JSON]:
                        del content[media_type]


def _named_enums(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    used: set[str] = set()

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "enum" in node and (name := _BY_VALUES.get(frozenset(node["enum"]))):
            used.add(name)
            ref: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
            ref.update({k: node[k] for k in _KEPT_BESIDE_REF if k in node})
            return ref
        return {k: walk(v) for k, v in node.items()}

    schema["paths"] = walk(schema["paths"])
    for name in list(components):
        components[name] = walk(components[name])
    for name in sorted(used):
        values, description = ENUMS[name]
        components[name] = {
            "type": "string",
            "enum": list(values),
            "title": name,
            "description": description,
        }


# pydantic writes the bounds of an Annotated type with a validator before them (`Count | None`
# with `Field(ge=1)`) under its own names, which JSON Schema does not know: a client would see
# no bound at all.
_BOUND_KEYWORDS = {
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
}


def _json_schema_bounds(schema: dict[str, Any]) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            if node.get("type") in ("integer", "number"):
                for ours, standard in _BOUND_KEYWORDS.items():
                    if ours in node and not isinstance(node[ours], dict):
                        node.setdefault(standard, node.pop(ours))
            for value in node.values():
                walk(value)

    walk(schema)


# A NUL character is refused in every string of a request (PostgreSQL cannot store it): a
# string the document gives no stricter shape says so.
NO_NUL_PATTERN = "^[^\\x00]*$"
_COMPONENT = "#/components/schemas/"
_SHAPED = ("pattern", "format", "enum", "const", "contentMediaType", "contentEncoding")


def _no_nul_in_strings(schema: dict[str, Any]) -> None:
    """In requests only: a problem may quote what was refused."""
    components = schema.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_COMPONENT):
                name = ref.removeprefix(_COMPONENT)
                if name not in seen and name in components:
                    seen.add(name)
                    walk(components[name])
            if node.get("type") == "string" and not any(k in node for k in _SHAPED):
                node["pattern"] = NO_NUL_PATTERN
            for value in node.values():
                walk(value)

    for item in schema["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                walk(op.get("parameters", []))
                walk(op.get("requestBody", {}))


def _deployment_limits(schema: dict[str, Any], settings: GatewaySettings) -> None:
    """Limits that are settings: the document states this deployment's values."""
    components = schema["components"]["schemas"]
    for model in components.values():
        buy_cost = model.get("properties", {}).get("buy_cost")
        if buy_cost is not None and "maximum" in buy_cost:
            buy_cost["maximum"] = settings.max_buy_cost
    components["BatchIn"]["properties"]["items"]["maxItems"] = settings.max_batch_items


def _parameters_never_null(schema: dict[str, Any]) -> None:
    """An optional query parameter or header is left out, never `null`: FastAPI writes
    `str | None` as `anyOf: [string, null]`, which a client (or schemathesis) sends as `null`."""
    for item in schema["paths"].values():
        for op in item.values():
            for parameter in op.get("parameters", []):
                found = parameter.get("schema", {})
                branches = found.get("anyOf", [])
                kept = [b for b in branches if b.get("type") != "null"]
                if len(branches) == 2 and len(kept) == 1:
                    del found["anyOf"]
                    parameter["schema"] = {**kept[0], **found}


def _operations_routes(schema: dict[str, Any]) -> None:
    ready = schema["paths"].get("/ready", {}).get("get")
    if ready is not None:
        ready["responses"]["503"] = {
            "description": "Not ready: a check (database, broker, consumer group) failed",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
