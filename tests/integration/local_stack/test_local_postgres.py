"""The local PostgreSQL cluster of `make run` and `make test` (issue 11): no trust
authentication, no well-known password. The superuser's password is generated per state
directory in a file only its owner reads; each service role has a password derived from it."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from devstack import postgres
from devstack.stack import Stack, StackConfig


@pytest.fixture(scope="module")
async def stack(state_dir: Path) -> AsyncIterator[Stack]:
    system = Stack(
        StackConfig(state_dir=state_dir / "local-postgres", fast=True, conventional_ports=False)
    )
    try:
        await system.start_postgres()
        yield system
    finally:
        await system.stop()


async def _refused(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except asyncpg.InvalidPasswordError:
        return True
    await conn.close()
    return False


async def test_the_cluster_asks_every_connection_for_its_generated_password(stack: Stack) -> None:
    server = f"127.0.0.1:{stack.pg.port}/{postgres.DATABASE}"
    assert await _refused(f"postgresql://{postgres.SUPERUSER}@{server}")  # no trust
    assert await _refused(f"postgresql://{postgres.SUPERUSER}:postgres@{server}")
    for role in postgres.SERVICE_ROLES.values():  # not init.sql's development passwords
        assert await _refused(f"postgresql://{role}:{role}@{server}")
    kept = stack.config.state_dir / "postgres-password"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    conn = await asyncpg.connect(stack.admin_url)
    await conn.close()
    for schema, role in postgres.SERVICE_ROLES.items():
        url = postgres.service_url(stack.admin_url, schema).replace("+asyncpg", "")
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT current_user") == role
        await conn.close()
