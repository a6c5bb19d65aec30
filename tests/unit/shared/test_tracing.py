"""av_shared.tracing: off (nothing set up, nothing exported) without OTEL_EXPORTER_OTLP_ENDPOINT;
on, one trace follows the context through the outbox row, the Kafka header and the consumer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from av_shared import tracing
from av_shared.settings import CommonSettings


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    found = InMemorySpanExporter()
    assert tracing.setup_tracing(
        CommonSettings(), "test-service", exporter=found, install_global=False
    )
    try:
        yield found
    finally:
        tracing.shutdown_tracing()


def test_off_without_endpoint_sets_up_nothing_and_writes_no_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    provider_before = trace.get_tracer_provider()
    assert tracing.setup_tracing(CommonSettings(), "gateway") is False
    assert not tracing.enabled()
    assert trace.get_tracer_provider() is provider_before  # no global provider installed
    with tracing.span("anything") as current:
        assert current is None
        assert tracing.current_traceparent() is None  # outbox rows and queued work carry none
    spans = tracing.PublishSpans()
    assert spans.headers("batch.status", "BatchStatusChanged", None) is None
    # A row a tracing writer stored is passed on as it is.
    stored = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert spans.headers("batch.status", "X", stored) == [("traceparent", stored.encode())]
    assert tracing.traced_http_transport() is None  # httpx keeps its own transport


def test_endpoint_setting_turns_it_on_with_otlp_to_v1_traces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")
    settings = CommonSettings()
    assert settings.otel_exporter_otlp_endpoint == "http://127.0.0.1:4318/"
    assert tracing.traces_url(settings.otel_exporter_otlp_endpoint) == (
        "http://127.0.0.1:4318/v1/traces"
    )
    try:
        assert tracing.setup_tracing(settings, "batch-service", install_global=False)
        assert tracing.enabled()
    finally:
        tracing.shutdown_tracing()
    assert not tracing.enabled()


def test_one_trace_through_outbox_header_and_consumer(exporter: InMemorySpanExporter) -> None:
    with tracing.span("POST /api/v1/batches", kind=trace.SpanKind.SERVER):
        stored = tracing.current_traceparent()  # what add_to_outbox keeps with the row
    assert stored is not None
    spans = tracing.PublishSpans()
    headers = spans.headers("batch.submissions", "BatchSubmitted", stored)
    spans.end()
    assert headers is not None and headers[0][0] == "traceparent"
    with tracing.consume_span(
        topic="batch.submissions", group="batch-service", partition=0, offset=7, headers=headers
    ):
        queued = tracing.current_traceparent()  # what the work queue keeps with a chunk
    with tracing.span("analyse chunk", parent=queued):
        pass
    tracing.flush()
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert set(finished) == {
        "POST /api/v1/batches",
        "publish batch.submissions",
        "process batch.submissions",
        "analyse chunk",
    }
    assert len({s.context.trace_id for s in finished.values()}) == 1
    request, publish = finished["POST /api/v1/batches"], finished["publish batch.submissions"]
    consume, chunk = finished["process batch.submissions"], finished["analyse chunk"]
    assert publish.parent is not None and publish.parent.span_id == request.context.span_id
    assert consume.parent is not None and consume.parent.span_id == publish.context.span_id
    assert chunk.parent is not None and chunk.parent.span_id == consume.context.span_id
    assert consume.kind is trace.SpanKind.CONSUMER
    assert consume.attributes is not None
    assert consume.attributes["messaging.consumer.group.name"] == "batch-service"


def test_a_bad_or_missing_header_starts_a_new_trace(exporter: InMemorySpanExporter) -> None:
    with tracing.consume_span(
        topic="t", group="g", partition=0, offset=0, headers=[("traceparent", b"garbage")]
    ) as current:
        assert current is not None and current.get_span_context().is_valid
    tracing.flush()
    (only,) = exporter.get_finished_spans()
    assert only.parent is None


async def test_http_client_sends_traceparent_of_its_client_span(
    exporter: InMemorySpanExporter,
) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("traceparent", ""))
        return httpx.Response(200, json={})

    assert tracing._state is not None
    traced = tracing._TracedTransport(httpx.MockTransport(answer), tracing._state.tracer)
    async with httpx.AsyncClient(transport=traced) as client:
        with tracing.span("request"):
            assert (await client.get("http://batch-service/internal/x?owner_id=1")).status_code
    tracing.flush()
    client_span = next(s for s in exporter.get_finished_spans() if s.name == "GET")
    ids = f"00-{client_span.context.trace_id:032x}-{client_span.context.span_id:016x}-"
    assert len(seen) == 1 and seen[0].startswith(ids)


def test_credentials_in_the_query_are_not_exported(exporter: InMemorySpanExporter) -> None:
    with tracing.span("GET", attributes={"url.query": "ticket=secret&after=abc"}):
        pass
    tracing.flush()
    (only,) = exporter.get_finished_spans()
    assert only.attributes is not None
    assert only.attributes["url.query"] == "ticket=REDACTED&after=abc"
