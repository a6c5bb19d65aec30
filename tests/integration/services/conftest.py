"""Integration tests per service (see harness.py): each module starts PostgreSQL, Tansu, the Keepa
simulator and one service as its own process, and drives it only through its topics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.services.harness import ServiceHarness


@pytest.fixture(autouse=True)
async def _service_stays_healthy(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After every test of a module with a `harness`: no crash, no dead letter."""
    yield
    if "harness" in request.fixturenames:
        harness: ServiceHarness = request.getfixturevalue("harness")
        await harness.assert_healthy()
