from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class BatchView(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    status: str
    items_total: int
    items_processed: int
    items_failed: int
    chunk_count: int
    chunks_done: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    config: dict[str, Any] | None
