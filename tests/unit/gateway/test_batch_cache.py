"""The gateway's cache of batch reads (gateway.streams.batch_cache): what it answers, for whom,
for how long, and how progress events keep it current."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from av_shared.events import BatchProgressed
from gateway.streams.batch_cache import BatchCache
from gateway.streams.hub import ProgressHub

SELLER, OTHER = uuid.uuid4(), uuid.uuid4()


def view(batch_id: uuid.UUID, status: str = "PROCESSING", done: int = 10) -> dict[str, Any]:
    return {
        "id": str(batch_id),
        "name": "haul",
        "status": status,
        "items_total": 100,
        "items_processed": done,
        "items_failed": 1,
        "created_at": "2026-12-02T10:00:00Z",
        "started_at": "2026-12-02T10:00:01Z",
        "finished_at": None,
        "eta_seconds": 42.0,
        "queued_items": 89,
        "owner_id": str(SELLER),  # internal fields never reach the public answer
    }


def progressed(batch_id: uuid.UUID, status: str = "PROCESSING", done: int = 20) -> BatchProgressed:
    return BatchProgressed(
        correlation_id=str(batch_id),
        batch_id=batch_id,
        owner_id=SELLER,
        status=status,
        status_changed=status != "PROCESSING",
        items_total=100,
        items_processed=done,
        items_failed=1,
        eta_seconds=5.0,
    )


def test_an_answer_is_kept_for_its_owner_only_and_without_internal_fields() -> None:
    cache, batch = BatchCache(), uuid.uuid4()
    body = cache.put(SELLER, view(batch))
    assert cache.get(batch, SELLER) == body
    assert cache.get(batch, OTHER) is None  # they ask the services, which answer 404
    answer = json.loads(body)
    assert "owner_id" not in answer
    assert answer["items_processed"] == 10 and answer["eta_seconds"] == 42.0


def test_a_running_batch_is_kept_for_max_age_a_finished_one_for_good(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = BatchCache(max_age=1.0)
    running, finished = uuid.uuid4(), uuid.uuid4()
    cache.put(SELLER, view(running))
    cache.put(SELLER, view(finished, status="COMPLETED", done=99))
    later = time.monotonic() + 1.5
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert cache.get(running, SELLER) is None
    assert cache.get(finished, SELLER) is not None


def test_progress_events_move_the_counts_and_a_new_status_drops_the_answer() -> None:
    cache, batch = BatchCache(), uuid.uuid4()
    cache.put(SELLER, view(batch, done=10))
    cache.apply(progressed(batch, done=20))
    assert json.loads(cache.get(batch, SELLER) or b"")["items_processed"] == 20
    cache.apply(progressed(batch, done=15))  # older, redelivered: ignored
    assert json.loads(cache.get(batch, SELLER) or b"")["items_processed"] == 20
    cache.apply(progressed(batch, status="COMPLETED", done=99))
    assert cache.get(batch, SELLER) is None  # the next read asks the services


def test_the_oldest_answer_makes_room() -> None:
    cache = BatchCache(max_entries=2)
    first, second, third = (uuid.uuid4() for _ in range(3))
    for batch in (first, second):
        cache.put(SELLER, view(batch, status="COMPLETED"))
    assert cache.get(first, SELLER) is not None  # now the most recently used
    cache.put(SELLER, view(third, status="COMPLETED"))
    assert cache.get(second, SELLER) is None
    assert cache.get(first, SELLER) is not None and cache.get(third, SELLER) is not None


def test_the_hub_feeds_the_cache_and_a_reader_restart_drops_what_may_have_changed() -> None:
    hub = ProgressHub()
    running, finished = uuid.uuid4(), uuid.uuid4()
    hub.cache.put(SELLER, view(running))
    hub.cache.put(SELLER, view(finished, status="COMPLETED"))
    # No stream is open for the batch: the hub still reads the event, for the cache.
    event = progressed(running, done=30)
    hub.offer(str(running).encode(), event.model_dump_json().encode())
    assert json.loads(hub.cache.get(running, SELLER) or b"")["items_processed"] == 30
    hub.resync_all()  # what the reader does when it (re)starts, or the broker lost its log
    assert hub.cache.get(running, SELLER) is None
    assert hub.cache.get(finished, SELLER) is not None
