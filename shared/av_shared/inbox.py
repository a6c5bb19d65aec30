"""Idempotent consumers: an event's effect is applied once, in the transaction that records it."""

from __future__ import annotations

import uuid

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


async def first_delivery(
    session: AsyncSession, inbox: Table, event_id: uuid.UUID, event_type: str
) -> bool:
    """Record the event as handled; False when an earlier delivery already applied it."""
    result = await session.execute(
        insert(inbox)
        .values(event_id=event_id, event_type=event_type)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(inbox.c.event_id)
    )
    return result.first() is not None
