from __future__ import annotations

from av_shared.settings import CommonSettings
from pydantic import Field, SecretStr, model_validator

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
    # Comma-separated emails that get the admin role when they register (bootstrap the first
    # admin); `python -m gateway.admin promote EMAIL` promotes an existing account instead.
    admin_emails: str = ""
    max_api_keys_per_user: int = Field(20, ge=1, le=1000)
    # Rate limit: requests per user per fixed window, counted in PostgreSQL so that every
    # gateway instance shares it. 0 turns it off.
    rate_limit_requests: int = Field(1200, ge=0)
    rate_limit_window_seconds: int = Field(60, ge=1, le=86_400)
    # The same window for register/token/refresh, per client IP (slows password guessing).
    auth_rate_limit_requests: int = Field(300, ge=0)
    # Quotas; an admin can set other values for one user. Items count batch lines and instant
    # analyses per UTC day; open batches are those not COMPLETED, FAILED or CANCELLED yet.
    default_max_items_per_day: int = Field(200_000, ge=0)
    default_max_open_batches: int = Field(20, ge=0)
    # Reconciliation (issue 6): re-publish a batch the batch service has not acknowledged.
    ack_deadline_seconds: float = Field(60.0, gt=0)
    republish_max_backoff_seconds: float = Field(900.0, gt=0)
    reconcile_interval_seconds: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> GatewaySettings:
        secret = self.jwt_secret.get_secret_value()
        if self.environment == "production" and (secret == DEV_JWT_SECRET or len(secret) < 32):
            raise ValueError(
                "JWT_SECRET must be set to a strong secret (>= 32 chars) in production")
        return self

    @property
    def admin_email_set(self) -> frozenset[str]:
        return frozenset(e.strip().lower() for e in self.admin_emails.split(",") if e.strip())

    @property
    def analysis_urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.analysis_service_urls.split(",") if u.strip()]
