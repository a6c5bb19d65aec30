"""Live progress of a batch, end to end: Server-Sent Events and WebSocket from two gateway
instances, fed by the batch service's BatchProgressed events; single-use stream tickets.

Each gateway instance reads the status topic in no consumer group, so a stream on either
instance sees the batch; these tests follow batches on both. Ticket expiry is a setting
(STREAM_TICKET_SECONDS, short here) and heartbeats (STREAM_HEARTBEAT_SECONDS) come fast so
that their tests wait on conditions, not on minutes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from devstack.stack import Stack, StackConfig
from tests.e2e.conftest import Seller, register
from tests.helpers import isbn10s, items_for

GENEROUS = 180.0  # seconds for a batch to finish on a busy machine: never a tight timing
TICKET_SECONDS = 4
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
STATUS_ORDER = {"PENDING": 0, "PROCESSING": 1, "COMPLETED": 2, "FAILED": 2, "CANCELLED": 2}
FIELDS = {"batch_id", "status", "items_total", "items_processed", "items_failed", "eta_seconds"}


@pytest.fixture(scope="module")
async def two_gateways(state_dir: Path) -> AsyncIterator[Stack]:
    system = Stack(
        StackConfig(
            state_dir=state_dir / "streams",
            fast=True,
            conventional_ports=False,
            gateway_instances=2,
            partitions=3,
            keepa_refill_rate=1000,
            service_env={
                "gateway": {
                    "STREAM_TICKET_SECONDS": str(TICKET_SECONDS),
                    "STREAM_HEARTBEAT_SECONDS": "0.2",
                }
            },
        )
    )
    try:
        await system.start_infra()
        await system.migrate()
        # One process at a time: on a loaded machine four interpreters importing at once may
        # each miss the supervisor's minute to listen (start_services starts them together).
        for spec in (
            system.batch_spec(),
            system.analysis_spec(0),
            system.gateway_spec(0),
            system.gateway_spec(1),
        ):
            await system._start(spec)
        await system.wait_ready()
        yield system
    finally:
        await system.stop()


@pytest.fixture
async def gateways(two_gateways: Stack) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    async with (
        httpx.AsyncClient(base_url=two_gateways.gateway_instance_url(0), timeout=60) as a,
        httpx.AsyncClient(base_url=two_gateways.gateway_instance_url(1), timeout=60) as b,
    ):
        yield a, b


@dataclass
class Sse:
    id: int
    event: str
    data: dict[str, Any]


@dataclass
class Followed:
    messages: list[Sse]
    heartbeats: int
    ended: bool  # the server closed the stream


async def follow(
    http: httpx.AsyncClient,
    batch_id: str,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    stop_after: int | None = None,
) -> Followed:
    """Read the batch's event stream until the server ends it (or `stop_after` messages)."""
    found = Followed([], 0, False)
    async with asyncio.timeout(GENEROUS):
        async with http.stream(
            "GET", f"/api/v1/batches/{batch_id}/events", headers=headers, params=params
        ) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    found.heartbeats += 1
                elif line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                elif "data" in fields:  # a blank line ends a message
                    data = json.loads(fields["data"])
                    found.messages.append(Sse(int(fields["id"]), fields["event"], data))
                    fields = {}
                    if stop_after is not None and len(found.messages) >= stop_after:
                        return found
                else:
                    fields = {}  # retry: or an empty block
            found.ended = True
    return found


def assert_well_formed(followed: Followed, batch_id: str, items: int) -> None:
    messages = followed.messages
    assert messages, "no message"
    assert messages[0].event == "status"  # the current state first
    ids = [m.id for m in messages]
    assert ids == sorted(set(ids)), f"ids not strictly increasing: {ids}"
    for before, after in itertools.pairwise(messages):
        assert STATUS_ORDER[before.data["status"]] <= STATUS_ORDER[after.data["status"]]
        done_before = before.data["items_processed"] + before.data["items_failed"]
        done_after = after.data["items_processed"] + after.data["items_failed"]
        assert done_before <= done_after
    for m in messages:
        assert set(m.data) == FIELDS and m.data["batch_id"] == batch_id
        assert m.event in ("status", "progress")
    last = messages[-1]
    assert last.event == "status" and last.data["status"] == "COMPLETED"
    assert last.data["items_processed"] + last.data["items_failed"] == items
    assert [m for m in messages if m.data["status"] in TERMINAL] == [last]
    assert followed.ended, "the stream must end after the terminal event"


async def submit(seller: Seller, count: int, seed: int) -> str:
    batch = await seller.submit(items_for(isbn10s(count, seed=seed)), name=f"stream {seed}")
    return str(batch["id"])


async def test_a_batch_is_followed_to_completed_and_a_resume_skips_what_was_seen(
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    first, _ = gateways
    seller = await register(first)
    batch_id = await submit(seller, 1500, seed=101)
    followed = await follow(first, batch_id, seller.headers)
    assert_well_formed(followed, batch_id, 1500)
    assert any(m.event == "progress" for m in followed.messages), followed.messages
    assert followed.heartbeats > 0  # comments while nothing was due (0.2 s here)
    # what GET says at the end is what the stream said last
    final = (await seller.get(f"/api/v1/batches/{batch_id}")).json()
    assert final["items_processed"] == followed.messages[-1].data["items_processed"]

    # Resume from the middle: only what came after; from the end: nothing, and it ends.
    middle = followed.messages[len(followed.messages) // 2].id
    resumed = await follow(first, batch_id, {**seller.headers, "Last-Event-ID": str(middle)})
    assert [m.id for m in resumed.messages] == [followed.messages[-1].id]
    assert resumed.messages[0].data == followed.messages[-1].data and resumed.ended
    done = await follow(
        first, batch_id, {**seller.headers, "Last-Event-ID": str(followed.messages[-1].id)}
    )
    assert done.messages == [] and done.ended


async def test_both_gateways_stream_the_same_batch(
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    first, second = gateways
    seller = await register(first)
    batch_id = await submit(seller, 1200, seed=202)
    on_first, on_second = await asyncio.gather(
        follow(first, batch_id, seller.headers), follow(second, batch_id, seller.headers)
    )
    for followed in (on_first, on_second):
        assert_well_formed(followed, batch_id, 1200)
    # the same final state under the same id on both instances (ids come from the state)
    assert on_first.messages[-1] == on_second.messages[-1]
    # and both saw live events, not only the state read at connect time
    assert len(on_first.messages) > 1 and len(on_second.messages) > 1


async def test_a_ticket_opens_one_stream_once_and_not_after_it_expired(
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    first, second = gateways
    seller = await register(first)
    batch_id = await submit(seller, 50, seed=303)
    await seller.wait_terminal(batch_id, GENEROUS)
    issued = await seller.post("/api/v1/stream-tickets", json={"batch_id": batch_id})
    assert issued.status_code == 201, issued.text
    ticket = issued.json()["ticket"]
    # no credentials but the ticket: a browser's EventSource
    followed = await follow(second, batch_id, params={"ticket": ticket})  # the other instance
    assert followed.messages[-1].data["status"] == "COMPLETED" and followed.ended
    again = await first.get(f"/api/v1/batches/{batch_id}/events", params={"ticket": ticket})
    assert again.status_code == 401
    assert again.headers["content-type"].startswith("application/problem+json")

    # a ticket bound to one batch opens no other (and stays unspent by the attempt)
    other_id = await submit(seller, 5, seed=304)
    bound = (await seller.post("/api/v1/stream-tickets", json={"batch_id": other_id})).json()
    wrong = await first.get(
        f"/api/v1/batches/{batch_id}/events", params={"ticket": bound["ticket"]}
    )
    assert wrong.status_code == 401
    on_its_batch = await follow(second, other_id, params={"ticket": bound["ticket"]})
    assert on_its_batch.messages and on_its_batch.ended

    # expired: wait (by the clock, bounded) until its expiry has passed, then it is refused
    late = (await seller.post("/api/v1/stream-tickets", json={})).json()
    expires_at = datetime.fromisoformat(late["expires_at"])
    # the expiry is a moment on the shared clock: wait for it, not for a guessed duration
    await asyncio.sleep((expires_at - datetime.now(expires_at.tzinfo)).total_seconds() + 0.2)
    expired = await first.get(
        f"/api/v1/batches/{batch_id}/events", params={"ticket": late["ticket"]}
    )
    assert expired.status_code == 401


async def test_the_access_token_is_never_taken_from_the_query_string(
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    first, _ = gateways
    seller = await register(first)
    batch_id = await submit(seller, 5, seed=404)
    for name in ("access_token", "token", "api_key"):
        answer = await first.get(f"/api/v1/batches/{batch_id}/events", params={name: seller.token})
        assert answer.status_code == 401, (name, answer.text)
    unknown_ticket = await first.get(
        f"/api/v1/batches/{batch_id}/events", params={"ticket": seller.token}
    )
    assert unknown_ticket.status_code == 401
    assert (await first.post("/api/v1/stream-tickets", json={})).status_code == 401


async def test_another_sellers_batch_is_404_on_every_path(
    gateways: tuple[httpx.AsyncClient, ...], two_gateways: Stack
) -> None:
    first, _ = gateways
    owner, stranger = await register(first), await register(first)
    batch_id = await submit(owner, 5, seed=505)
    answer = await stranger.get(f"/api/v1/batches/{batch_id}/events")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    refused = await stranger.post("/api/v1/stream-tickets", json={"batch_id": batch_id})
    assert refused.status_code == 404
    ticket = (await stranger.post("/api/v1/stream-tickets", json={})).json()["ticket"]
    with_ticket = await first.get(f"/api/v1/batches/{batch_id}/events", params={"ticket": ticket})
    assert with_ticket.status_code == 404
    url = ws_url(two_gateways, 0, batch_id)
    with pytest.raises(websockets.InvalidStatus) as refused_ws:
        async with websockets.connect(url, additional_headers=stranger.headers, proxy=None):
            pass
    assert refused_ws.value.response.status_code == 404


def ws_url(stack: Stack, instance: int, batch_id: str) -> str:
    base = stack.gateway_instance_url(instance).replace("http://", "ws://")
    return f"{base}/api/v1/batches/{batch_id}/ws"


async def read_ws(url: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(GENEROUS):
        async with websockets.connect(url, additional_headers=headers, proxy=None) as ws:
            async for frame in ws:
                received.append(json.loads(frame))
            assert ws.close_code == 1000
    return received


async def test_the_websocket_sends_the_same_objects_and_closes_after_the_terminal_one(
    gateways: tuple[httpx.AsyncClient, ...], two_gateways: Stack
) -> None:
    first, _ = gateways
    seller = await register(first)
    batch_id = await submit(seller, 800, seed=606)
    by_header, by_ticket = await asyncio.gather(
        read_ws(ws_url(two_gateways, 0, batch_id), seller.headers),
        _ws_with_ticket(seller, two_gateways, batch_id),
    )
    for frames in (by_header, by_ticket):
        assert frames[0]["event"] == "status"
        assert [f["id"] for f in frames] == sorted({f["id"] for f in frames})
        assert set(frames[-1]) == FIELDS | {"event", "id"}
        assert frames[-1]["status"] == "COMPLETED" and frames[-1]["event"] == "status"
    # the same final object as the event stream's, by SSE from the other instance
    sse = await follow(first, batch_id, seller.headers)
    assert sse.messages[-1].data == {k: by_header[-1][k] for k in FIELDS}
    assert sse.messages[-1].id == by_header[-1]["id"]


async def _ws_with_ticket(seller: Seller, stack: Stack, batch_id: str) -> list[dict[str, Any]]:
    ticket = (await seller.post("/api/v1/stream-tickets", json={"batch_id": batch_id})).json()
    return await read_ws(ws_url(stack, 1, batch_id) + f"?ticket={ticket['ticket']}")
