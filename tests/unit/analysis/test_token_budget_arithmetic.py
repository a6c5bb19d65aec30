"""The token budget's arithmetic (the shared bucket itself is exercised end to end in
tests/e2e/test_keepa_budget.py)."""

from __future__ import annotations

import pytest

from analysis_service.adapters.token_budget import charged, refilled, seconds_until

RATE = 5400.0  # tokens per minute: 90 a second
CAP = 360.0


def _keepa_after(tokens: float, cost: int, latency: float, then: float) -> float:
    """What Keepa holds `then` seconds after the reservation, its charge landing at `latency`."""
    at_arrival = refilled(tokens, RATE, CAP, latency) - cost
    return refilled(at_arrival, RATE, CAP, then - latency)


@pytest.mark.parametrize("tokens", [CAP, CAP - 10, CAP - 45, 200.0, 100.0])
@pytest.mark.parametrize("latency", [0.0, 0.1, 0.5, 1.0])
def test_the_estimate_never_exceeds_keepa_when_the_charge_lands_within_the_allowance(
    tokens: float, latency: float
) -> None:
    estimate = charged(tokens, 100, RATE, CAP, latency_seconds=1.0)
    for then in (latency, latency + 0.2, 2.0, 5.0):
        keepa = _keepa_after(tokens, 100, latency, then)
        assert refilled(estimate, RATE, CAP, then) <= keepa + 1e-9


def test_a_full_bucket_loses_the_refill_of_the_latency() -> None:
    # Counting from the reservation, the estimate would run 90 tokens ahead of Keepa, whose
    # bucket stays full until the request arrives a second later.
    assert charged(CAP, 100, RATE, CAP, latency_seconds=1.0) == pytest.approx(CAP - 100 - 90)
    assert refilled(CAP - 100, RATE, CAP, 1.0) > _keepa_after(CAP, 100, 1.0, 1.0)


def test_far_below_the_cap_a_charge_is_just_its_cost() -> None:
    assert charged(100.0, 40, RATE, CAP, latency_seconds=1.0) == pytest.approx(60.0)
    assert charged(CAP, 40, RATE, CAP, latency_seconds=0.0) == pytest.approx(CAP - 40)


def test_waiting_time_for_a_refill() -> None:
    assert seconds_until(100, 10.0, RATE) == pytest.approx(1.0)
    assert seconds_until(100, 150.0, RATE) == 0.0
