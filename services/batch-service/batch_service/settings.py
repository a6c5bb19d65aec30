from __future__ import annotations

from pydantic import Field

from av_shared.settings import CommonSettings


class BatchServiceSettings(CommonSettings):
    batch_service_host: str = Field("127.0.0.1", description="internal API interface")
    batch_service_port: int = Field(8001, ge=1, le=65535, description="internal API port")
    consumer_group: str = Field("batch-service", description="Kafka consumer group")
    chunk_deadline_seconds: float = Field(
        600.0,
        gt=0,
        description="a chunk with no completion (nor still-queued answer) after "
        "this is re-dispatched; doubles each time",
    )
    chunk_max_dispatches: int = Field(
        5, ge=1, description="dispatches before a chunk's items are failed with the reason"
    )
    reconcile_interval_seconds: float = Field(
        5.0, gt=0, description="how often deadlines are checked"
    )
