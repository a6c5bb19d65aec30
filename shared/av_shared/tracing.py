"""Tracing across the services: OpenTelemetry spans, W3C `traceparent` carried over every hop.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then nothing is set up, `span()` is a
`nullcontext`, no header is written and no HTTP client is wrapped (the cost is one test of a
module global). On, the process's spans go to `{endpoint}/v1/traces` over OTLP/HTTP (protobuf),
in batches (`OTEL_BSP_SCHEDULE_DELAY` and the other `OTEL_BSP_*` variables of the SDK apply).

The hops of one request, each continuing the trace of the one before:
- HTTP: FastAPI's own telemetry makes a server span per request once a tracer provider is set
  (it continues a `traceparent` request header); the gateway's calls to the internal APIs go
  through `traced_http_transport`, a client span that sends `traceparent`.
- Outbox: `add_to_outbox` stores the current `traceparent` with the row; the relay publishes the
  row in a producer span, child of it, and sends that span's `traceparent` as a Kafka header.
- Kafka: every consumer handles an event in a span, child of the record's `traceparent` header.
- The analysis work queue: a queued chunk keeps the `traceparent` of the handler that queued it;
  the worker that claims it processes it in a span, child of that.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .settings import CommonSettings

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
KafkaHeaders = list[tuple[str, bytes]]

_PROPAGATOR = TraceContextTextMapPropagator()
_NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()
_HEALTH_PATHS = frozenset({"/health", "/ready", "/metrics"})


@dataclass
class _Tracing:
    provider: Any  # opentelemetry.sdk.trace.TracerProvider (imported only when tracing is on)
    tracer: Tracer
    service: str
    endpoint: str


_state: _Tracing | None = None


def setup_tracing(
    settings: CommonSettings,
    service: str,
    *,
    exporter: Any | None = None,
    install_global: bool = True,
) -> bool:
    """Set up this process's tracing from its settings; True when on. Off (no endpoint and no
    `exporter`): nothing is imported or installed. Once on, later calls keep what is set up.
    `exporter` (a SpanExporter) replaces the OTLP one, for tests; `install_global=False` keeps
    the global tracer provider (FastAPI's server spans use it) as it is, for tests too."""
    global _state
    endpoint = settings.otel_exporter_otlp_endpoint.strip()
    if _state is not None:
        return True
    if not endpoint and exporter is None:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = settings.otel_service_name or service
    resource = Resource.create({"service.name": name, "service.instance.id": settings.instance_id})
    provider = TracerProvider(resource=resource)
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=traces_url(endpoint))
    provider.add_span_processor(_redact_query())  # first: the exporter sees the redacted query
    provider.add_span_processor(BatchSpanProcessor(exporter))
    if install_global:
        trace.set_tracer_provider(provider)
    _state = _Tracing(provider, provider.get_tracer("av_shared"), name, endpoint)
    log.info("tracing on: %s spans go to %s", name, traces_url(endpoint) if endpoint else exporter)
    return True


_SECRET_PARAMETERS = frozenset({"ticket", "token", "access_token", "api_key", "key", "code"})


def _redact_query() -> Any:
    """A SpanProcessor: query parameters that carry a credential (`?ticket=` of the progress
    streams) are never exported; FastAPI records `url.query` and redacts only cloud signatures."""
    from opentelemetry.sdk.trace import SpanProcessor

    class RedactQuery(SpanProcessor):
        def on_start(self, span: Any, parent_context: Context | None = None) -> None:
            query = (span.attributes or {}).get("url.query")
            if not query:
                return
            pairs = parse_qsl(str(query), keep_blank_values=True)
            if any(key.lower() in _SECRET_PARAMETERS for key, _ in pairs):
                redacted = [
                    (k, "REDACTED" if k.lower() in _SECRET_PARAMETERS else v) for k, v in pairs
                ]
                span.set_attribute("url.query", urlencode(redacted))

    return RedactQuery()


def traces_url(endpoint: str) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL: traces go to /v1/traces."""
    return endpoint.rstrip("/") + "/v1/traces"


def enabled() -> bool:
    return _state is not None


def flush(timeout_millis: int = 5_000) -> None:
    """Export the spans still buffered (shutdown)."""
    if _state is not None:
        with contextlib.suppress(Exception):
            _state.provider.force_flush(timeout_millis)


def shutdown_tracing() -> None:
    """Flush and stop exporting; tracing is off again (tests)."""
    global _state
    state, _state = _state, None
    if state is not None:
        with contextlib.suppress(Exception):
            state.provider.shutdown()


def http_telemetry() -> TelemetryConfig:
    """FastAPI's `telemetry` option: server spans for requests (when a tracer provider is set),
    but not for probes and scrapes, and no metrics or logs of FastAPI's own."""
    return {
        "metrics": False,
        "logs": False,
        "exclude": lambda scope: scope.get("path") in _HEALTH_PATHS,
    }


# -- context in and out ---------------------------------------------------------------------------
def current_traceparent() -> str | None:
    """The `traceparent` of the current span: None when tracing is off or no span is current."""
    if _state is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_from(traceparent: str | bytes | None) -> Context | None:
    """The remote parent a `traceparent` names (None: none, or not a valid one)."""
    if not traceparent:
        return None
    if isinstance(traceparent, bytes):
        traceparent = traceparent.decode("latin-1")
    ctx = _PROPAGATOR.extract({TRACEPARENT: traceparent})
    if not trace.get_current_span(ctx).get_span_context().is_valid:
        return None
    return ctx


def traceparent_of(headers: Sequence[tuple[str, bytes]] | None) -> bytes | None:
    """A Kafka record's `traceparent` header."""
    for key, value in headers or ():
        if key == TRACEPARENT:
            return value
    return None


def kafka_headers(traceparent: str | None) -> KafkaHeaders | None:
    return [(TRACEPARENT, traceparent.encode())] if traceparent else None


def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: str | bytes | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> AbstractContextManager[Span | None]:
    """A span around a block, current within it (what it writes to the outbox carries it), a
    child of `parent` (a traceparent) when given, of the current span otherwise. Off: nothing."""
    if _state is None:
        return _NO_SPAN
    return _span(_state.tracer, name, kind, parent, attributes)


@contextlib.contextmanager
def _span(
    tracer: Tracer,
    name: str,
    kind: SpanKind,
    parent: str | bytes | None,
    attributes: Mapping[str, Any] | None,
) -> Iterator[Span]:
    ctx = context_from(parent) if parent is not None else None
    with tracer.start_as_current_span(
        name, context=ctx, kind=kind, attributes=_clean(attributes)
    ) as current:
        yield current


def annotate(attributes: Mapping[str, Any]) -> None:
    """Add attributes to the current span (nothing when off)."""
    if _state is None:
        return
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(_clean(attributes) or {})


def annotate_event(event: Any) -> None:
    """Say on the current span which event it handles (nothing when off)."""
    if _state is not None:
        annotate(event_attributes(event))


def event_attributes(event: Any) -> dict[str, Any]:
    """What a span about an event says of it: its type and id, and the batch it is about."""
    found: dict[str, Any] = {
        "av.event.type": getattr(event, "event_type", type(event).__name__),
        "messaging.message.id": str(getattr(event, "event_id", "")),
    }
    for name in ("batch_id", "chunk_no", "status"):
        value = getattr(event, name, None)
        value = getattr(value, "value", value)  # an Enum: its value
        if value is not None:
            found[f"av.{name}"] = value if isinstance(value, int | float | bool) else str(value)
    return found


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not attributes:
        return None
    return {
        k: v if isinstance(v, str | int | float | bool) else str(v)
        for k, v in attributes.items()
        if v is not None
    }


# -- producers: the outbox relay ------------------------------------------------------------------
class PublishSpans:
    """Producer spans of one relay batch: one per record, each a child of the context stored with
    its outbox row; `headers` is what the record carries. Ended when the batch is acknowledged."""

    def __init__(self) -> None:
        self._spans: list[Span] = []

    def headers(self, topic: str, event_type: str, stored: str | None) -> KafkaHeaders | None:
        if _state is None:
            return kafka_headers(stored)  # pass on what a tracing writer stored
        started = _state.tracer.start_span(
            f"publish {topic}",
            context=context_from(stored),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                "av.event.type": event_type,
            },
        )
        self._spans.append(started)
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(started))
        return kafka_headers(carrier.get(TRACEPARENT))

    def end(self, error: BaseException | None = None) -> None:
        for started in self._spans:
            if error is not None:
                started.record_exception(error)
                started.set_status(trace.StatusCode.ERROR)
            started.end()
        self._spans.clear()


# -- consumers ------------------------------------------------------------------------------------
def consume_span(
    *,
    topic: str,
    group: str,
    partition: int,
    offset: int,
    headers: Sequence[tuple[str, bytes]] | None,
) -> AbstractContextManager[Span | None]:
    """The span an event is handled in: a child of the record's `traceparent`."""
    if _state is None:
        return _NO_SPAN
    return _span(
        _state.tracer,
        f"process {topic}",
        SpanKind.CONSUMER,
        traceparent_of(headers) or b"",
        {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
        },
    )


# -- HTTP clients ---------------------------------------------------------------------------------
class _TracedTransport(httpx.AsyncBaseTransport):
    """A client span per request, its `traceparent` sent with the request."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tracer: Tracer) -> None:
        self._inner = inner
        self._tracer = tracer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        with self._tracer.start_as_current_span(
            request.method,
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "server.address": url.host,
                "server.port": url.port or (443 if url.scheme == "https" else 80),
                "url.full": str(url.copy_with(query=None)),
            },
        ) as current:
            carrier: MutableMapping[str, str] = {}
            _PROPAGATOR.inject(carrier)
            for key, value in carrier.items():
                request.headers[key] = value
            response = await self._inner.handle_async_request(request)
            current.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                current.set_status(trace.StatusCode.ERROR)
            return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def traced_http_transport(**options: Any) -> httpx.AsyncBaseTransport | None:
    """For `httpx.AsyncClient(transport=...)`: an `AsyncHTTPTransport(**options)` whose requests
    carry the trace; None when tracing is off (the client builds its own transport, as always)."""
    if _state is None:
        return None
    return _TracedTransport(httpx.AsyncHTTPTransport(**options), _state.tracer)
