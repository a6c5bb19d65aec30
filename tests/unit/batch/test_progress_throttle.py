"""Live progress: the batch service's throttle (at most one progress event a second per batch,
every status change at once) and its ETA, with an injected clock; the gateway's stream ids and
what one stream sends."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from batch_service.domain.progress import (
    PROGRESS_INTERVAL,
    eta_seconds,
    progress_due,
    progress_wait,
)
from gateway.streams.hub import RESYNC, ProgressHub, follow
from gateway.streams.messages import StreamMessage, last_event_id, message, stream_id

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _published(completions: list[float]) -> list[float]:
    """Which of these completion times (seconds after T0) publish a progress event."""
    last: datetime | None = None
    sent = []
    for at in completions:
        now = T0 + timedelta(seconds=at)
        if progress_due(last, now, status_changed=False):
            last = now
            sent.append(at)
    return sent


def test_the_first_progress_of_a_batch_goes_out_at_once() -> None:
    assert progress_due(None, T0, status_changed=False)


def test_a_burst_of_completions_publishes_at_most_one_event_a_second() -> None:
    burst = [i * 0.05 for i in range(100)]  # 100 chunks in 5 seconds
    sent = _published(burst)
    assert sent == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(sent))


def test_a_status_change_is_never_withheld() -> None:
    just_now = T0 - timedelta(milliseconds=10)
    assert not progress_due(just_now, T0, status_changed=False)
    assert progress_due(just_now, T0, status_changed=True)


def test_the_interval_is_the_boundary() -> None:
    assert progress_due(T0, T0 + PROGRESS_INTERVAL, status_changed=False)
    assert not progress_due(
        T0, T0 + PROGRESS_INTERVAL - timedelta(microseconds=1), status_changed=False
    )
    slower = timedelta(seconds=5)
    assert not progress_due(T0, T0 + timedelta(seconds=2), status_changed=False, interval=slower)


def test_a_withheld_event_waits_for_the_rest_of_the_interval_only() -> None:
    assert progress_wait(T0, T0 + timedelta(milliseconds=300)) == timedelta(milliseconds=700)
    assert progress_wait(T0, T0 + timedelta(seconds=5)) == timedelta(0)
    # another instance's clock slightly ahead: still no longer than one interval
    assert progress_wait(T0, T0 - timedelta(milliseconds=5)) <= PROGRESS_INTERVAL + timedelta(
        milliseconds=5
    )


@pytest.mark.parametrize(
    ("total", "done", "elapsed", "expected"),
    [
        (1000, 250, 10.0, 30.0),  # 25 lines a second, 750 to go
        (1000, 1000, 10.0, 0.0),
        (1000, 0, 10.0, None),  # no rate yet
        (100, 1, 3.0, 297.0),
    ],
)
def test_eta_is_the_rest_at_the_rate_so_far(
    total: int, done: int, elapsed: float, expected: float | None
) -> None:
    now = T0 + timedelta(seconds=elapsed)
    assert eta_seconds(total, done, T0, now) == expected


def test_eta_is_unknown_before_the_batch_started() -> None:
    assert eta_seconds(10, 5, None, T0) is None


# The gateway's side: ids derived from the state, and what one stream sends (hub in memory).


def _state(status: str, processed: int, failed: int = 0, event: str = "progress") -> StreamMessage:
    return message(
        event=event,  # type: ignore[arg-type]
        batch_id=BATCH,
        status=status,
        items_total=300,
        items_processed=processed,
        items_failed=failed,
        eta_seconds=None,
    )


BATCH = uuid.UUID(int=7)


def test_stream_ids_grow_with_every_new_state_of_a_batch() -> None:
    lifetime = [
        ("PENDING", 0, 0),
        ("PENDING", 100, 0),  # a completion before the header
        ("PROCESSING", 100, 0),  # a status change at an unchanged count
        ("PROCESSING", 150, 50),
        ("PROCESSING", 250, 50),
        ("COMPLETED", 250, 50),
    ]
    ids = [stream_id(*state) for state in lifetime]
    assert ids == sorted(set(ids))
    assert stream_id("CANCELLED", 10, 0) > stream_id("PROCESSING", 10, 0)


@pytest.mark.parametrize(
    ("header", "expected"), [(None, -1), ("41", 41), (" 7 ", 7), ("x1", -1), ("-3", -1)]
)
def test_last_event_id_is_ours_or_ignored(header: str | None, expected: int) -> None:
    assert last_event_id(header) == expected


async def _collect(
    hub: ProgressHub, first: StreamMessage, last_seen: int, later: list[StreamMessage | str]
) -> list[StreamMessage | None]:
    subscription = hub.subscribe(BATCH)
    for item in later:
        if isinstance(item, StreamMessage):
            hub.publish(item)
        else:
            hub.resync_all()

    async def reread() -> StreamMessage:
        return _state("PROCESSING", 200, event="status")

    sent: list[StreamMessage | None] = []
    async with asyncio.timeout(10):
        async for message in follow(subscription, first, last_seen, reread, 0.01):
            sent.append(message)
            if message is None and len([s for s in sent if s is None]) > 3:
                break
    subscription.close()
    return sent


async def test_a_stream_sends_newer_states_in_order_and_ends_after_the_terminal_one() -> None:
    hub = ProgressHub()
    first = _state("PROCESSING", 100, event="status")
    stale, repeated = _state("PROCESSING", 50), _state("PROCESSING", 100)
    done = _state("COMPLETED", 300, event="status")
    sent = await _collect(hub, first, -1, [stale, repeated, _state("PROCESSING", 200), done])
    assert [m.id for m in sent if m] == [first.id, stream_id("PROCESSING", 200, 0), done.id]
    assert sent[-1] == done  # nothing after the terminal state
    assert hub.open_streams == 0


async def test_a_resumed_stream_skips_what_the_client_has() -> None:
    hub = ProgressHub()
    first = _state("PROCESSING", 200, event="status")
    sent = await _collect(hub, first, first.id, [_state("COMPLETED", 300, event="status")])
    assert [m.data["status"] for m in sent if m] == ["COMPLETED"]
    finished = _state("COMPLETED", 300, event="status")
    assert await _collect(ProgressHub(), finished, finished.id, []) == []


async def test_heartbeats_while_nothing_comes_and_a_resync_rereads_the_state() -> None:
    first = _state("PROCESSING", 100, event="status")
    sent = await _collect(ProgressHub(), first, -1, [RESYNC])
    assert sent[0] == first
    assert sent[1] is not None and sent[1].data["items_processed"] == 200  # re-read
    assert sent[2:] == [None] * 4  # keepalives, then the test stopped reading
