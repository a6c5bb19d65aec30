from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from av_shared.settings import CommonSettings

SIMULATOR_KEY = "local-simulator-key"  # any non-empty key: the simulator checks none


class AnalysisServiceSettings(CommonSettings):
    analysis_service_host: str = Field("127.0.0.1", description="internal API interface")
    analysis_service_port: int = Field(8010, ge=1, le=65535, description="internal API port")
    consumer_group: str = Field("analysis-service", description="Kafka consumer group")
    keepa_api_key: SecretStr = Field(
        SecretStr(""), description="Keepa key; `make run` without one uses the local simulator"
    )
    keepa_base_url: str = Field("https://api.keepa.com", description="Keepa API base URL")
    keepa_simulator_url: str = Field(
        "",
        description="a local Keepa-compatible server, used only while KEEPA_API_KEY is empty "
        "(so a real key is never sent to it)",
    )
    keepa_domain: int = Field(1, ge=1, le=12, description="Keepa marketplace (1 = amazon.com)")
    keepa_offers: int = Field(
        0,
        ge=0,
        le=100,
        description="0: no offers (1 token a product); 20-100: Keepa's offers "
        "parameter (6 tokens per 10 offers)",
    )
    keepa_stats_days: int = Field(180, ge=1, le=3650, description="Keepa `stats` window")
    keepa_timeout_seconds: float = Field(30.0, gt=0, description="read timeout of a Keepa call")
    keepa_max_retries: int = Field(
        4, ge=0, le=20, description="retries on 5xx/timeouts (exponential backoff, jitter)"
    )
    keepa_max_token_wait_seconds: float = Field(
        3600.0, gt=0, description="longest wait for tokens after a 429 before items fail"
    )
    keepa_charge_latency_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="allowance from reserving tokens to Keepa charging them: "
        "refill a full bucket cannot hold meanwhile is not counted",
    )
    keepa_instant_reserve_tokens: int = Field(
        5, ge=0, description="tokens batch work leaves for instant analyses"
    )
    market_cache_ttl_seconds: float = Field(
        24 * 3600.0, ge=0, description="a stored snapshot younger than this is reused (no token)"
    )
    market_snapshot_retention_days: int = Field(
        365, ge=1, description="snapshots kept for price/rank history"
    )
    workers: int = Field(2, ge=1, le=64, description="chunks analysed at once by one process")
    chunk_lease_seconds: float = Field(
        15.0,
        gt=0,
        description="a process renews the leases of its chunks every third of this "
        "(a heartbeat): a dead one's chunks are taken again within it",
    )
    keepa_owner_daily_tokens: int | None = Field(
        None,
        ge=0,
        description="Keepa tokens one seller's batches may spend in a rolling day before the "
        "other sellers' work goes first (it still runs when nobody else waits); unset: half of "
        "what the plan refills in a day",
    )
    work_poll_seconds: float = Field(
        1.0, gt=0, description="workers' fallback poll; they wake on NOTIFY at once"
    )

    @field_validator("keepa_offers")
    @classmethod
    def _keepa_offers_range(cls, offers: int) -> int:
        if offers and not 20 <= offers <= 100:
            raise ValueError("KEEPA_OFFERS is 0 (no offers) or 20 to 100, as Keepa requires")
        return offers

    @property
    def keepa_endpoint(self) -> tuple[str, str]:
        """(base URL, key) the service calls: the simulator only when no key is set."""
        key = self.keepa_api_key.get_secret_value()
        if not key and self.keepa_simulator_url:
            return self.keepa_simulator_url, SIMULATOR_KEY
        return self.keepa_base_url, key

    @property
    def uses_real_keepa(self) -> bool:
        """The Keepa API itself, not a local simulator (whose made-up products are marked)."""
        return (urlsplit(self.keepa_endpoint[0]).hostname or "").endswith("keepa.com")
