"""A seller's list becomes a batch header and chunks of at most `chunk_size` items. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from av_shared.events import BatchChunkSubmitted, BatchSubmitted, BusinessConfigSnapshot, ChunkItem


@dataclass(frozen=True)
class SubmissionEvents:
    header: BatchSubmitted
    chunks: tuple[BatchChunkSubmitted, ...]


def chunk_count(items_total: int, chunk_size: int) -> int:
    return max(1, -(-items_total // chunk_size))


def build_submission(
    *,
    batch_id: uuid.UUID,
    owner_id: uuid.UUID,
    name: str,
    items: Sequence[ChunkItem],
    config: BusinessConfigSnapshot,
    chunk_size: int,
    submitted_at: datetime,
    correlation_id: str,
) -> SubmissionEvents:
    count = chunk_count(len(items), chunk_size)
    header = BatchSubmitted(
        batch_id=batch_id,
        owner_id=owner_id,
        name=name,
        items_total=len(items),
        chunk_count=count,
        submitted_at=submitted_at,
        config=config,
        correlation_id=correlation_id,
    )
    chunks = tuple(
        BatchChunkSubmitted(
            batch_id=batch_id,
            owner_id=owner_id,
            chunk_no=n,
            chunk_count=count,
            items=tuple(items[n * chunk_size : (n + 1) * chunk_size]),
            config=config,
            correlation_id=correlation_id,
        )
        for n in range(count)
    )
    return SubmissionEvents(header, chunks)
