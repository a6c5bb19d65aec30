from __future__ import annotations

import uuid
from typing import Literal

from .base import Event


class BatchCancelRequested(Event):
    event_type: Literal["batch.cancel_requested"] = "batch.cancel_requested"
    schema_version: Literal[1] = 1
    batch_id: uuid.UUID
    owner_id: uuid.UUID

    def partition_key(self) -> str:
        return str(self.batch_id)
