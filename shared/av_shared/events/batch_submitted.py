from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import Event
from .business_config import BusinessConfigSnapshot


class BatchSubmitted(Event):
    """Header of an accepted batch; its items travel in BatchChunkSubmitted events."""

    event_type: Literal["batch.submitted"] = "batch.submitted"
    schema_version: Literal[1] = 1
    batch_id: uuid.UUID
    owner_id: uuid.UUID
    name: str = Field(max_length=200)
    items_total: int = Field(ge=1)
    chunk_count: int = Field(ge=1)
    submitted_at: datetime
    config: BusinessConfigSnapshot

    def partition_key(self) -> str:
        return str(self.batch_id)
