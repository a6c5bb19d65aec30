"""The Keepa-compatible HTTP surface: `GET /product`, `GET /token` and the `/_sim/` controls."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from keepa_sim.catalog import Catalog
from keepa_sim.config import SimConfig
from keepa_sim.control import control_routes
from keepa_sim.keepa_time import to_keepa_minute
from keepa_sim.query import QueryError, parse_product_query
from keepa_sim.resolve import Resolver
from keepa_sim.state import SimState

log = logging.getLogger("keepa_sim")


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, media_type="application/json")


def _error(error_type: str, message: str) -> dict[str, Any]:
    # Keepa's RequestError object: type, message, details.
    return {"type": error_type, "message": message, "details": None}


def _split(raw: str | None) -> list[str]:
    return [p.strip().upper() for p in (raw or "").split(",") if p.strip()]


class KeepaEndpoints:
    def __init__(self, state: SimState, resolver: Resolver) -> None:
        self.state = state
        self.resolver = resolver

    def envelope(self, started: float, consumed: int, **extra: Any) -> dict[str, Any]:
        snap = self.state.bucket.snapshot()
        body = {
            "processingTimeInMs": round((time.perf_counter() - started) * 1000),
            "refillIn": snap.refill_in_ms,
            "refillRate": snap.refill_rate,
            "timestamp": round(self.state.config.clock() * 1000),
            "tokenFlowReduction": 0.0,
            "tokensConsumed": consumed,
            "tokensLeft": snap.tokens_left,
            **extra,
        }
        return dict(sorted(body.items()))  # Keepa sends its keys in alphabetical order

    def _key_ok(self, request: Request) -> bool:
        key = request.query_params.get("key", "")
        expected = self.state.config.api_key
        return bool(key) and (expected is None or key == expected)

    def _unauthorized(self) -> dict[str, Any]:
        # No token fields: an unknown key has no account whose balance could be reported.
        error = _error("invalidAccessKey", "Missing or invalid API key")
        return {"error": error, "timestamp": round(self.state.config.clock() * 1000)}

    async def token(self, request: Request) -> Response:
        if not self._key_ok(request):
            return json_response(self._unauthorized(), 401)
        return json_response(self.envelope(time.perf_counter(), 0))

    async def product(self, request: Request) -> Response:
        params = request.query_params
        entry: dict[str, Any] = {
            "asins": _split(params.get("asin")),
            "codes": _split(params.get("code")),
            "offers": params.get("offers", "0") not in ("", "0"),
        }
        fault = self.state.next_fault()
        if fault is not None and fault.delay_ms:
            epoch = self.state.epoch
            await asyncio.sleep(fault.delay_ms / 1000)
            if epoch != self.state.epoch:
                error = _error("simulatorReset", "reset while delayed")
                return json_response({"error": error}, 503)
        started = time.perf_counter()
        status, body = self._serve(request, fault.status if fault else None, started)
        self.state.record(
            **entry,
            status=status,
            tokens_consumed=body.get("tokensConsumed", 0),
            products=len(body.get("products") or ()),
        )
        log.info(
            "GET /product items=%d -> %d (%s tokens)",
            len(entry["asins"]) + len(entry["codes"]),
            status,
            body.get("tokensConsumed", 0),
        )
        return json_response(body, status)

    def _serve(
        self, request: Request, fault_status: int | None, started: float
    ) -> tuple[int, dict[str, Any]]:
        if fault_status is not None:
            error = _error("simulatedFault", f"injected HTTP {fault_status}")
            return fault_status, self.envelope(started, 0, error=error)
        if not self._key_ok(request):
            return 401, self._unauthorized()
        try:
            query = parse_product_query(request.query_params)
        except QueryError as exc:
            return exc.status, self.envelope(started, 0, error=_error(exc.error_type, exc.message))
        resolution = self.resolver.resolve(query, to_keepa_minute(self.state.config.clock()))
        allow_negative = self.state.config.allow_negative
        if not self.state.bucket.try_consume(resolution.tokens, allow_negative=allow_negative):
            return 429, self.envelope(started, 0)
        return 200, self.envelope(started, resolution.tokens, products=resolution.products)


def create_app(config: SimConfig | None = None) -> Starlette:
    """An ASGI app serving Keepa's `/product` from `config.samples_dir` plus synthetic books."""
    cfg = config or SimConfig()
    state = SimState(cfg)
    catalog = Catalog.from_dir(cfg.samples_dir)
    keepa = KeepaEndpoints(state, Resolver(catalog, state.price_factors))
    routes = [
        Route("/product", keepa.product, methods=["GET"]),
        Route("/token", keepa.token, methods=["GET"]),
        *control_routes(state, catalog),
    ]
    # Keepa always answers gzip-compressed; recordings with offers are megabytes of JSON. The
    # fastest level: the simulator's CPU is the test pipeline's bottleneck, not the loopback.
    app = Starlette(
        routes=routes, middleware=[Middleware(GZipMiddleware, minimum_size=1024, compresslevel=1)]
    )
    app.state.sim = state
    return app
