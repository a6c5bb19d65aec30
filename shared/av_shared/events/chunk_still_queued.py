from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from .base import Event


class ChunkStillQueued(Event):
    """Answer to a re-dispatch: the analysis service holds the chunk (e.g. waiting for Keepa
    tokens). The batch service then extends the chunk's deadline instead of counting a loss."""

    event_type: Literal["analysis.chunk_still_queued"] = "analysis.chunk_still_queued"
    schema_version: Literal[1] = 1
    batch_id: uuid.UUID
    owner_id: uuid.UUID
    chunk_no: int = Field(ge=0)

    def partition_key(self) -> str:
        return str(self.batch_id)
