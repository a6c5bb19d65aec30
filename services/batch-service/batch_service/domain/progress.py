"""The batch state machine: pure functions from the current state and an event to the next state."""

from __future__ import annotations

from dataclasses import dataclass

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
