"""What a progress stream sends: pure functions, no I/O.

Every message is the batch's whole state, so a client that missed some lost nothing but
intermediate figures. Its `id` is derived from the state itself, so every gateway instance gives
the same state the same id without any shared counter: the lines done (analysed + failed) and
the status only ever grow, so `done * 3 + rank(status)` increases with every new state of the
batch (a status change at an unchanged count moves the rank; progress moves the count).
A stream sends only ids above the last one it sent (or the client's `Last-Event-ID`), which
also drops redelivered and reordered events.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from av_shared.events import TERMINAL_STATUSES, BatchProgressed

StreamEventName = Literal["status", "progress"]
_RANK = {"PENDING": 0, "PROCESSING": 1}  # every terminal status: 2
_RANKS = 3


def stream_id(status: str, items_processed: int, items_failed: int) -> int:
    return (items_processed + items_failed) * _RANKS + _RANK.get(status, _RANKS - 1)


@dataclass(frozen=True)
class StreamMessage:
    id: int
    event: StreamEventName
    data: dict[str, Any]
    sse: bytes = field(repr=False, compare=False)  # built once, sent to every stream

    @property
    def terminal(self) -> bool:
        return self.data["status"] in TERMINAL_STATUSES

    def websocket_text(self) -> str:
        return json.dumps({**self.data, "event": self.event, "id": self.id})


def message(
    *,
    event: StreamEventName,
    batch_id: uuid.UUID | str,
    status: str,
    items_total: int,
    items_processed: int,
    items_failed: int,
    eta_seconds: float | None,
) -> StreamMessage:
    data = {
        "batch_id": str(batch_id),
        "status": status,
        "items_total": items_total,
        "items_processed": items_processed,
        "items_failed": items_failed,
        "eta_seconds": eta_seconds,
    }
    sid = stream_id(status, items_processed, items_failed)
    sse = f"id: {sid}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()
    return StreamMessage(sid, event, data, sse)


def from_event(event: BatchProgressed) -> StreamMessage:
    return message(
        event="status" if event.status_changed else "progress",
        batch_id=event.batch_id,
        status=event.status,
        items_total=event.items_total,
        items_processed=event.items_processed,
        items_failed=event.items_failed,
        eta_seconds=event.eta_seconds,
    )


def from_view(batch: dict[str, Any]) -> StreamMessage:
    """The current state read at connect time (a BatchView): the first message, a `status`."""
    return message(
        event="status",
        batch_id=batch["id"],
        status=batch["status"],
        items_total=batch["items_total"],
        items_processed=batch["items_processed"],
        items_failed=batch["items_failed"],
        eta_seconds=batch.get("eta_seconds"),
    )


def last_event_id(raw: str | None) -> int:
    """The client's `Last-Event-ID` (-1: none, or not one of ours: send everything)."""
    if raw is None:
        return -1
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 19 else -1


HEARTBEAT = b": keepalive\n\n"
RETRY = b"retry: 2000\n\n"  # EventSource reconnects after 2 s (with Last-Event-ID)
