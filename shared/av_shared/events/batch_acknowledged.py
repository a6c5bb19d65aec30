from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from .base import Event


class BatchAcknowledged(Event):
    """The batch service holds the header and every chunk: the gateway stops re-publishing."""

    event_type: Literal["batch.acknowledged"] = "batch.acknowledged"
    schema_version: Literal[1] = 1
    batch_id: uuid.UUID
    owner_id: uuid.UUID
    chunks_received: int = Field(ge=0)

    def partition_key(self) -> str:
        return str(self.batch_id)
