"""This instance's answers of `GET /api/v1/batches/{id}`, kept fresh by the progress events the
hub reads anyway (pure: no I/O; the route fills it, the hub feeds it).

A batch read is an HTTP round trip to the batch service (and, while it runs, to the analysis
service for its ETA); a client polling it would pay both on every request. So each answer is
kept here, serialised, with what can change about it:
- a finished batch (COMPLETED, FAILED, CANCELLED) never changes: kept until pushed out by newer
  ones (least recently used first);
- a running one is kept for at most `max_age` seconds, and meanwhile its counts follow the
  BatchProgressed events of the status topic (every instance reads all of them); an event that
  announces a new status drops the entry, so the next read asks the services;
- whenever the hub's reader (re)starts or the broker lost its log, events may have been missed:
  everything running is dropped.
An answer is therefore at most `max_age` seconds behind the batch service (the ETA and
`queued_items` too), and usually not behind at all. It is kept per owner: a read by anyone else
misses it and asks the services, which check ownership.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from av_shared.events import TERMINAL_STATUSES, BatchProgressed
from av_shared.views import BatchView


@dataclass
class _Entry:
    owner: uuid.UUID
    view: dict[str, Any]
    body: bytes  # the public answer, serialised once per change
    stored_at: float

    @property
    def finished(self) -> bool:
        return self.view["status"] in TERMINAL_STATUSES


def _serialise(view: dict[str, Any]) -> bytes:
    return BatchView.model_validate(view).model_dump_json().encode()


class BatchCache:
    def __init__(self, max_entries: int = 10_000, max_age: float = 1.0) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max_entries = max_entries
        self._max_age = max_age
        self.hits = self.misses = 0

    def __contains__(self, batch_id: str) -> bool:
        return batch_id in self._entries

    def get(self, batch_id: uuid.UUID, owner: uuid.UUID) -> bytes | None:
        """The serialised answer for `owner`, if one is known and fresh enough."""
        entry = self._entries.get(str(batch_id))
        if (
            entry is None
            or entry.owner != owner
            or (not entry.finished and time.monotonic() - entry.stored_at > self._max_age)
        ):
            self.misses += 1
            return None
        self._entries.move_to_end(str(batch_id))
        self.hits += 1
        return entry.body

    def put(self, owner: uuid.UUID, view: dict[str, Any]) -> bytes:
        """Keep the answer the services gave `owner`; returns it serialised."""
        body = _serialise(view)
        key = str(view["id"])
        self._entries[key] = _Entry(owner, view, body, time.monotonic())
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return body

    def apply(self, event: BatchProgressed) -> None:
        """Progress of a kept batch: its counts follow; a new status drops it."""
        key = str(event.batch_id)
        entry = self._entries.get(key)
        if entry is None or entry.finished:
            return
        if event.status_changed or event.status != entry.view["status"]:
            del self._entries[key]
            return
        done = event.items_processed + event.items_failed
        if done < entry.view["items_processed"] + entry.view["items_failed"]:
            return  # an older event, redelivered or reordered
        entry.view = {
            **entry.view,
            "items_processed": event.items_processed,
            "items_failed": event.items_failed,
        }
        entry.body = _serialise(entry.view)

    def drop(self, batch_id: uuid.UUID) -> None:
        self._entries.pop(str(batch_id), None)

    def drop_running(self) -> None:
        """Events may have been missed: forget every batch that could still change."""
        for key in [k for k, e in self._entries.items() if not e.finished]:
            del self._entries[key]
