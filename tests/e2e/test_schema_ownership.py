"""Each service connects as its own role and can use only its own schema."""

from __future__ import annotations

import asyncpg
import pytest

from devstack import postgres
from devstack.stack import Stack

OTHERS = {
    "gateway": ("batch.batches", "analysis.analyses"),
    "batch": ("gateway.users", "analysis.analyses"),
    "analysis": ("gateway.submissions", "batch.batch_items"),
}


@pytest.mark.parametrize("schema", sorted(OTHERS))
async def test_a_service_role_is_denied_other_schemas(stack: Stack, schema: str) -> None:
    url = postgres.service_url(stack.admin_url, schema).replace("+asyncpg", "")
    conn = await asyncpg.connect(url)
    try:
        own = {"gateway": "gateway.outbox", "batch": "batch.outbox", "analysis": "analysis.outbox"}
        await conn.fetchval(f"SELECT count(*) FROM {own[schema]}")  # its own: allowed
        for table in OTHERS[schema]:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await conn.fetchval(f"SELECT count(*) FROM {table}")
    finally:
        await conn.close()
