"""Reads go to the service that owns the data, over internal HTTP with pooled clients, each call
with a short-lived service token for the service called (see av_shared.internal_auth). A read
without an owner (an admin's view of every seller) goes to the services' admin routes with an
admin-scoped token; every other read names its owner."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

from av_shared.internal_auth import ADMIN_PREFIX, ServiceTokens
from av_shared.tracing import traced_http_transport

from ..api.problems import ProblemError

BATCH_SERVICE = "batch-service"
ANALYSIS_SERVICE = "analysis-service"


class InternalServices:
    def __init__(
        self, *, batch_url: str, analysis_urls: list[str], timeout: float, tokens: ServiceTokens
    ) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        # Tracing on: each call a client span, its traceparent sent (None off: httpx's own).
        self._http = httpx.AsyncClient(
            timeout=timeout, limits=limits, transport=traced_http_transport(limits=limits)
        )
        self._tokens = tokens
        self._batch_url = batch_url.rstrip("/")
        self._analysis_urls = analysis_urls
        self._next_analysis = itertools.cycle(range(len(analysis_urls)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def batch(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """GET from the batch service; None for 404."""
        return await self._get([self._batch_url], path, params, service=BATCH_SERVICE)

    async def analysis(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        return await self._get(self._analysis_order(), path, params, service=ANALYSIS_SERVICE)

    async def analysis_post(self, path: str, body: Any, wait_seconds: float) -> httpx.Response:
        """POST to an analysis instance (the next one if it cannot be reached); 504 when the
        instance does not answer within `wait_seconds`."""
        last: Exception | None = None
        for base in self._analysis_order():
            try:
                return await self._http.post(
                    base + path,
                    json=body,
                    timeout=wait_seconds,
                    headers=self._tokens.header(ANALYSIS_SERVICE),
                )
            except httpx.ConnectTimeout as exc:
                last = exc
            except httpx.TimeoutException:
                raise ProblemError(
                    504,
                    "analysis-timeout",
                    "Analysis timed out",
                    f"no answer within {wait_seconds:g} s (INSTANT_ANALYSIS_TIMEOUT_SECONDS); "
                    "the analysis may still finish: retry (with the same Idempotency-Key, if "
                    "you sent one) to get its result",
                ) from None
            except httpx.TransportError as exc:
                last = exc
        raise _unavailable(ANALYSIS_SERVICE, last)

    async def analysis_stream(
        self, path: str, params: dict[str, Any] | None = None
    ) -> httpx.Response | None:
        """Open a streamed GET on an analysis instance (the next one if it cannot be reached):
        the answer's head is read, its body not yet (`aiter_raw`, then `aclose`); None for
        404. Opened before the public answer starts, so an outage is still a 503."""
        clean = {k: str(v) for k, v in (params or {}).items() if v is not None}
        admin = "owner_id" not in clean
        if admin:
            path = ADMIN_PREFIX + path.removeprefix("/internal/")
        headers = self._tokens.header(ANALYSIS_SERVICE, admin=admin)
        last: Exception | None = None
        for base in self._analysis_order():
            request = self._http.build_request("GET", base + path, params=clean, headers=headers)
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code == 200:
                return response
            await response.aclose()
            if response.status_code == 404:
                return None
            last = RuntimeError(f"{ANALYSIS_SERVICE} answered {response.status_code}")
        raise _unavailable(ANALYSIS_SERVICE, last)

    def _analysis_order(self) -> list[str]:
        """Round-robin between instances; on a connection error, the next one answers."""
        start = next(self._next_analysis)
        return self._analysis_urls[start:] + self._analysis_urls[:start]

    async def analysis_bytes(self, path: str, params: dict[str, Any] | None = None) -> bytes | None:
        """The answer's JSON as sent, for passing through unparsed (a page of 500 analyses is
        about a megabyte: parsing and validating it again would cost more than reading it)."""
        response = await self._response(
            self._analysis_order(), path, params, service=ANALYSIS_SERVICE
        )
        return None if response is None else response.content

    async def _get(
        self, bases: list[str], path: str, params: dict[str, Any] | None, *, service: str
    ) -> Any | None:
        response = await self._response(bases, path, params, service=service)
        return None if response is None else response.json()

    async def _response(
        self, bases: list[str], path: str, params: dict[str, Any] | None, *, service: str
    ) -> httpx.Response | None:
        clean = {k: str(v) for k, v in (params or {}).items() if v is not None}
        admin = "owner_id" not in clean
        if admin:  # every owner: the admin route tree
            path = ADMIN_PREFIX + path.removeprefix("/internal/")
        headers = self._tokens.header(service, admin=admin)
        last: Exception | None = None
        for base in bases:
            try:
                response = await self._http.get(base + path, params=clean, headers=headers)
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code == 404:
                return None
            if response.status_code >= 500:
                last = RuntimeError(f"{service} answered {response.status_code}")
                continue
            response.raise_for_status()
            return response
        raise _unavailable(service, last)


def _unavailable(service: str, cause: Exception | None) -> ProblemError:
    detail = f"the {service.replace('-', ' ')} is not reachable; try again shortly"
    if cause is not None:
        detail += f" ({type(cause).__name__})"
    return ProblemError(
        503, "dependency-unavailable", "Service unavailable", detail, headers={"Retry-After": "5"}
    )


def owner_param(owner_id: uuid.UUID | None) -> dict[str, Any]:
    return {"owner_id": str(owner_id)} if owner_id else {}
