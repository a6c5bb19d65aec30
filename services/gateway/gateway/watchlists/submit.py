"""A scheduled run's batch, submitted as POST /api/v1/batches submits one: the owner's quotas
(items per day, open batches), the owner's config, the same events through the outbox. The
caller's transaction holds it all, with the run row and the advance of the next run."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from av_shared.events import BusinessConfigSnapshot, ChunkItem
from av_shared.identifiers import parse_identifier
from av_shared.outbox import add_to_outbox
from av_shared.topics import BATCH_SUBMISSIONS

from .. import business_config, quotas
from ..api.problems import ProblemError
from ..db.tables import business_configs, outbox, submissions
from ..domain.submission import build_submission
from ..settings import GatewaySettings


def chunk_items(lines: Sequence[dict[str, Any]]) -> list[ChunkItem]:
    """Stored lines ({identifier, buy_cost, condition, quantity, note}) as the events carry them."""
    return [
        ChunkItem(
            item_no=n,
            identifier=line["identifier"],
            asin=parse_identifier(line["identifier"]).asin,
            buy_cost=line["buy_cost"],
            condition=line.get("condition") or "used",
            quantity=line.get("quantity") or 1,
            note=line.get("note"),
        )
        for n, line in enumerate(lines)
    ]


async def config_of(
    session: AsyncSession, owner_id: uuid.UUID, version: int | None
) -> BusinessConfigSnapshot:
    """The owner's latest config, or the stored `version` of it (0: the defaults)."""
    if version is None:
        return (await business_config.latest(session, owner_id)).snapshot()
    if version == 0:
        return business_config.DEFAULT.snapshot()
    row = (
        await session.execute(
            select(business_configs).where(
                business_configs.c.user_id == owner_id, business_configs.c.version == version
            )
        )
    ).first()
    if row is None:
        raise ProblemError(422, "validation", "No such config", f"config version {version}")
    return business_config.ConfigVersion(
        row.version, row.created_at, business_config.ConfigDocument.model_validate(row.document)
    ).snapshot()


async def submit_batch(
    session: AsyncSession,
    owner: Any,
    name: str,
    items: Sequence[ChunkItem],
    settings: GatewaySettings,
    config_version: int | None = None,
) -> uuid.UUID:
    """`owner`: the users row. ProblemError (a 429 or 409) when a quota refuses it; the caller
    rolls back to its savepoint then."""
    limits = quotas.quotas_of(owner, settings)
    await quotas.reserve_items(session, owner.id, len(items), limits)
    await quotas.require_open_slot(session, owner.id, limits)
    config = await config_of(session, owner.id, config_version)
    batch_id, now = uuid.uuid4(), datetime.now(UTC)
    events = build_submission(
        batch_id=batch_id,
        owner_id=owner.id,
        name=name,
        items=items,
        config=config,
        chunk_size=settings.chunk_size,
        submitted_at=now,
        correlation_id=f"batch-{batch_id}",
    )
    await session.execute(
        submissions.insert().values(
            batch_id=batch_id,
            owner_id=owner.id,
            name=name,
            items_total=len(items),
            chunk_count=len(events.chunks),
            config=config.model_dump(mode="json"),
            correlation_id=f"batch-{batch_id}",
            created_at=now,
        )
    )
    await add_to_outbox(
        session,
        outbox,
        topic=BATCH_SUBMISSIONS,
        aggregate_id=batch_id,
        events=[events.header, *events.chunks],
    )
    return batch_id
