"""The AsyncAPI document of every event, generated from the pydantic contracts with FastStream.

`python -m av_shared.asyncapi` prints it (`make asyncapi` writes docs/asyncapi.json); the gateway
serves it at /asyncapi.json (and an HTML view at /asyncapi).
"""

from __future__ import annotations

import functools
import json
import operator
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from .events import (
    BatchAcknowledged,
    BatchCancelRequested,
    BatchChunkSubmitted,
    BatchProgressed,
    BatchStatusChanged,
    BatchSubmitted,
    ChunkAnalysed,
    ChunkRedispatched,
    ChunkStillQueued,
)
from .topics import BATCH_COMMANDS, BATCH_STATUS, BATCH_SUBMISSIONS, CHUNK_DISPATCH, CHUNK_RESULTS

# topic -> (event types on it, consumer groups reading it)
CHANNELS: dict[str, tuple[tuple[type[Any], ...], tuple[str, ...]]] = {
    BATCH_SUBMISSIONS.name: (
        (BatchSubmitted, BatchChunkSubmitted),
        ("batch-service", "analysis-service"),
    ),
    BATCH_COMMANDS.name: ((BatchCancelRequested,), ("batch-service",)),
    # BatchProgressed is also read by every gateway instance without a group (its streams).
    BATCH_STATUS.name: (
        (BatchAcknowledged, BatchStatusChanged, BatchProgressed),
        ("gateway", "analysis-service"),
    ),
    CHUNK_DISPATCH.name: ((ChunkRedispatched,), ("analysis-service",)),
    CHUNK_RESULTS.name: ((ChunkAnalysed, ChunkStillQueued), ("batch-service",)),
}


def build_specification() -> Any:
    broker = KafkaBroker("kafka:9092")
    for topic, (event_types, groups) in CHANNELS.items():
        for event_type in event_types:
            publisher = broker.publisher(
                topic,
                title=f"{topic}:publish:{event_type.__name__}",
                schema=event_type,
                description=(event_type.__doc__ or "").strip() or None,
            )
            _ = publisher
        for group in groups:

            def handler(event: Any) -> None:  # documentation only: never run
                return None

            handler.__annotations__["event"] = functools.reduce(operator.or_, event_types)
            broker.subscriber(topic, group_id=group, title=f"{topic}:{group}")(handler)
    spec = AsyncAPI(
        broker,
        title="ArbitrageVault events",
        version="1.0.0",
        description="Every event between the gateway, batch and analysis services.",
        schema_version="3.0.0",
    )
    return spec.to_specification()


def build_document() -> dict[str, Any]:
    return json.loads(build_specification().to_json())  # type: ignore[no-any-return]


def build_html() -> str:
    from faststream.specification.asyncapi.site import get_asyncapi_html

    return get_asyncapi_html(build_specification())


if __name__ == "__main__":
    print(json.dumps(build_document(), indent=2))
