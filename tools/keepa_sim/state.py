"""Mutable simulator state: the token bucket, the request log and injected faults."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from keepa_sim.bucket import TokenBucket
from keepa_sim.config import SimConfig


@dataclass
class Fault:
    status: int | None  # respond with this HTTP status instead of serving the request
    delay_ms: int  # wait this long first (for client timeout tests)
    remaining: int

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "delay_ms": self.delay_ms, "count": self.remaining}


@dataclass
class SimState:
    config: SimConfig
    bucket: TokenBucket = field(init=False)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    # Bumped by reset(): a request still sleeping in an injected delay from before the reset
    # must not charge or log into the fresh state (its client has usually timed out anyway).
    epoch: int = 0
    # ASIN -> factor on every price of a synthetic book (set by POST /_sim/prices): a book's
    # market moves while the system runs (watchlist tests).
    price_factors: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bucket = self._fresh_bucket()

    def _fresh_bucket(self) -> TokenBucket:
        cfg = self.config
        return TokenBucket(
            tokens=cfg.effective_initial_tokens(),
            refill_rate=cfg.refill_rate,
            time_scale=cfg.time_scale,
            max_tokens=cfg.effective_max_tokens(),
            clock=cfg.clock,
            report_nominal_rate=cfg.report_nominal_rate,
        )

    def reset(self) -> None:
        """Back to the startup configuration: full bucket, empty log, no faults."""
        self.bucket = self._fresh_bucket()
        self.requests.clear()
        self.faults.clear()
        self.price_factors.clear()
        self.epoch += 1

    def next_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.faults.popleft()
        return Fault(fault.status, fault.delay_ms, 1)

    def record(self, **entry: Any) -> None:
        self.requests.append({"at": self.config.clock(), **entry})
