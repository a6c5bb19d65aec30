"""The batch service alone: this module plays the gateway (headers and chunks on the submissions
topic) and the analysis service (completions on the chunk-results topic), and reads what the
batch service publishes (status and chunk-dispatch topics) and answers over its internal API.

A seller relies on it for three things: the gateway learns the batch arrived whole (so it stops
re-publishing), the progress counters add up to the batch however completions arrive, and a chunk
whose analysis is lost is sent again and, failing that, given up so the batch still ends.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from av_shared.events import (
    BatchAcknowledged,
    BatchStatusChanged,
    ChunkAnalysed,
    ChunkRedispatched,
    ItemFailure,
)
from av_shared.internal_auth import ServiceTokens
from av_shared.topics import BATCH_STATUS, BATCH_SUBMISSIONS, CHUNK_DISPATCH, CHUNK_RESULTS
from tests.integration.services.harness import (
    BATCH_SERVICE,
    ServiceHarness,
    SubmittedBatch,
    service_alone,
    submitted_batch,
)

# A chunk without completion is re-dispatched after 1.5 s, then 3 s later, then given up after
# its third dispatch (~10 s): the re-dispatch test sees all of it; the other tests complete their
# chunks within a second or two of submitting them.
MAX_DISPATCHES = 3
BATCH_ENV = {
    "CHUNK_DEADLINE_SECONDS": "1.5",
    "CHUNK_MAX_DISPATCHES": str(MAX_DISPATCHES),
    "RECONCILE_INTERVAL_SECONDS": "0.5",
}


@pytest.fixture(scope="module")
async def harness(state_dir: Path) -> AsyncIterator[ServiceHarness]:
    async with service_alone(
        state_dir, BATCH_SERVICE, BATCH_ENV, watch=[BATCH_STATUS, CHUNK_DISPATCH]
    ) as running:
        yield running


async def _batch(harness: ServiceHarness, batch_id: uuid.UUID) -> dict[str, Any] | None:
    """The batch as the gateway reads it (internal API); None while it answers 404."""
    response = await harness.internal_get(f"/internal/admin/batches/{batch_id}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


async def _items(harness: ServiceHarness, batch_id: uuid.UUID, status: str) -> list[Any]:
    response = await harness.internal_get(
        f"/internal/admin/batches/{batch_id}/items", status=status, size=500
    )
    response.raise_for_status()
    return response.json()["items"]  # type: ignore[no-any-return]


async def _status(harness: ServiceHarness, batch_id: uuid.UUID, status: str) -> dict[str, Any]:
    batch = await harness.eventually(
        lambda: _batch(harness, batch_id),
        lambda b: b is not None and b["status"] == status,
        f"batch {batch_id} {status}",
    )
    assert batch is not None  # what `ok` held for
    return batch


async def _acknowledged(
    harness: ServiceHarness, batch: SubmittedBatch, timeout: float = 30
) -> BatchAcknowledged:
    acks = await harness.eventually(
        lambda: harness.log.events(BatchAcknowledged, batch.id),
        lambda found: len(found) > 0,
        f"{batch.id} acknowledged",
        timeout,
    )
    return acks[0]


async def _status_event(
    harness: ServiceHarness, batch: SubmittedBatch, status: str
) -> BatchStatusChanged:
    changes = await harness.eventually(
        lambda: [e for e in harness.log.events(BatchStatusChanged, batch.id) if e.status == status],
        lambda found: len(found) > 0,
        f"BatchStatusChanged {status} of {batch.id}",
    )
    return changes[0]


def _completion(
    batch: SubmittedBatch, chunk_no: int, failed: tuple[int, ...] = ()
) -> ChunkAnalysed:
    """What the analysis service reports for a chunk: these item numbers failed, the rest not."""
    chunk = batch.chunks[chunk_no]
    return ChunkAnalysed(
        batch_id=batch.id,
        owner_id=batch.owner_id,
        chunk_no=chunk_no,
        items_succeeded=len(chunk.items) - len(failed),
        items_failed=len(failed),
        failures=tuple(
            ItemFailure(item_no=n, reason=f"no Amazon product found for item {n}") for n in failed
        ),
        correlation_id=batch.header.correlation_id,
    )


async def test_batch_is_processing_at_once_and_acknowledged_only_when_every_chunk_is_here(
    harness: ServiceHarness,
) -> None:
    """The gateway re-publishes until it sees BatchAcknowledged: an acknowledgement before the
    last chunk would let a lost chunk stay lost."""
    batch = submitted_batch(250, seed=101)
    await harness.publish(BATCH_SUBMISSIONS, batch.header, *batch.chunks[:2])
    view = await _status(harness, batch.id, "PROCESSING")
    assert (view["items_total"], view["chunk_count"], view["chunks_done"]) == (250, 3, 0)
    assert view["owner_id"] == str(batch.owner_id) and view["name"] == batch.header.name
    await harness.drained()
    assert harness.log.events(BatchAcknowledged, batch.id) == []

    await harness.publish(BATCH_SUBMISSIONS, batch.chunks[2])
    ack = await _acknowledged(harness, batch)
    assert (ack.owner_id, ack.chunks_received) == (batch.owner_id, 3)
    change = await _status_event(harness, batch, "PROCESSING")
    assert (change.previous_status, change.items_total) == ("PENDING", 250)
    assert len(await _items(harness, batch.id, "PENDING")) == 250


async def test_completions_of_every_chunk_complete_the_batch_with_counts_that_add_up(
    harness: ServiceHarness,
) -> None:
    batch = submitted_batch(250, seed=102)
    await harness.publish(BATCH_SUBMISSIONS, batch.header, *batch.chunks)
    await _acknowledged(harness, batch)
    await harness.publish(
        CHUNK_RESULTS,
        _completion(batch, 0),
        _completion(batch, 1, failed=(100, 150, 199)),
        _completion(batch, 2),
    )

    done = await _status_event(harness, batch, "COMPLETED")
    assert (done.items_total, done.items_processed, done.items_failed) == (250, 247, 3)
    assert done.previous_status == "PROCESSING" and done.finished_at is not None
    view = await _status(harness, batch.id, "COMPLETED")
    assert (view["items_processed"], view["items_failed"], view["chunks_done"]) == (247, 3, 3)
    failed = await _items(harness, batch.id, "FAILED")
    assert {(i["item_no"], i["failure_reason"]) for i in failed} == {
        (n, f"no Amazon product found for item {n}") for n in (100, 150, 199)
    }
    assert len(await _items(harness, batch.id, "DONE")) == 247


async def test_a_completion_that_arrives_before_the_header_counts_once(
    harness: ServiceHarness,
) -> None:
    """Topics are partitioned by different keys, so the analysis service may report a chunk
    before the batch service has read the batch's header."""
    batch = submitted_batch(150, seed=103)
    await harness.publish(BATCH_SUBMISSIONS, *batch.chunks)
    await harness.drained()
    await harness.publish(CHUNK_RESULTS, _completion(batch, 1, failed=(120,)))
    await harness.eventually(
        lambda: harness.value(
            "SELECT status FROM batch.batch_chunks WHERE batch_id = $1 AND chunk_no = 1", batch.id
        ),
        lambda status: status == "DONE",
        "the early completion is recorded",
    )
    assert await _batch(harness, batch.id) is None  # no header yet: not shown to the seller

    await harness.publish(BATCH_SUBMISSIONS, batch.header)
    await _acknowledged(harness, batch)
    view = await _status(harness, batch.id, "PROCESSING")
    assert (view["chunks_done"], view["items_processed"], view["items_failed"]) == (1, 49, 1)

    await harness.publish(CHUNK_RESULTS, _completion(batch, 0))
    done = await _status_event(harness, batch, "COMPLETED")
    assert (done.items_processed, done.items_failed) == (149, 1)
    failed = await _items(harness, batch.id, "FAILED")
    assert [(i["item_no"], i["failure_reason"]) for i in failed] == [
        (120, "no Amazon product found for item 120")
    ]


async def test_a_chunk_that_arrives_after_its_own_completion_is_still_recorded(
    harness: ServiceHarness,
) -> None:
    """The analysis service reads chunks from the same topic: while the batch service lags (or
    restarts), a chunk's completion can reach it before the chunk itself."""
    batch = submitted_batch(150, seed=106)
    await harness.publish(CHUNK_RESULTS, _completion(batch, 1, failed=(120,)))
    await harness.drained()
    await harness.publish(BATCH_SUBMISSIONS, batch.header, *batch.chunks)
    await harness.drained()
    ack = await _acknowledged(harness, batch, timeout=5)
    assert ack.chunks_received == 2
    failed = await _items(harness, batch.id, "FAILED")
    assert [(i["item_no"], i["failure_reason"]) for i in failed] == [
        (120, "no Amazon product found for item 120")
    ]
    assert len(await _items(harness, batch.id, "DONE")) == 49


async def test_a_duplicated_completion_counts_once(harness: ServiceHarness) -> None:
    """Redelivered, or re-sent by the analysis service under a new event id: still one chunk."""
    batch = submitted_batch(200, seed=104)
    await harness.publish(BATCH_SUBMISSIONS, batch.header, *batch.chunks)
    await _acknowledged(harness, batch)
    first = _completion(batch, 0, failed=(7,))
    again = first.model_copy(update={"event_id": uuid.uuid4()})
    await harness.publish(CHUNK_RESULTS, first, first, again)
    await harness.drained()
    view = await _status(harness, batch.id, "PROCESSING")
    assert (view["chunks_done"], view["items_processed"], view["items_failed"]) == (1, 99, 1)

    await harness.publish(CHUNK_RESULTS, _completion(batch, 1), again)
    done = await _status_event(harness, batch, "COMPLETED")
    assert (done.items_processed, done.items_failed) == (199, 1)
    await harness.drained()
    statuses = [e.status for e in harness.log.events(BatchStatusChanged, batch.id)]
    assert statuses == ["PROCESSING", "COMPLETED"]


async def test_a_chunk_without_completion_is_redispatched_then_given_up(
    harness: ServiceHarness,
) -> None:
    """A lost chunk is sent again with its items (the analysis service deduplicates it); after
    CHUNK_MAX_DISPATCHES its items fail with the reason, so the batch still ends."""
    batch = submitted_batch(20, seed=105)
    await harness.publish(BATCH_SUBMISSIONS, batch.header, *batch.chunks)
    await _acknowledged(harness, batch)

    resent = await harness.eventually(
        lambda: harness.log.seen(ChunkRedispatched, batch.id),
        lambda found: len(found) >= 2,
        "two re-dispatches",
    )
    events: list[ChunkRedispatched] = [s.event for s in resent]
    assert [e.attempt for e in events[:2]] == [1, 2]
    assert len({e.event_id for e in events}) == len(events)
    for seen, event in zip(resent, events, strict=True):
        assert (seen.topic, seen.key) == (CHUNK_DISPATCH.name, f"{batch.id}:0")
        assert (event.chunk_no, event.chunk_count) == (0, 1)
        assert (event.items, event.config) == (batch.chunks[0].items, batch.chunks[0].config)

    failed = await _status_event(harness, batch, "FAILED")
    assert (failed.items_processed, failed.items_failed) == (0, 20)
    assert len(harness.log.events(ChunkRedispatched, batch.id)) == MAX_DISPATCHES - 1
    reasons = {i["failure_reason"] for i in await _items(harness, batch.id, "FAILED")}
    assert reasons == {f"no analysis after {MAX_DISPATCHES} dispatches; given up"}


async def test_the_internal_api_answers_only_the_gateway_with_a_token_for_this_service(
    harness: ServiceHarness,
) -> None:
    """Every internal route wants a valid service token for the batch service; reads name their
    owner; every owner at once only on the admin routes, with an admin-scoped token."""
    batch = submitted_batch(items=3, seed=171)
    await harness.publish(BATCH_SUBMISSIONS, batch.header, *batch.chunks)
    await harness.eventually(
        lambda: _batch(harness, batch.id), lambda b: b is not None, "the batch is readable"
    )
    path = f"/internal/batches/{batch.id}"
    owner = {"owner_id": str(batch.owner_id)}
    tokens = ServiceTokens(harness.stack.internal_auth_secret)
    forged = ServiceTokens("not-the-services-secret-0123456789abcdef")
    expired = jwt.encode(
        {"iss": "gateway", "aud": "batch-service", "iat": 1, "exp": 2, "scope": "admin"},
        harness.stack.internal_auth_secret,
        "HS256",
    )
    async with httpx.AsyncClient(base_url=harness.url, timeout=10) as http:

        async def status(url: str, headers: dict[str, str], **params: str) -> int:
            return (await http.get(url, params=params, headers=headers)).status_code

        assert await status(path, {}, **owner) == 401  # anonymous
        assert await status(path, forged.header("batch-service"), **owner) == 401
        assert await status(path, tokens.header("analysis-service"), **owner) == 401  # audience
        assert await status(path, {"Authorization": f"Bearer {expired}"}, **owner) == 401
        assert await status(path, tokens.header("batch-service"), **owner) == 200
        assert await status(path, tokens.header("batch-service")) == 422  # no owner named
        other = {"owner_id": str(uuid.uuid4())}
        assert await status(path, tokens.header("batch-service"), **other) == 404
        admin_path = f"/internal/admin/batches/{batch.id}"
        assert await status(admin_path, tokens.header("batch-service")) == 403  # not admin
        assert await status(admin_path, tokens.header("batch-service", admin=True)) == 200
        listing = await http.get("/internal/batches", headers=tokens.header("batch-service"))
        assert listing.status_code == 422  # every owner's batches: only the admin view
