"""Webhooks through the whole stack: a receiver on loopback (WEBHOOK_ALLOW_PRIVATE_TARGETS is on
for this stack) gets each batch.completed exactly once, signed; a failing receiver gets the
same delivery again until it accepts it, also across a restart of the gateway mid-retry; a
redelivery by hand; SSRF targets are refused at registration."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import Stack, StackConfig
from gateway.webhooks.signing import verify
from tests.e2e.conftest import Seller, register
from tests.helpers import isbn10s, items_for

GENEROUS = 120.0  # seconds: far beyond what any step needs, never a tight timing
FAST_WEBHOOKS = {
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOK_POLL_SECONDS": "0.2",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "WEBHOOK_RETRY_MAX_SECONDS": "2",
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver: a real HTTP server on loopback answering `fail_with` to the first
    `failures` requests (or to every one while `failing`), 200 afterwards."""

    failures: int = 0
    failing: bool = False
    fail_with: int = 500
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    fail = receiver.failing or receiver.failures > 0
                    receiver.failures = max(0, receiver.failures - 1)
                self.send_response(receiver.fail_with if fail else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if fail else b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/av"
        return server

    def of_type(self, event_type: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.headers.get("ArbitrageVault-Event") == event_type]

    def for_batch(self, batch_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.json["data"].get("batch_id") == batch_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    server = found.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def webhook_stack_config(state_dir: Path, gateways: int = 1, **env: dict[str, str]) -> StackConfig:
    return StackConfig(
        state_dir=state_dir,
        fast=True,
        conventional_ports=False,
        gateway_instances=gateways,
        partitions=3,
        keepa_refill_rate=1000,
        service_env={
            "gateway": FAST_WEBHOOKS | env.get("gateway", {}),
            **{k: v for k, v in env.items() if k != "gateway"},
        },
    )


async def started(config: StackConfig) -> AsyncIterator[Stack]:
    system = Stack(config)
    try:
        await system.start_infra()
        await system.start_services()
        await system.wait_ready()
        yield system
    finally:
        await system.stop()


@pytest.fixture(scope="module")
async def hooks_stack(state_dir: Path) -> AsyncIterator[Stack]:
    async for system in started(webhook_stack_config(state_dir / "webhooks")):
        yield system


@pytest.fixture
async def client(hooks_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hooks_stack.gateway_url, timeout=60) as http:
        yield http


async def eventually(check: Callable[[], Awaitable[Any] | Any], what: str) -> Any:
    """Poll `check` (sync or async) until it answers something truthy; that answer."""
    deadline = time.monotonic() + GENEROUS
    while True:
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        assert time.monotonic() < deadline, f"not within {GENEROUS:.0f}s: {what}"
        await asyncio.sleep(0.1)


async def create_webhook(seller: Seller, url: str, events: list[str]) -> dict[str, Any]:
    created = await seller.post("/api/v1/webhooks", json={"url": url, "events": events})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


async def deliveries(seller: Seller, webhook_id: str) -> list[dict[str, Any]]:
    answer = await seller.get(f"/api/v1/webhooks/{webhook_id}/deliveries")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


async def delivered(seller: Seller, webhook_id: str, count: int = 1) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = [d for d in await deliveries(seller, webhook_id) if d["status"] == "delivered"]
        return found if len(found) >= count else None

    return await eventually(check, f"{count} deliveries of webhook {webhook_id} delivered")  # type: ignore[no-any-return]


def assert_signed(request: Received, secret: str) -> None:
    assert verify(secret, request.headers["ArbitrageVault-Signature"], request.body)
    assert not verify(secret + "x", request.headers["ArbitrageVault-Signature"], request.body)


async def test_a_completed_batch_is_delivered_once_signed(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    seller = await register(client)
    hook = await create_webhook(seller, receiver.url, ["batch.completed", "batch.failed"])
    assert hook["secret"].startswith("whsec_") and hook["events"] == [
        "batch.completed",
        "batch.failed",
    ]
    listed = (await seller.get("/api/v1/webhooks")).json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

    batch = await seller.submit(items_for(isbn10s(3, seed=1501)), name="webhook haul")
    assert (await seller.wait_terminal(batch["id"]))["status"] == "COMPLETED"
    [delivery] = await delivered(seller, hook["id"])

    [request] = receiver.for_batch(batch["id"])
    assert_signed(request, hook["secret"])
    assert request.path == "/hooks/av"
    assert request.headers["ArbitrageVault-Event"] == "batch.completed"
    assert request.headers["ArbitrageVault-Delivery"] == delivery["id"]
    body = request.json
    assert body["type"] == "batch.completed" and body["id"] == delivery["event_id"]
    assert body["data"] | {"finished_at": None} == {
        "batch_id": batch["id"],
        "name": "webhook haul",
        "status": "COMPLETED",
        "items_total": 3,
        "items_processed": 3,
        "items_failed": 0,
        "finished_at": None,
        "schedule_id": None,
        "watchlist_id": None,
    }
    assert delivery["attempts"] == 1 and [a["status_code"] for a in delivery["history"]] == [200]

    # Another seller's webhook is not theirs to see; this seller's batch is told to nobody else.
    other = await register(client)
    assert (await other.get(f"/api/v1/webhooks/{hook['id']}/deliveries")).status_code == 404
    assert (await other.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 404

    # A second batch: its own delivery; the first one was sent once and only once.
    second = await seller.submit(items_for(isbn10s(2, seed=1502)))
    await seller.wait_terminal(second["id"])
    await delivered(seller, hook["id"], count=2)
    assert len(receiver.for_batch(batch["id"])) == 1
    assert len(receiver.for_batch(second["id"])) == 1


async def test_a_failing_receiver_gets_the_same_delivery_until_it_accepts(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.failures = 2
    seller = await register(client)
    hook = await create_webhook(seller, receiver.url, ["batch.completed"])
    batch = await seller.submit(items_for(isbn10s(2, seed=1503)))
    await seller.wait_terminal(batch["id"])
    [delivery] = await delivered(seller, hook["id"])

    requests = receiver.for_batch(batch["id"])
    assert len(requests) == 3
    assert {r.headers["ArbitrageVault-Delivery"] for r in requests} == {delivery["id"]}
    assert {r.json["id"] for r in requests} == {delivery["event_id"]}
    for request in requests:
        assert_signed(request, hook["secret"])
    history = delivery["history"]
    assert [a["attempt_no"] for a in history] == [1, 2, 3]
    assert [a["status_code"] for a in history] == [500, 500, 200]
    assert history[0]["error"] == "HTTP 500" and history[0]["response_body"] == "no"
    # Backoff: 0.5 s after the first failure, 1 s after the second (±10 %).
    starts = [datetime.fromisoformat(a["started_at"]) for a in history]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
    assert gaps[0] >= 0.45 and gaps[1] >= 0.9  # at least the backoff; a busy machine adds

    # By hand: a new delivery of the same event, with its own id.
    again = await seller.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver"
    )
    assert again.status_code == 202, again.text
    assert again.json()["redelivery_of"] == delivery["id"]
    await delivered(seller, hook["id"], count=2)
    redelivered = receiver.for_batch(batch["id"])[-1]
    assert redelivered.headers["ArbitrageVault-Delivery"] == again.json()["id"]
    assert redelivered.json["id"] == delivery["event_id"]
    assert_signed(redelivered, hook["secret"])


async def test_a_delivery_survives_a_gateway_restart_mid_retry(
    hooks_stack: Stack, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.failing, receiver.fail_with = True, 503
    seller = await register(client)
    hook = await create_webhook(seller, receiver.url, ["batch.completed"])
    batch = await seller.submit(items_for(isbn10s(2, seed=1504)))
    await seller.wait_terminal(batch["id"])
    await eventually(lambda: len(receiver.for_batch(batch["id"])) >= 2, "two failed attempts")

    await hooks_stack.processes["gateway"].stop()
    receiver.failing = False
    await hooks_stack.start("gateway")
    await hooks_stack.wait_ready()

    [delivery] = await delivered(seller, hook["id"])
    requests = receiver.for_batch(batch["id"])
    assert [r.headers["ArbitrageVault-Delivery"] for r in requests] == [delivery["id"]] * len(
        requests
    )
    codes = [a["status_code"] for a in delivery["history"]]
    assert codes[-1] == 200 and set(codes[:-1]) == {503} and len(codes) == len(requests)


async def test_a_deleted_webhook_gets_nothing_more(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    seller = await register(client)
    hook = await create_webhook(seller, receiver.url, ["batch.completed"])
    kept = await create_webhook(seller, receiver.url + "/kept", ["batch.completed"])
    assert (await seller.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 204
    assert (await seller.get(f"/api/v1/webhooks/{hook['id']}")).status_code == 404
    batch = await seller.submit(items_for(isbn10s(1, seed=1505)))
    await seller.wait_terminal(batch["id"])
    await delivered(seller, kept["id"])
    assert [r.path for r in receiver.for_batch(batch["id"])] == ["/hooks/av/kept"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://224.0.0.1/", "multicast"),
        ("ftp://127.0.0.1/", "https"),
        ("http://[::]:80/", "unspecified"),
    ],
)
async def test_ssrf_targets_are_refused_at_registration(
    client: httpx.AsyncClient, url: str, reason: str
) -> None:
    seller = await register(client)
    refused = await seller.post("/api/v1/webhooks", json={"url": url, "events": ["batch.failed"]})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "url" and reason in problem["detail"]
    assert (await seller.get("/api/v1/webhooks")).json() == []


async def test_bad_webhook_bodies_name_the_field(client: httpx.AsyncClient) -> None:
    seller = await register(client)
    unknown = await seller.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["batch.started"]}
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"].startswith("events")
    twice = await seller.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/", "events": ["batch.failed", "batch.failed"]},
    )
    assert twice.status_code == 422 and "events" in twice.json()["errors"][0]["field"]
