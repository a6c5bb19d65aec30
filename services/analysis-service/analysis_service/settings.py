from __future__ import annotations

from pydantic import Field, SecretStr

from av_shared.settings import CommonSettings


class AnalysisServiceSettings(CommonSettings):
    analysis_service_host: str = "127.0.0.1"
    analysis_service_port: int = Field(8010, ge=1, le=65535)
    consumer_group: str = "analysis-service"
    # Keepa: the real client always runs; `make run` points it at the local simulator.
    keepa_api_key: SecretStr = SecretStr("")
    keepa_base_url: str = "https://api.keepa.com"
    keepa_domain: int = Field(1, ge=1, le=12)  # 1 = amazon.com
    # 0: no offers (1 token a product); 20-100: Keepa's offers parameter (costs more tokens)
    keepa_offers: int = Field(0, ge=0, le=100)
    keepa_stats_days: int = Field(180, ge=1, le=3650)
    keepa_timeout_seconds: float = Field(30.0, gt=0)
    keepa_max_retries: int = Field(4, ge=0, le=20)
    keepa_max_token_wait_seconds: float = Field(3600.0, gt=0)
    # Shared token budget: tokens held back for instant analyses (served before batch work).
    keepa_instant_reserve_tokens: int = Field(5, ge=0)
    market_cache_ttl_seconds: float = Field(24 * 3600.0, ge=0)
    market_snapshot_retention_days: int = Field(365, ge=1)
    workers: int = Field(2, ge=1, le=64)  # chunks analysed at once by this process
    chunk_lease_seconds: float = Field(300.0, gt=0)  # a crashed worker's chunk is retaken after
    work_poll_seconds: float = Field(1.0, gt=0)
