"""Settings every service shares. Each service extends `CommonSettings` with its own fields;
every field reads the environment variable of its name in capitals (README lists them all)."""

from __future__ import annotations

import socket
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .internal_auth import DEV_INTERNAL_SECRET

DEV_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/arbitragevault"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", description="`production` refuses unsafe defaults (e.g. the JWT secret)"
    )
    database_url: str = Field(
        DEV_DATABASE_URL, description="PostgreSQL URL with the service's own role"
    )
    database_pool_size: int = Field(10, ge=1, le=200, description="connections kept per process")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="broker addresses")
    kafka_enable_idempotence: bool = Field(
        False,
        description="idempotent producer: `true` on real Kafka (Tansu lacks InitProducerId v1)",
    )
    kafka_session_timeout_ms: int = Field(
        10_000,
        ge=1_000,
        le=300_000,
        description="consumer group session: a member silent this long is dropped (heartbeats "
        "every third of it); Tansu also makes a joining member wait about half of it",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="how every Kafka client connects (see av_shared.kafka_security)"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism (with SASL_PLAINTEXT/SASL_SSL)"
    )
    kafka_sasl_username: str = Field("", description="SASL user of this service")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="SASL password")
    kafka_ssl_cafile: str = Field(
        "",
        description="CA bundle the broker's certificate is checked against (SSL/SASL_SSL); "
        "empty: the system's CAs",
    )
    kafka_partitions: int = Field(
        12, ge=1, le=1000, description="partitions of topics the services create (consumer scale)"
    )
    kafka_replication_factor: int = Field(
        1,
        ge=1,
        le=10,
        description="replicas of topics the services create: 1 for the local "
        "broker, 3 on a real cluster",
    )
    forwarded_allow_ips: str = Field(
        "",
        description="proxies whose X-Forwarded-For/-Proto name the client (comma-separated "
        "addresses or networks, `*` for any); empty: none, the client is the peer of the socket",
    )
    reuse_port: bool = Field(
        False,
        description="listen with SO_REUSEPORT: several processes of a service share one port, "
        "the kernel spreads connections over them (scaling out on one machine without a balancer)",
    )
    otel_exporter_otlp_endpoint: str = Field(
        "",
        description="OpenTelemetry collector (OTLP/HTTP) base URL, e.g. `http://otel-collector:4318`:"
        " spans go to its /v1/traces; empty: tracing off",
    )
    otel_service_name: str = Field(
        "", description="service.name of this process's spans; empty: the service's name"
    )
    log_level: str = Field("INFO", description="Python log level")
    log_json: bool = Field(True, description="one JSON object per log line (with correlation_id)")
    instance_id: str = Field(
        default_factory=socket.gethostname,
        description="names this process in logs, leases and results",
    )
    consumer_max_attempts: int = Field(
        5, ge=1, le=100, description="tries of a failing event before it is dead-lettered"
    )
    consumer_retry_base_seconds: float = Field(
        0.2, gt=0, description="first retry delay (exponential backoff with jitter)"
    )
    consumer_retry_max_seconds: float = Field(30.0, gt=0, description="longest retry delay")
    outbox_poll_seconds: float = Field(
        1.0, gt=0, description="relay's fallback poll; it wakes on NOTIFY at once"
    )
    outbox_batch_size: int = Field(500, ge=1, le=10_000, description="outbox rows per publish")
    consumer_stall_seconds: float = Field(
        60.0,
        gt=0,
        description="a consumer that holds waiting records and makes no progress "
        "for this long (its handler not busy) is replaced by a new one that rejoins the group",
    )
    shutdown_grace_seconds: float = Field(
        20.0, ge=0, description="SIGTERM: time to finish in-flight work before exiting"
    )
    internal_auth_secret: SecretStr = Field(
        SecretStr(DEV_INTERNAL_SECRET),
        description="signs the gateway's short-lived service tokens for the internal APIs (the "
        "same value in every service); >= 32 chars, required in production",
    )

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> CommonSettings:
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with "
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
            )
        return self

    @model_validator(mode="after")
    def _no_default_internal_secret_in_production(self) -> CommonSettings:
        secret = self.internal_auth_secret.get_secret_value()
        if self.environment == "production" and (secret == DEV_INTERNAL_SECRET or len(secret) < 32):
            raise ValueError(
                "INTERNAL_AUTH_SECRET must be set to a strong secret (>= 32 chars) in production"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _use_asyncpg(cls, url: str) -> str:
        # Accept plain postgresql:// URLs (what operators paste) and use the asyncpg driver.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url
