"""The envelope fields every event carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event. Subclasses fix `event_type` and `schema_version` with Literals."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=utc_now)
    # Follows one batch (or one instant analysis) through every service's logs.
    correlation_id: str

    def partition_key(self) -> str:
        """The Kafka key: events of one aggregate keep their order on one partition."""
        raise NotImplementedError
