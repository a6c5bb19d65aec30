from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from av_shared.settings import CommonSettings

DEV_JWT_SECRET = "dev-only-secret-change-me-in-production-0123456789"


class GatewaySettings(CommonSettings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(8000, ge=1, le=65535)
    consumer_group: str = "gateway"
    batch_service_url: str = "http://127.0.0.1:8001"
    analysis_service_urls: str = "http://127.0.0.1:8010"  # comma-separated: any instance answers
    internal_http_timeout_seconds: float = Field(30.0, gt=0)
    instant_analysis_timeout_seconds: float = Field(120.0, gt=0)
    max_batch_items: int = Field(100_000, ge=1, le=1_000_000)
    chunk_size: int = Field(100, ge=1, le=100)  # Keepa takes at most 100 ASINs a request
    max_buy_cost: float = Field(10_000.0, gt=0)
    max_request_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    # Auth
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_minutes: int = Field(15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(30, ge=1, le=365)
    # Reconciliation (issue 6): re-publish a batch the batch service has not acknowledged.
    ack_deadline_seconds: float = Field(60.0, gt=0)
    republish_max_backoff_seconds: float = Field(900.0, gt=0)
    reconcile_interval_seconds: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> GatewaySettings:
        secret = self.jwt_secret.get_secret_value()
        if self.environment == "production" and (secret == DEV_JWT_SECRET or len(secret) < 32):
            raise ValueError("JWT_SECRET must be set to a strong secret (>= 32 chars) in production")
        return self

    @property
    def analysis_urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.analysis_service_urls.split(",") if u.strip()]
