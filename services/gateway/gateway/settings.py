from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from av_shared.settings import CommonSettings

DEV_JWT_SECRET = "dev-only-secret-change-me-in-production-0123456789"
MIN_SECRET_CHARS = 32
PRODUCTION_NEW_ACCOUNT_ITEMS = 1_000


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
    rate_limit_flush_seconds: float = Field(
        0.1,
        ge=0,
        le=5,
        description="a seller's requests far from their limit are decided by each instance and "
        "added to the shared count at most this often; the last max(50, 10%) of a window's "
        "requests are counted one statement each (0: every request waits for its statement)",
    )
    auth_rate_limit_requests: int = Field(
        300,
        ge=0,
        description="register/token/refresh and password-change requests per client "
        "address per window (slows password guessing); 0 turns it off",
    )
    sign_in_free_failures: int = Field(
        5, ge=1, description="wrong passwords in a row for one email before it is locked"
    )
    sign_in_lock_base_seconds: float = Field(
        1.0, gt=0, description="the first lock; each further wrong password doubles it"
    )
    sign_in_lock_max_seconds: float = Field(
        900.0, gt=0, description="the longest lock one more wrong password earns"
    )
    password_hash_concurrency: int = Field(
        2, ge=1, description="password hashes computed at once (argon2: ~50-250 ms of a core)"
    )
    password_hash_queue: int = Field(
        64, ge=0, description="sign-ins waiting for a hash beyond these are answered 503 at once"
    )
    registration_mode: Literal["open", "invite", "closed"] | None = Field(
        None,
        description="who may register: anyone (open), holders of an admin's invite code "
        "(invite), nobody (closed); unset: open in development and test, invite in production",
    )
    invite_days: int = Field(7, ge=1, le=365, description="an invite code's lifetime")
    new_account_max_items_per_day: int | None = Field(
        None,
        ge=0,
        description="the daily quota of an account registered without an invite naming one, "
        "until an admin raises it (free accounts cannot drain the Keepa budget); unset: "
        f"{PRODUCTION_NEW_ACCOUNT_ITEMS:,} in production, the default quota elsewhere",
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
    # Live progress streams (gateway.streams).
    stream_ticket_seconds: float = Field(
        60.0, gt=0, le=3600, description="lifetime of a single-use stream ticket"
    )
    stream_heartbeat_seconds: float = Field(
        15.0, gt=0, description="an open progress stream sends a keepalive comment this often"
    )
    # Webhooks (gateway.webhooks) and the scheduler of watchlists and schedules.
    webhook_allow_private_targets: bool = Field(
        False,
        description="webhooks may target loopback/private/link-local addresses and http:// "
        "(local development and tests); cloud metadata addresses are refused even then",
    )
    max_webhooks_per_user: int = Field(
        10, ge=1, le=1000, description="webhooks one seller may have"
    )
    webhook_poll_seconds: float = Field(
        1.0, gt=0, description="how often due webhook deliveries are looked for"
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="how long one delivery attempt may take"
    )
    webhook_retry_base_seconds: float = Field(
        30.0, gt=0, description="wait after a failed attempt; doubles with each further failure"
    )
    webhook_retry_max_seconds: float = Field(
        3600.0, gt=0, description="longest wait between two attempts of a delivery"
    )
    webhook_retry_for_seconds: float = Field(
        86_400.0, gt=0, description="a delivery not accepted this long after it was created fails"
    )
    scheduler_tick_seconds: float = Field(
        30.0, gt=0, description="how often the scheduler looks for due watchlists and schedules"
    )
    min_schedule_interval_minutes: int = Field(
        60, ge=1, description="shortest interval of a watchlist or schedule (hourly at most)"
    )
    # The optional written summary of a batch's insights (gateway.adapters.narrative).
    insights_llm_base_url: str = Field(
        "",
        description="an OpenAI-compatible API (e.g. https://api.openai.com/v1 or a local "
        "server's /v1) that writes each finished batch's insights as a short summary; unset: "
        "figures only",
    )
    insights_llm_api_key: SecretStr = Field(
        SecretStr(""), description="the key of INSIGHTS_LLM_BASE_URL (sent only there)"
    )
    insights_llm_model: str = Field("", description="the model that writes the summary")
    insights_llm_timeout_seconds: float = Field(
        20.0, gt=0, le=300, description="longest wait for the summary; past it, figures only"
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
    def effective_registration_mode(self) -> Literal["open", "invite", "closed"]:
        if self.registration_mode is not None:
            return self.registration_mode
        return "invite" if self.environment == "production" else "open"

    @property
    def effective_new_account_items(self) -> int | None:
        """The quota written on a new account (None: it follows the default quota)."""
        if self.new_account_max_items_per_day is not None:
            return self.new_account_max_items_per_day
        return PRODUCTION_NEW_ACCOUNT_ITEMS if self.environment == "production" else None

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
