"""`submit --watch`: a batch's live progress. On a terminal, a Rich progress bar (lines done,
failures, the gateway's ETA); otherwise (a log, a pipe) one plain line per state change and at
most one per second of progress, so CI logs show what happened."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from . import render
from .api import Gateway
from .sse import follow

PLAIN_LINE_EVERY_SECONDS = 1.0


def watch(gateway: Gateway, batch_id: str, console: Console) -> dict[str, Any]:
    """Follow the batch to its terminal event; that last message is returned."""
    if console.is_terminal:
        return _bar(gateway, batch_id, console)
    return _lines(gateway, batch_id, console)


def _bar(gateway: Gateway, batch_id: str, console: Console) -> dict[str, Any]:
    columns = (
        TextColumn("{task.fields[status]:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("lines  [red]{task.fields[failed]} failed[/red]  ETA {task.fields[eta]}"),
    )
    last: dict[str, Any] = {}
    with Progress(*columns, console=console) as progress:
        task: TaskID = progress.add_task("batch", total=None, status="…", failed=0, eta="—")
        for message in follow(gateway, batch_id):
            last = message
            progress.update(
                task,
                total=message.get("items_total") or None,
                completed=message.get("items_processed", 0),
                status=message.get("status", "?"),
                failed=f"{message.get('items_failed', 0):,}",
                eta=render.eta(message.get("eta_seconds")),
            )
    return last


def _lines(gateway: Gateway, batch_id: str, console: Console) -> dict[str, Any]:
    last: dict[str, Any] = {}
    printed_at = 0.0
    for message in follow(gateway, batch_id):
        changed = message.get("status") != last.get("status")
        last = message
        now = time.monotonic()
        if changed or now - printed_at >= PLAIN_LINE_EVERY_SECONDS:
            printed_at = now
            console.print(_line(message), highlight=False)
    return last


def _line(message: dict[str, Any]) -> str:
    return (
        f"{message.get('status')}: {message.get('items_processed', 0):,} of "
        f"{message.get('items_total', 0):,} lines done, {message.get('items_failed', 0):,} failed, "
        f"ETA {render.eta(message.get('eta_seconds'))}"
    )
