"""Server-Sent Events (the WHATWG format) read from a streamed answer, and a batch followed to its
end: a dropped connection resumes with `Last-Event-ID`, so no progress is missed or repeated."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from .api import CliError, Exit, Gateway

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
MAX_RECONNECTS = 20


@dataclass(frozen=True)
class Event:
    id: str | None
    event: str
    data: str

    def json(self) -> dict[str, Any]:
        loaded = json.loads(self.data)
        if not isinstance(loaded, dict):
            raise ValueError(f"event data is not an object: {self.data[:100]}")
        return loaded


def parse(lines: Iterable[str]) -> Iterator[Event]:
    """Events of a text/event-stream, one per blank-line-terminated block; comments skipped."""
    event_id: str | None = None
    kind, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield Event(event_id, kind, "\n".join(data))
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            kind = value
        elif field == "id" and "\0" not in value:
            event_id = value  # kept across events, as EventSource does


def follow(gateway: Gateway, batch_id: str) -> Iterator[dict[str, Any]]:
    """Each progress/status message of the batch until the terminal one (then it stops)."""
    last_id: str | None = None
    for attempt in range(MAX_RECONNECTS):
        if attempt:
            time.sleep(min(0.25 * 2**attempt, 5.0))  # the gateway may be restarting
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        try:
            with gateway.stream(
                "GET", f"/api/v1/batches/{batch_id}/events", headers=headers, timeout=None
            ) as response:
                for event in parse(response.iter_lines()):
                    last_id = event.id or last_id
                    message = event.json()
                    yield message
                    if message.get("status") in TERMINAL:
                        return
        except (httpx.TransportError, CliError) as exc:
            if isinstance(exc, CliError) and exc.code != Exit.UNREACHABLE:
                raise
        # The stream ended (or dropped) before the terminal event: resume where it was.
    raise CliError(f"lost the progress stream of batch {batch_id} too often", Exit.UNREACHABLE)
