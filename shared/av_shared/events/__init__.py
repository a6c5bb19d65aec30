"""Event contracts: one event type per module, parsed by `parse_event` from a Kafka value."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from .base import Event, utc_now
from .batch_acknowledged import BatchAcknowledged
from .batch_cancel_requested import BatchCancelRequested
from .batch_chunk_submitted import BatchChunkSubmitted
from .batch_progressed import BatchProgressed
from .batch_status_changed import TERMINAL_STATUSES, BatchStatus, BatchStatusChanged
from .batch_submitted import BatchSubmitted
from .business_config import (
    STRATEGY_PRESETS,
    BusinessConfigSnapshot,
    SellerCosts,
    StrategyName,
    StrategyThresholds,
)
from .chunk_analysed import ChunkAnalysed, ItemFailure
from .chunk_item import ChunkItem, Condition
from .chunk_redispatched import ChunkRedispatched
from .chunk_still_queued import ChunkStillQueued

AnyEvent = Annotated[
    BatchSubmitted
    | BatchChunkSubmitted
    | BatchCancelRequested
    | BatchAcknowledged
    | BatchStatusChanged
    | BatchProgressed
    | ChunkRedispatched
    | ChunkAnalysed
    | ChunkStillQueued,
    Field(discriminator="event_type"),
]
_any_event: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> AnyEvent:
    """Raises pydantic.ValidationError for malformed payloads, unknown types or versions."""
    return _any_event.validate_json(raw)


def serialize_event(event: Event) -> bytes:
    return event.model_dump_json().encode()


__all__ = [
    "STRATEGY_PRESETS",
    "TERMINAL_STATUSES",
    "AnyEvent",
    "BatchAcknowledged",
    "BatchCancelRequested",
    "BatchChunkSubmitted",
    "BatchProgressed",
    "BatchStatus",
    "BatchStatusChanged",
    "BatchSubmitted",
    "BusinessConfigSnapshot",
    "ChunkAnalysed",
    "ChunkItem",
    "ChunkRedispatched",
    "ChunkStillQueued",
    "Condition",
    "Event",
    "ItemFailure",
    "SellerCosts",
    "StrategyName",
    "StrategyThresholds",
    "parse_event",
    "serialize_event",
    "utc_now",
]
