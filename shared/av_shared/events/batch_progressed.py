from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from .base import Event
from .batch_status_changed import BatchStatus


class BatchProgressed(Event):
    """Where a batch stands, for live progress streams: published by the batch service at every
    status change and, while it runs, at most once a second per batch as its lines are analysed
    (`status_changed` false). The gateway fans these out to its open streams."""

    event_type: Literal["batch.progressed"] = "batch.progressed"
    schema_version: Literal[1] = 1
    batch_id: uuid.UUID
    owner_id: uuid.UUID
    status: BatchStatus
    status_changed: bool = Field(description="this event announces a new status")
    items_total: int = Field(ge=0)
    items_processed: int = Field(ge=0)
    items_failed: int = Field(ge=0)
    eta_seconds: float | None = Field(
        None, ge=0, description="seconds to completion at the batch's rate so far (None: unknown)"
    )

    def partition_key(self) -> str:
        # The batch's own key: on the partition of its BatchStatusChanged, in the same order.
        return str(self.batch_id)
