"""Tracing across the services: with OTEL_EXPORTER_OTLP_ENDPOINT set, every service sends its
spans over OTLP/HTTP, here to a receiver in the test process, and one trace follows a
`POST /api/v1/batches` through the gateway's outbox, Kafka, the batch and analysis services'
consumers, the analysis work queue, the stored analyses and the batch's completion."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from av_shared.topics import BATCH_SUBMISSIONS
from devstack.stack import Stack, StackConfig
from tests.e2e.conftest import register
from tests.helpers import isbn10s, items_for


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]


class OtlpReceiver:
    """An OTLP/HTTP collector that keeps every span it is sent (POST /v1/traces, protobuf)."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.add(body)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name")),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self._lock:
            self.requests += 1
            self.spans.extend(found)

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
async def traced_stack(state_dir: Path, receiver: OtlpReceiver) -> AsyncIterator[Stack]:
    system = Stack(
        StackConfig(
            state_dir=state_dir / "tracing",
            fast=True,
            conventional_ports=False,
            partitions=3,
            keepa_refill_rate=1000,
            extra_env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
                "OTEL_BSP_SCHEDULE_DELAY": "200",  # the SDK's batch delay (ms): spans soon
            },
        )
    )
    try:
        await system.start_infra()
        await system.start_services()
        await system.wait_ready()
        yield system
    finally:
        await system.stop()


def _is_the_post(span: ReceivedSpan) -> bool:
    return (
        span.service == "gateway"
        and span.name == "POST /api/v1/batches"
        and span.attributes.get("http.response.status_code") == 202
    )


def _trace_of(spans: list[ReceivedSpan], trace_id: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.trace_id == trace_id]


def _complete(trace: list[ReceivedSpan], batch_id: str) -> bool:
    """The trace has everything the test asserts (spans come in batches, from four processes):
    the hops, and the parent of every span but the request's."""
    ids = {s.span_id for s in trace}
    return (
        all(s.parent_id in ids for s in trace if not _is_the_post(s))
        and any(
            s.service == "batch-service" and s.attributes.get("av.event.type") == "batch.submitted"
            for s in trace
        )
        and any(s.service == "analysis-service" and s.name == "store analyses" for s in trace)
        and any(
            s.service == "gateway"
            and s.attributes.get("av.event.type") == "batch.status_changed"
            and s.attributes.get("av.status") == "COMPLETED"
            for s in trace
        )
    )


async def test_one_trace_from_the_post_to_the_stored_analyses_and_the_completion(
    traced_stack: Stack, receiver: OtlpReceiver
) -> None:
    async with httpx.AsyncClient(base_url=traced_stack.gateway_url, timeout=60) as http:
        seller = await register(http)
        batch = await seller.submit(items_for(isbn10s(12, seed=7)), name="traced")
        done = await seller.wait_terminal(batch["id"])
        assert done["status"] == "COMPLETED"
        # The read goes to the batch service over internal HTTP: that hop is traced too.
        assert (await seller.get(f"/api/v1/batches/{batch['id']}")).status_code == 200

    deadline = asyncio.get_running_loop().time() + 60
    while True:
        spans = receiver.snapshot()
        posts = [s for s in spans if _is_the_post(s)]
        trace = _trace_of(spans, posts[0].trace_id) if posts else []
        if posts and _complete(trace, batch["id"]):
            break
        if asyncio.get_running_loop().time() > deadline:
            ids = {t.span_id for t in trace}
            names = sorted(
                f"{s.service}/{s.name} {s.attributes.get('av.event.type')}"
                f" {s.attributes.get('av.status')} parent={s.parent_id in ids}"
                for s in trace
            )
            raise AssertionError(f"incomplete trace after 60 s ({len(spans)} spans): {names}")
        await asyncio.sleep(0.5)

    assert len(posts) == 1
    by_id = {s.span_id: s for s in trace}
    services = {s.service for s in trace}
    assert {"gateway", "batch-service", "analysis-service"} <= services
    # Each hop: the gateway's outbox publish, the consumers, the queued chunk's processing.
    assert any(
        s.service == "gateway" and s.name == f"publish {BATCH_SUBMISSIONS.name}" for s in trace
    )
    chunk_spans = [s for s in trace if s.name == "analyse chunk"]
    assert chunk_spans and all(s.attributes["av.batch_id"] == batch["id"] for s in chunk_spans)
    stored = [s for s in trace if s.name == "store analyses"]
    assert (
        sum(int(s.attributes.get("av.analyses.stored", 0)) for s in stored)
        + sum(int(s.attributes.get("av.items.failed", 0)) for s in stored)
        == done["items_total"]
    )
    # Every span of the trace but the request's descends from the request's span.
    root = posts[0]
    for span in trace:
        seen = span
        for _ in range(100):
            if seen.span_id == root.span_id or seen.parent_id not in by_id:
                break
            seen = by_id[seen.parent_id]
        assert seen.span_id == root.span_id, f"{span.service}/{span.name} is not under the POST"
    # The batch's completion, handled by the gateway, is in the same trace.
    completion = [
        s for s in trace if s.service == "gateway" and s.attributes.get("av.status") == "COMPLETED"
    ]
    assert completion and completion[0].attributes["av.batch_id"] == batch["id"]
