from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from .base import Event
from .business_config import BusinessConfigSnapshot
from .chunk_item import ChunkItem


class ChunkRedispatched(Event):
    """The batch service sends a chunk again when no completion came before its deadline."""

    event_type: Literal["batch.chunk_redispatched"] = "batch.chunk_redispatched"
    schema_version: Literal[1] = 1
    batch_id: uuid.UUID
    owner_id: uuid.UUID
    chunk_no: int = Field(ge=0)
    chunk_count: int = Field(ge=1)
    attempt: int = Field(ge=1)
    items: tuple[ChunkItem, ...] = Field(min_length=1, max_length=100)
    config: BusinessConfigSnapshot

    def partition_key(self) -> str:
        return f"{self.batch_id}:{self.chunk_no}"
