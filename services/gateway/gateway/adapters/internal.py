"""Reads go to the service that owns the data, over internal HTTP with pooled clients."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

from ..api.problems import ProblemError


class InternalServices:
    def __init__(self, *, batch_url: str, analysis_urls: list[str], timeout: float) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        self._http = httpx.AsyncClient(timeout=timeout, limits=limits)
        self._batch_url = batch_url.rstrip("/")
        self._analysis_urls = analysis_urls
        self._next_analysis = itertools.cycle(range(len(analysis_urls)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def batch(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """GET from the batch service; None for 404."""
        return await self._get([self._batch_url], path, params, service="batch service")

    async def analysis(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        return await self._get(self._analysis_order(), path, params, service="analysis service")

    async def analysis_post(self, path: str, body: Any, wait_seconds: float) -> httpx.Response:
        """POST to an analysis instance (the next one if it cannot be reached); 504 when the
        instance does not answer within `wait_seconds`."""
        last: Exception | None = None
        for base in self._analysis_order():
            try:
                return await self._http.post(base + path, json=body, timeout=wait_seconds)
            except httpx.ConnectTimeout as exc:
                last = exc
            except httpx.TimeoutException:
                raise ProblemError(
                    504, "analysis-timeout", "Analysis timed out",
                    f"no answer within {wait_seconds:g} s (INSTANT_ANALYSIS_TIMEOUT_SECONDS); "
                    "the analysis may still finish: retry (with the same Idempotency-Key, if "
                    "you sent one) to get its result") from None
            except httpx.TransportError as exc:
                last = exc
        raise _unavailable("analysis service", last)

    def _analysis_order(self) -> list[str]:
        """Round-robin between instances; on a connection error, the next one answers."""
        start = next(self._next_analysis)
        return self._analysis_urls[start:] + self._analysis_urls[:start]

    async def _get(self, bases: list[str], path: str, params: dict[str, Any] | None,
                   *, service: str) -> Any | None:
        clean = {k: str(v) for k, v in (params or {}).items() if v is not None}
        last: Exception | None = None
        for base in bases:
            try:
                response = await self._http.get(base + path, params=clean)
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code == 404:
                return None
            if response.status_code >= 500:
                last = RuntimeError(f"{service} answered {response.status_code}")
                continue
            response.raise_for_status()
            return response.json()
        raise _unavailable(service, last)


def _unavailable(service: str, cause: Exception | None) -> ProblemError:
    detail = f"the {service} is not reachable; try again shortly"
    if cause is not None:
        detail += f" ({type(cause).__name__})"
    return ProblemError(503, "dependency-unavailable", "Service unavailable", detail,
                        headers={"Retry-After": "5"})


def owner_param(owner_id: uuid.UUID | None) -> dict[str, Any]:
    return {"owner_id": str(owner_id)} if owner_id else {}
