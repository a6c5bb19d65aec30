"""Settings every service shares. Each service extends `CommonSettings` with its own fields."""

from __future__ import annotations

import socket
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/arbitragevault"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEV_DATABASE_URL
    database_pool_size: int = Field(10, ge=1, le=200)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # aiokafka's idempotent producer needs InitProducerId v1+; Tansu only speaks v0.
    kafka_enable_idempotence: bool = False
    kafka_partitions: int = Field(12, ge=1, le=1000)
    log_level: str = "INFO"
    log_json: bool = True
    instance_id: str = Field(default_factory=socket.gethostname)
    # Consumers: attempts on a failing event before it goes to the dead-letter topic.
    consumer_max_attempts: int = Field(5, ge=1, le=100)
    consumer_retry_base_seconds: float = Field(0.2, gt=0)
    consumer_retry_max_seconds: float = Field(30.0, gt=0)
    outbox_poll_seconds: float = Field(1.0, gt=0)
    outbox_batch_size: int = Field(500, ge=1, le=10_000)
    shutdown_grace_seconds: float = Field(20.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _use_asyncpg(cls, url: str) -> str:
        # Accept plain postgresql:// URLs (what operators paste) and use the asyncpg driver.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url
