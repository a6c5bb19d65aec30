"""Every Kafka topic of the system, in one place, with its owner (the one service writing it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    owner: str
    purpose: str
    partitions: int | None = None  # None: the configured default partition count
    configs: tuple[tuple[str, str], ...] = ()  # topic configs at creation


BATCH_SUBMISSIONS = TopicSpec(
    "av.batch.submissions",
    owner="gateway",
    purpose="BatchSubmitted headers and BatchChunkSubmitted work (<=100 items each)",
)
BATCH_COMMANDS = TopicSpec(
    "av.batch.commands", owner="gateway", purpose="BatchCancelRequested from sellers"
)
BATCH_STATUS = TopicSpec(
    "av.batch.status",
    owner="batch-service",
    purpose="BatchAcknowledged, BatchStatusChanged (PROCESSING, COMPLETED, CANCELLED...) and "
    "BatchProgressed (live progress, at most once a second per batch)",
)
CHUNK_DISPATCH = TopicSpec(
    "av.batch.chunk-dispatch",
    owner="batch-service",
    purpose="ChunkRedispatched: a chunk with no completion after its deadline, sent again",
)
CHUNK_RESULTS = TopicSpec(
    "av.analysis.chunk-results", owner="analysis-service", purpose="ChunkAnalysed completions"
)
DEAD_LETTERS = TopicSpec(
    "av.dead-letters",
    owner="every consumer",
    purpose="events a consumer could not process after its retries, with the error",
    partitions=3,
)

BROKER_EPOCH = TopicSpec(
    "av.broker-epoch",
    owner="every service",
    purpose="one record: the broker's epoch; another one means the broker lost its log "
    "(see av_shared.broker_epoch)",
    partitions=1,
    configs=(("retention.ms", "-1"), ("retention.bytes", "-1")),
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    BATCH_SUBMISSIONS,
    BATCH_COMMANDS,
    BATCH_STATUS,
    CHUNK_DISPATCH,
    CHUNK_RESULTS,
    DEAD_LETTERS,
    BROKER_EPOCH,
)
