from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from .base import Event
from .business_config import BusinessConfigSnapshot
from .chunk_item import ChunkItem


class BatchChunkSubmitted(Event):
    """Up to 100 items of a batch with all the analysis needs: any chunk can run alone."""

    event_type: Literal["batch.chunk_submitted"] = "batch.chunk_submitted"
    schema_version: Literal[1] = 1
    batch_id: uuid.UUID
    owner_id: uuid.UUID
    chunk_no: int = Field(ge=0)
    chunk_count: int = Field(ge=1)
    items: tuple[ChunkItem, ...] = Field(min_length=1, max_length=100)
    config: BusinessConfigSnapshot

    def partition_key(self) -> str:
        # Chunks of one batch spread over partitions so consumers share a big batch.
        return f"{self.batch_id}:{self.chunk_no}"
