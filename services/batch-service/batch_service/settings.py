from __future__ import annotations

from pydantic import Field

from av_shared.settings import CommonSettings


class BatchServiceSettings(CommonSettings):
    batch_service_host: str = "127.0.0.1"
    batch_service_port: int = Field(8001, ge=1, le=65535)
    consumer_group: str = "batch-service"
    # Reconciliation (issue 6): a chunk with no completion after this is re-dispatched.
    chunk_deadline_seconds: float = Field(600.0, gt=0)
    chunk_max_dispatches: int = Field(5, ge=1)
    reconcile_interval_seconds: float = Field(5.0, gt=0)
