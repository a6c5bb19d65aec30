"""What the public port adds to every answer, and who may read its operator metrics.

- `X-Content-Type-Options: nosniff` on every answer: a browser must not run an answer (a CSV
  export, a problem echoing input) as another type than the one it says it is;
- `Strict-Transport-Security` when the API is served over https, by the gateway itself or by a
  proxy in front (BEHIND_TLS): a browser that once saw it never sends a token in clear text;
- `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 5.1) on the sign-in answers: they
  carry tokens, which no cache (browser, proxy) may keep;
- `GET /metrics` tells anyone who can read it how busy the system is and how much Keepa budget
  is left: with METRICS_TOKEN set it needs that token, and in production without one it is not
  served here at all (404; the internal services serve theirs on their own ports).
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import GatewaySettings
from .problems import problem_response
from .request_guard import SIGN_IN_PATHS

METRICS_PATH = "/metrics"
HSTS_SECONDS = 31_536_000  # a year: what browsers' preload lists require at least
NOSNIFF = [("x-content-type-options", "nosniff")]
HSTS = [("strict-transport-security", f"max-age={HSTS_SECONDS}; includeSubDomains")]
NO_STORE = [("cache-control", "no-store"), ("pragma", "no-cache")]


class Edge:
    """Pure ASGI, outside every other middleware of the app: its headers reach the answers of
    the request guard and of the routes alike."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.behind_tls = settings.behind_tls
        self.metrics_token = settings.metrics_token.get_secret_value().encode()
        self.hide_metrics = settings.environment == "production" and not self.metrics_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers[name] = value
            await send(message)

        refused = self._metrics_refused(scope) if scope["path"] == METRICS_PATH else None
        await (refused or self.app)(scope, receive, send_with_headers)

    def _headers(self, scope: Scope) -> list[tuple[str, str]]:
        extra = list(NOSNIFF)
        if self.behind_tls or scope.get("scheme") == "https":
            extra += HSTS
        if scope["path"] in SIGN_IN_PATHS:
            extra += NO_STORE
        return extra

    def _metrics_refused(self, scope: Scope) -> Response | None:
        request = Request(scope)
        if self.hide_metrics:
            return problem_response(request, 404, "http-404", "Not found", "Not Found")
        if not self.metrics_token:
            return None  # development and tests: open, like the internal services' metrics
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.encode(), self.metrics_token):
            return None
        return problem_response(
            request,
            401,
            "unauthorized",
            "Not authenticated",
            "the metrics need `Authorization: Bearer <METRICS_TOKEN>`",
            {"WWW-Authenticate": "Bearer"},
        )


def install_edge(app: FastAPI, settings: GatewaySettings) -> None:
    """Call last: the middleware added last is the outermost."""
    app.add_middleware(Edge, settings=settings)
