from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from av_shared.settings import CommonSettings

DEV_JWT_SECRET = "dev-only-secret-change-me-in-production-0123456789"
MIN_SECRET_CHARS = 32


class InsecureSecret(RuntimeError):
    """The gateway would sign tokens with a secret anyone can look up (or guess)."""


class GatewaySettings(CommonSettings):
    gateway_host: str = Field("127.0.0.1", description="address the public API listens on")
    gateway_port: int = Field(8000, ge=1, le=65535, description="port of the public API")
    consumer_group: str = Field("gateway", description="Kafka consumer group (batch status)")
    batch_service_url: str = Field(
        "http://127.0.0.1:8001", description="internal API of the batch service"
    )
    analysis_service_urls: str = Field(
        "http://127.0.0.1:8010", description="comma-separated analysis instances; any answers"
    )
    internal_http_timeout_seconds: float = Field(
        30.0, gt=0, description="timeout of reads from the owning services"
    )
    instant_analysis_timeout_seconds: float = Field(
        120.0, gt=0, description="how long an instant analysis may wait for market data"
    )
    max_batch_items: int = Field(100_000, ge=1, le=1_000_000, description="lines per batch")
    chunk_size: int = Field(
        100, ge=1, le=100, description="items per chunk event (Keepa takes 100 ASINs a request)"
    )
    max_buy_cost: float = Field(
        10_000.0,
        gt=0,
        le=1_000_000,
        description="highest buy cost of one copy, USD (a higher one is a 422 naming the limit)",
    )
    # What MAX_BATCH_ITEMS lines need: the longest valid line (a 40-character identifier, the
    # highest cost, a condition) is 156 bytes pretty-printed with a 4-space indent, a labelled,
    # hyphenated ISBN-13 is 78 compact and 112 with a 2-space indent. 160 bytes a line:
    # 16,000,000 bytes for 100,000 lines, rounded up to 16 MiB for the name and the strategy.
    max_request_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="largest body of a batch: MAX_BATCH_ITEMS lines of up to 160 bytes (the "
        "longest valid line, pretty-printed, is 156) and room for the rest; raise it "
        "with MAX_BATCH_ITEMS. Other bodies: at most 64 KiB",
    )
    # Auth
    jwt_secret: SecretStr = Field(
        SecretStr(DEV_JWT_SECRET),
        description="signs access tokens; >= 32 chars (the default only with ALLOW_DEV_SECRETS)",
    )
    allow_dev_secrets: bool = Field(
        False,
        description="local development only (`make run` and the tests set it): start with "
        "the development JWT_SECRET; never in production",
    )
    access_token_minutes: int = Field(
        15, ge=1, le=24 * 60, description="lifetime of an access token"
    )
    refresh_token_days: int = Field(
        30,
        ge=1,
        le=365,
        description="lifetime of a refresh token (each refresh renews it, up to SESSION_MAX_DAYS)",
    )
    session_max_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="absolute lifetime of a login: no refresh extends it past "
        "this many days from the sign-in",
    )
    max_api_keys_per_user: int = Field(
        20, ge=1, le=1000, description="live API keys one seller may have"
    )
    # The public port: its operator route and the headers of its answers.
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description="`GET /metrics` needs `Authorization: Bearer <this>` when "
        "set; unset: open in development/test, not served (404) in "
        "production",
    )
    behind_tls: bool = Field(
        False,
        description="the public URL is https (TLS ends at a proxy in front): every answer "
        "has Strict-Transport-Security, as answers over https always have",
    )
    # Rate limits: counted in PostgreSQL, so every gateway instance shares them.
    rate_limit_requests: int = Field(
        1200,
        ge=0,
        description="requests per seller per window, all instances together "
        "(429 beyond); 0 turns the limit off",
    )
    rate_limit_window_seconds: int = Field(
        60, ge=1, le=86_400, description="the rate limit's fixed window (also for sign-in)"
    )
    auth_rate_limit_requests: int = Field(
        300,
        ge=0,
        description="register/token/refresh and password-change requests per client "
        "address per window (slows password guessing); 0 turns it off",
    )
    # Quotas: defaults for every seller; an admin can set other values for one seller.
    default_max_items_per_day: int = Field(
        200_000,
        ge=0,
        description="batch lines and instant analyses per seller per UTC day (429 beyond)",
    )
    default_max_open_batches: int = Field(
        20, ge=0, description="batches per seller not yet COMPLETED/FAILED/CANCELLED (409 beyond)"
    )
    # Reconciliation (issue 6): re-publish a batch the batch service has not acknowledged.
    ack_deadline_seconds: float = Field(
        60.0, gt=0, description="re-publish a batch not acknowledged by the batch service by then"
    )
    republish_max_backoff_seconds: float = Field(
        900.0, gt=0, description="longest wait between re-publications of one batch"
    )
    reconcile_interval_seconds: float = Field(
        5.0, gt=0, description="how often unacknowledged batches are looked for"
    )

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> GatewaySettings:
        secret = self.jwt_secret.get_secret_value()
        if self.environment == "production" and _weak(secret):
            raise ValueError(
                "JWT_SECRET must be set to a strong secret (>= 32 chars) in production"
            )
        return self

    @property
    def analysis_urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.analysis_service_urls.split(",") if u.strip()]


def _weak(secret: str) -> bool:
    return secret == DEV_JWT_SECRET or len(secret) < MIN_SECRET_CHARS


def refuse_dev_secrets(settings: GatewaySettings) -> None:
    """At start-up (not when settings are read: the migrations and the admin command sign
    nothing): the development secret is public, so whoever reads this repository could sign an
    access token for any account of a gateway running with it."""
    if _weak(settings.jwt_secret.get_secret_value()) and not settings.allow_dev_secrets:
        raise InsecureSecret(
            f"JWT_SECRET is the development secret or shorter than {MIN_SECRET_CHARS} "
            "characters: set a strong one (e.g. `openssl rand -base64 48`), or for local "
            "development only set ALLOW_DEV_SECRETS=true"
        )
