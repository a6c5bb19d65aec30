"""Test tiers: unit (pure), integration (real PostgreSQL and broker), e2e (every service as its own
process). The servers are started here, once per session, unless DATABASE_URL /
KAFKA_BOOTSTRAP_SERVERS point at existing ones."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="av-test-") as tmp:
        os.chmod(tmp, 0o755)  # the PostgreSQL OS user must reach its data directory
        yield Path(tmp)
