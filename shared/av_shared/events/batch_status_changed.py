from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import Event

BatchStatus = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


class BatchStatusChanged(Event):
    event_type: Literal["batch.status_changed"] = "batch.status_changed"
    schema_version: Literal[1] = 1
    batch_id: uuid.UUID
    owner_id: uuid.UUID
    status: BatchStatus
    previous_status: BatchStatus | None
    items_total: int = Field(ge=0)
    items_processed: int = Field(ge=0)
    items_failed: int = Field(ge=0)
    finished_at: datetime | None = None

    def partition_key(self) -> str:
        return str(self.batch_id)
