"""The batch state machine: pure functions from the current state and an event to the next state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


@dataclass(frozen=True)
class BatchProgress:
    status: str
    header_received: bool
    chunk_count: int
    chunks_done: int
    items_total: int
    items_processed: int
    items_failed: int


def status_after_progress(batch: BatchProgress) -> str:
    """The status once counters changed: terminal when every chunk reported back.

    COMPLETED when at least one item was analysed, FAILED when none was.
    A terminal status never changes again (a late completion only updates counters).
    """
    if batch.status in TERMINAL:
        return batch.status
    if not batch.header_received:
        return batch.status  # a completion before the header: wait for the header
    if batch.chunks_done >= batch.chunk_count:
        return "COMPLETED" if batch.items_processed > 0 else "FAILED"
    return "PROCESSING"


def can_cancel(status: str) -> bool:
    return status not in TERMINAL


# Live progress (BatchProgressed): every status change, and at most this often in between.
PROGRESS_INTERVAL = timedelta(seconds=1)


def progress_due(
    last_published_at: datetime | None,
    now: datetime,
    *,
    status_changed: bool,
    interval: timedelta = PROGRESS_INTERVAL,
) -> bool:
    """Whether a progress event of a batch goes out now: always on a status change, else only
    when none went out within `interval` (`now` and `last_published_at` from one clock)."""
    if status_changed or last_published_at is None:
        return True
    return now - last_published_at >= interval


def progress_wait(
    last_published_at: datetime, now: datetime, interval: timedelta = PROGRESS_INTERVAL
) -> timedelta:
    """How long a withheld progress event waits before it may go out (never negative)."""
    return max(timedelta(0), last_published_at + interval - now)


def eta_seconds(
    items_total: int, items_done: int, started_at: datetime | None, now: datetime
) -> float | None:
    """Seconds to completion at the batch's rate so far; None until a line is done."""
    remaining = max(items_total - items_done, 0)
    if remaining == 0:
        return 0.0
    if started_at is None or items_done <= 0:
        return None
    elapsed = (now - started_at).total_seconds()
    if elapsed <= 0:
        return None
    return round(remaining * elapsed / items_done, 1)
