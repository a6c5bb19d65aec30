"""Keepa's token bucket, refilled continuously and optionally sped up by a time scale."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TokenSnapshot:
    tokens_left: int
    refill_in_ms: int  # real milliseconds until the next whole token
    refill_rate: int  # as reported in the envelope (see TokenBucket.reported_rate)


class TokenBucket:
    """Tokens accrue at `refill_rate` per simulated minute; a simulated minute lasts
    60 / time_scale real seconds. The level is a float so refill is smooth; Keepa
    reports whole tokens, so snapshots floor it."""

    def __init__(
        self,
        *,
        tokens: float,
        refill_rate: int,
        time_scale: float,
        max_tokens: int,
        clock: Callable[[], float],
        report_nominal_rate: bool = False,
    ) -> None:
        self._clock = clock
        self._tokens = float(tokens)
        self._stamp = clock()
        self.refill_rate = refill_rate
        self.time_scale = time_scale
        self.max_tokens = max_tokens
        self.report_nominal_rate = report_nominal_rate

    def _per_second(self) -> float:
        return self.refill_rate * self.time_scale / 60.0

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        if self._tokens < self.max_tokens:
            self._tokens = min(float(self.max_tokens), self._tokens + elapsed * self._per_second())

    def reported_rate(self) -> int:
        # Per real minute by default, so `refillRate` and `refillIn` agree on one clock.
        if self.report_nominal_rate:
            return self.refill_rate
        return round(self.refill_rate * self.time_scale)

    def snapshot(self) -> TokenSnapshot:
        self._refill()
        per_second = self._per_second()
        if per_second <= 0:
            refill_in = 60_000  # nothing will come; say "a minute" like an idle Keepa account
        else:
            missing = 1.0 - (self._tokens - math.floor(self._tokens))
            refill_in = max(1, math.ceil(missing / per_second * 1000))
        return TokenSnapshot(math.floor(self._tokens), refill_in, self.reported_rate())

    def try_consume(self, cost: int, *, allow_negative: bool) -> bool:
        """Take `cost` tokens if the balance allows it; never partially."""
        self._refill()
        affordable = self._tokens > 0 if allow_negative else self._tokens >= cost
        if cost > 0 and not affordable:
            return False
        self._tokens -= cost
        return True

    def set(
        self,
        *,
        tokens: float | None = None,
        refill_rate: int | None = None,
        time_scale: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self._refill()  # settle accrual at the old rate before changing it
        if refill_rate is not None:
            self.refill_rate = refill_rate
        if time_scale is not None:
            self.time_scale = time_scale
        if max_tokens is not None:
            self.max_tokens = max_tokens
        if tokens is not None:
            self._tokens = float(tokens)
