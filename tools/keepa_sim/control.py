"""Test controls under `/_sim/` (not part of Keepa): request log, reset, faults, bucket."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from keepa_sim.catalog import Catalog
from keepa_sim.state import Fault, SimState


class ControlError(ValueError):
    pass


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ControlError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object")
    return data


def _int(data: dict[str, Any], name: str, *, minimum: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ControlError(f"{name} must be an integer >= {minimum}")
    return value


def _number(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ControlError(f"{name} must be a number >= 0")
    return float(value)


class Controls:
    def __init__(self, state: SimState, catalog: Catalog) -> None:
        self.state = state
        self.catalog = catalog

    def _tokens(self) -> dict[str, Any]:
        bucket = self.state.bucket
        snap = bucket.snapshot()
        return {
            "tokens_left": snap.tokens_left,
            "refill_in_ms": snap.refill_in_ms,
            "refill_rate": bucket.refill_rate,
            "reported_refill_rate": snap.refill_rate,
            "time_scale": bucket.time_scale,
            "max_tokens": bucket.max_tokens,
        }

    async def health(self, _request: Request) -> Response:
        return JSONResponse({"ok": True, "recorded_products": len(self.catalog)})

    async def stats(self, _request: Request) -> Response:
        faults = [f.as_dict() for f in self.state.faults]
        return JSONResponse({"requests": self.state.requests, **self._tokens(), "faults": faults})

    async def reset(self, _request: Request) -> Response:
        self.state.reset()
        return JSONResponse({"ok": True, **self._tokens()})

    async def add_fault(self, request: Request) -> Response:
        data = await _body(request)
        status = _int(data, "status", minimum=100)
        delay_ms = _int(data, "delay_ms", minimum=0) or 0
        count = _int(data, "count", minimum=1) or 1
        if status is None and not delay_ms:
            raise ControlError("give a status, a delay_ms, or both")
        self.state.faults.append(Fault(status, delay_ms, count))
        return JSONResponse({"faults": [f.as_dict() for f in self.state.faults]})

    async def set_price(self, request: Request) -> Response:
        """{"asin": ..., "factor": 2.0}: every price of that synthetic book times the factor
        from now on (1.0: as generated)."""
        data = await _body(request)
        asin, factor = data.get("asin"), _number(data, "factor")
        if not isinstance(asin, str) or not asin or factor is None or factor <= 0:
            raise ControlError("give an asin and a factor > 0")
        self.state.price_factors[asin.upper()] = factor
        return JSONResponse({"price_factors": self.state.price_factors})

    async def clear_faults(self, _request: Request) -> Response:
        self.state.faults.clear()
        return JSONResponse({"faults": []})

    async def set_tokens(self, request: Request) -> Response:
        data = await _body(request)
        tokens = data.get("tokens_left")
        if tokens is not None and (not isinstance(tokens, int | float) or isinstance(tokens, bool)):
            raise ControlError("tokens_left must be a number")
        self.state.bucket.set(
            tokens=tokens,
            refill_rate=_int(data, "refill_rate", minimum=0),
            time_scale=_number(data, "time_scale"),
            max_tokens=_int(data, "max_tokens", minimum=0),
        )
        return JSONResponse({"ok": True, **self._tokens()})


Handler = Callable[[Request], Awaitable[Response]]


def _guard(handler: Handler) -> Handler:
    """Turn a bad control request into a 422 that says what was wrong."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, 422)

    return wrapped


def control_routes(state: SimState, catalog: Catalog) -> list[Route]:
    c = Controls(state, catalog)
    return [
        Route("/_sim/health", c.health, methods=["GET"]),
        Route("/_sim/stats", c.stats, methods=["GET"]),
        Route("/_sim/reset", c.reset, methods=["POST"]),
        Route("/_sim/faults", _guard(c.add_fault), methods=["POST"]),
        Route("/_sim/faults", c.clear_faults, methods=["DELETE"]),
        Route("/_sim/tokens", _guard(c.set_tokens), methods=["POST"]),
        Route("/_sim/prices", _guard(c.set_price), methods=["POST"]),
    ]
