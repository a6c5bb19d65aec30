from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import Event


class ItemFailure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_no: int = Field(ge=0)
    reason: str = Field(max_length=500)


class ChunkAnalysed(Event):
    """Every item of a chunk has a stored analysis or failure (or its batch was cancelled)."""

    event_type: Literal["analysis.chunk_analysed"] = "analysis.chunk_analysed"
    schema_version: Literal[1] = 1
    batch_id: uuid.UUID
    owner_id: uuid.UUID
    chunk_no: int = Field(ge=0)
    items_succeeded: int = Field(ge=0)
    items_failed: int = Field(ge=0)
    failures: tuple[ItemFailure, ...] = ()
    skipped_because_cancelled: bool = False

    def partition_key(self) -> str:
        return str(self.batch_id)
