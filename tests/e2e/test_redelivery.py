"""At-least-once delivery + idempotent consumers: duplicates and any order leave the same state."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from aiokafka import AIOKafkaProducer

from av_shared.events import BusinessConfigSnapshot, ChunkItem, serialize_event
from av_shared.ops import consumer_lag
from devstack.stack import Stack
from gateway.domain.submission import build_submission
from tests.e2e.conftest import Seller
from tests.helpers import admin_fetch, admin_value, isbn10s, items_for


async def _publish(stack: Stack, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _drained(stack: Stack, timeout: float = 60) -> None:
    """Every consumer group has committed everything published so far."""
    deadline = asyncio.get_running_loop().time() + timeout
    while any(row["lag"] for row in await consumer_lag(stack.bootstrap)):
        assert asyncio.get_running_loop().time() < deadline, "consumers did not catch up"
        await asyncio.sleep(0.3)


async def _state(stack: Stack, batch_id: str) -> tuple[object, ...]:
    bid = uuid.UUID(batch_id)
    batch = await admin_fetch(
        stack.admin_url,
        "SELECT status, items_processed, items_failed, "
        "chunks_done, chunks_received FROM batch.batches WHERE id = $1",
        bid,
    )
    analyses = await admin_value(
        stack.admin_url, "SELECT count(*) FROM analysis.analyses WHERE batch_id = $1", bid
    )
    items = await admin_value(
        stack.admin_url, "SELECT count(*) FROM batch.batch_items WHERE batch_id = $1", bid
    )
    return (tuple(batch[0]), analyses, items)


async def test_replaying_every_event_twice_shuffled_changes_nothing(
    seller: Seller, stack: Stack
) -> None:
    batch = await seller.submit(items_for(isbn10s(450, seed=11)))
    await seller.wait_terminal(batch["id"])
    await _drained(stack)
    before = await _state(stack, batch["id"])
    rows = [
        *await admin_fetch(
            stack.admin_url,
            "SELECT topic, partition_key, payload FROM gateway.outbox WHERE aggregate_id = $1",
            uuid.UUID(batch["id"]),
        ),
        *await admin_fetch(
            stack.admin_url,
            "SELECT topic, partition_key, payload FROM analysis.outbox WHERE aggregate_id = $1",
            uuid.UUID(batch["id"]),
        ),
    ]
    assert len(rows) >= 1 + 5 + 5  # header, 5 chunks, 5 completions
    records = []
    for row in rows:
        same = (row["topic"], row["partition_key"].encode(), row["payload"].encode())
        # The same event again, and a copy under a new event id (a re-publication).
        fresh = json.loads(row["payload"]) | {"event_id": str(uuid.uuid4())}
        records += [same, same, (row["topic"], same[1], json.dumps(fresh).encode())]
    random.Random(5).shuffle(records)
    await _publish(stack, records)
    await _drained(stack)
    assert await _state(stack, batch["id"]) == before


async def test_events_in_any_order_complete_the_batch_once(seller: Seller, stack: Stack) -> None:
    me = (await seller.get("/api/v1/users/me")).json()
    batch_id = uuid.uuid4()
    items = [
        ChunkItem(item_no=n, identifier=i, asin=i, buy_cost=Decimal("2.00"))
        for n, i in enumerate(isbn10s(330, seed=12))
    ]
    built = build_submission(
        batch_id=batch_id,
        owner_id=uuid.UUID(me["id"]),
        name="shuffled",
        items=items,
        config=BusinessConfigSnapshot(),
        chunk_size=100,
        submitted_at=datetime.now(UTC),
        correlation_id=f"batch-{batch_id}",
    )
    events = [*built.chunks, *built.chunks]  # every chunk twice, then the header last
    random.Random(9).shuffle(events)
    records = [
        ("av.batch.submissions", e.partition_key().encode(), serialize_event(e))
        for e in [*events, built.header]
    ]
    await _publish(stack, records)
    done = await seller.wait_terminal(str(batch_id))
    assert done["status"] == "COMPLETED"
    assert done["items_processed"] + done["items_failed"] == 330
    stored = await admin_fetch(
        stack.admin_url,
        "SELECT count(*) AS n, count(DISTINCT item_no) "
        "AS d FROM analysis.analyses WHERE batch_id = $1",
        batch_id,
    )
    assert stored[0]["n"] == stored[0]["d"] == done["items_processed"]
