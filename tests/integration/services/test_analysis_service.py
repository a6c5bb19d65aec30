"""The analysis service alone, with the Keepa simulator: this module plays the gateway (chunks on
the submissions topic) and the batch service (re-dispatches, cancellations), and reads the
completions the analysis service publishes, the analyses it stores and its internal API.

A seller relies on it for: one analysis per line, whatever the number of deliveries of a chunk
(a duplicate must neither store a second analysis nor spend Keepa tokens again), a completion with
counts that match what was stored, and a line Keepa cannot find failing with its reason without
taking the rest of the chunk down.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from av_shared.events import (
    BatchChunkSubmitted,
    BatchStatusChanged,
    BusinessConfigSnapshot,
    ChunkAnalysed,
    ChunkItem,
    ChunkRedispatched,
)
from av_shared.internal_auth import ServiceTokens
from av_shared.topics import BATCH_STATUS, BATCH_SUBMISSIONS, CHUNK_DISPATCH, CHUNK_RESULTS
from tests.helpers import isbn10s
from tests.integration.services.harness import (
    ANALYSIS_SERVICE,
    ServiceHarness,
    SubmittedBatch,
    chunk_items,
    service_alone,
    submitted_batch,
)

# A valid EAN-13 that is not a book code: Keepa's code lookup (and the simulator's) matches no
# product, as for a 979 ISBN-13 Keepa does not list (the simulator invents a book for every
# ISBN, so it cannot play that one).
UNKNOWN_CODE = "4006381333931"


@pytest.fixture(scope="module")
async def harness(state_dir: Path) -> AsyncIterator[ServiceHarness]:
    async with service_alone(state_dir, ANALYSIS_SERVICE, {}, watch=[CHUNK_RESULTS]) as running:
        yield running


async def _completions(
    harness: ServiceHarness, batch_id: uuid.UUID, chunk_no: int, at_least: int = 1
) -> list[ChunkAnalysed]:
    return await harness.eventually(
        lambda: [e for e in harness.log.events(ChunkAnalysed, batch_id) if e.chunk_no == chunk_no],
        lambda found: len(found) >= at_least,
        f"{at_least} ChunkAnalysed of {batch_id}/{chunk_no}",
    )


async def _analyses(harness: ServiceHarness, batch: SubmittedBatch) -> list[dict[str, Any]]:
    """What the gateway shows the seller (internal API, filtered by owner)."""
    response = await harness.internal_get(
        "/internal/analyses", batch_id=str(batch.id), owner_id=str(batch.owner_id), size=500
    )
    response.raise_for_status()
    return response.json()["items"]  # type: ignore[no-any-return]


async def _stored(harness: ServiceHarness, batch_id: uuid.UUID) -> list[tuple[int, uuid.UUID]]:
    rows = await harness.fetch(
        "SELECT item_no, id FROM analysis.analyses WHERE batch_id = $1 ORDER BY item_no, id",
        batch_id,
    )
    return [(r["item_no"], r["id"]) for r in rows]


async def _keepa_requests(harness: ServiceHarness) -> int:
    async with httpx.AsyncClient(base_url=harness.stack.keepa_base_url, timeout=10) as http:
        return len((await http.get("/_sim/stats")).json()["requests"])


async def test_every_item_of_every_chunk_gets_one_analysis_and_the_completion_counts_them(
    harness: ServiceHarness,
) -> None:
    batch = submitted_batch(150, seed=201)
    await harness.publish(BATCH_SUBMISSIONS, *batch.chunks)  # the header is not for this service

    for chunk in batch.chunks:
        [done] = await _completions(harness, batch.id, chunk.chunk_no)
        assert (done.items_succeeded, done.items_failed, done.failures) == (len(chunk.items), 0, ())
        assert (done.owner_id, done.skipped_because_cancelled) == (batch.owner_id, False)
        assert done.correlation_id == batch.header.correlation_id
    keys = {s.key for s in harness.log.seen(ChunkAnalysed, batch.id)}
    assert keys == {str(batch.id)}  # one partition per batch: its completions keep their order

    assert [n for n, _ in await _stored(harness, batch.id)] == list(range(150))
    shown = await _analyses(harness, batch)
    lines = {i.item_no: i for chunk in batch.chunks for i in chunk.items}
    assert len(shown) == 150
    for analysis in shown:
        line = lines[analysis["item_no"]]
        assert (analysis["identifier"], analysis["asin"]) == (line.identifier, line.asin)
        assert analysis["recommendation"] in ("BUY", "WATCH", "PASS")
        assert analysis["buy_cost"] == float(line.buy_cost)


async def test_the_same_chunk_again_and_its_redispatch_store_nothing_twice(
    harness: ServiceHarness,
) -> None:
    """The gateway re-publishes until acknowledged and the batch service re-dispatches overdue
    chunks: neither may store a second analysis or pay Keepa again. A re-dispatch of a finished
    chunk gets the stored completion back (the first one may be what was lost)."""
    batch = submitted_batch(30, seed=202)
    [chunk] = batch.chunks
    await harness.publish(BATCH_SUBMISSIONS, chunk)
    [first] = await _completions(harness, batch.id, 0)
    stored, keepa = await _stored(harness, batch.id), await _keepa_requests(harness)

    copy = chunk.model_copy(update={"event_id": uuid.uuid4()})
    redispatch = ChunkRedispatched(
        batch_id=batch.id,
        owner_id=batch.owner_id,
        chunk_no=0,
        chunk_count=1,
        attempt=1,
        items=chunk.items,
        config=chunk.config,
        correlation_id=chunk.correlation_id,
    )
    await harness.publish(BATCH_SUBMISSIONS, chunk, copy)
    await harness.publish(CHUNK_DISPATCH, redispatch)
    first_again = (await _completions(harness, batch.id, 0, at_least=2))[1]
    assert first_again.event_id == redispatch.event_id  # a repeated re-dispatch: same reply id
    assert first_again.model_dump(exclude={"event_id"}) == first.model_dump(exclude={"event_id"})

    await harness.drained()
    await asyncio.sleep(1.5)  # three worker polls: time for a wrongly re-queued chunk to run
    assert len(await _completions(harness, batch.id, 0)) == 2
    assert await _stored(harness, batch.id) == stored
    assert await _keepa_requests(harness) == keepa


async def test_an_identifier_keepa_does_not_know_fails_with_its_reason_and_the_rest_is_analysed(
    harness: ServiceHarness,
) -> None:
    batch = submitted_batch(10, seed=203)
    items = list(batch.chunks[0].items)
    items[4] = ChunkItem(item_no=4, identifier=UNKNOWN_CODE, asin=None, buy_cost=items[4].buy_cost)
    chunk = batch.chunks[0].model_copy(update={"items": tuple(items)})
    await harness.publish(BATCH_SUBMISSIONS, chunk)

    [done] = await _completions(harness, batch.id, 0)
    reason = f"no Amazon product found for ISBN {UNKNOWN_CODE}"
    assert (done.items_succeeded, done.items_failed) == (9, 1)
    assert [(f.item_no, f.reason) for f in done.failures] == [(4, reason)]
    failures = await harness.fetch(
        "SELECT item_no, identifier, reason, owner_id FROM "
        "analysis.item_failures WHERE batch_id = $1",
        batch.id,
    )
    assert [tuple(r) for r in failures] == [(4, UNKNOWN_CODE, reason, batch.owner_id)]
    assert [n for n, _ in await _stored(harness, batch.id)] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    # The miss is remembered: the next line with this code costs no Keepa token.
    assert (
        await harness.value(
            "SELECT count(*) FROM analysis.identifier_lookups WHERE code = $1 AND asin IS NULL",
            UNKNOWN_CODE,
        )
        == 1
    )


async def test_a_chunk_of_a_cancelled_batch_is_completed_as_skipped_without_keepa(
    harness: ServiceHarness,
) -> None:
    """Cancelling stops the spending: queued chunks complete (so the batch can end) unanalysed."""
    batch_id, owner_id = uuid.uuid4(), uuid.uuid4()
    cancelled = BatchStatusChanged(
        batch_id=batch_id,
        owner_id=owner_id,
        status="CANCELLED",
        previous_status="PROCESSING",
        items_total=20,
        items_processed=0,
        items_failed=0,
        correlation_id=f"batch-{batch_id}",
    )
    await harness.publish(BATCH_STATUS, cancelled)
    await harness.drained()
    keepa = await _keepa_requests(harness)

    chunk = BatchChunkSubmitted(
        batch_id=batch_id,
        owner_id=owner_id,
        chunk_no=0,
        chunk_count=1,
        items=chunk_items(isbn10s(20, seed=204)),
        config=BusinessConfigSnapshot(),
        correlation_id=f"batch-{batch_id}",
    )
    await harness.publish(BATCH_SUBMISSIONS, chunk)
    [done] = await _completions(harness, batch_id, 0)
    assert done.skipped_because_cancelled
    assert (done.items_succeeded, done.items_failed) == (0, 0)
    assert await _stored(harness, batch_id) == []
    assert await _keepa_requests(harness) == keepa


async def test_an_instant_analysis_without_the_gateways_token_spends_no_keepa_token(
    harness: ServiceHarness,
) -> None:
    """Only the gateway (which charges the seller's quota) may have a book analysed now."""
    isbn = isbn10s(1, seed=231)[0]
    item = ChunkItem(item_no=0, identifier=isbn, asin=isbn, buy_cost=Decimal("2.00"))
    body = {
        "item": item.model_dump(mode="json"),
        "owner_id": str(uuid.uuid4()),
        "config": BusinessConfigSnapshot().model_dump(mode="json"),
    }
    before = await _keepa_requests(harness)
    tokens = ServiceTokens(harness.stack.internal_auth_secret)
    async with httpx.AsyncClient(base_url=harness.url, timeout=60) as http:
        anonymous = await http.post("/internal/analyses", json=body)
        wrong_audience = await http.post(
            "/internal/analyses", json=body, headers=tokens.header("batch-service")
        )
        assert (anonymous.status_code, wrong_audience.status_code) == (401, 401)
        assert await _keepa_requests(harness) == before
        granted = await http.post(
            "/internal/analyses", json=body, headers=tokens.header("analysis-service")
        )
    assert granted.status_code == 201, granted.text
    assert await _keepa_requests(harness) == before + 1
