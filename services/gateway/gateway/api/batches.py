"""Batches: submit (202 + outbox), list, read, cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field
from sqlalchemy import select

from av_shared.events import TERMINAL_STATUSES, BatchCancelRequested, ChunkItem
from av_shared.identifiers import parse_identifier
from av_shared.outbox import add_to_outbox
from av_shared.pagination import MAX_PAGE_SIZE, Page
from av_shared.topics import BATCH_COMMANDS, BATCH_SUBMISSIONS
from av_shared.views import BatchView

from .. import business_config, quotas
from ..adapters.internal import owner_param
from ..business_config import apply_override
from ..db.tables import outbox, submissions
from ..domain.submission import build_submission
from .deps import CurrentUser, ServicesDep, SessionDep, SettingsDep
from .problems import ProblemError
from .schemas import BatchIn, StatusChangeIn

router = APIRouter(prefix="/api/v1/batches", tags=["batches"])
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


class BatchAccepted(BatchView):
    config_version: int = Field(description="The version of your config the batch is analysed "
                                            "with (0: the defaults)")


def _not_found() -> ProblemError:
    return ProblemError(404, "not-found", "Not found", "no such batch")


@router.post("", status_code=202, response_model=BatchAccepted)
async def submit_batch(body: BatchIn, user: CurrentUser, session: SessionDep,
                       settings: SettingsDep, services: ServicesDep,
                       response: Response) -> BatchAccepted:
    """Accept a list for analysis with your current config (snapshotted: later changes do not
    alter it). Quotas: 429 past your items per day, 409 past your open batches."""
    if len(body.items) > settings.max_batch_items:
        raise ProblemError(422, "too-many-items", "Batch too large",
                           f"items: {len(body.items)} lines, at most {settings.max_batch_items}",
                           errors=[{"field": "items", "message":
                                    f"at most {settings.max_batch_items} items"}])
    limits = quotas.quotas_of(user, settings)
    await quotas.settle_finished(session, services, user.id, limits)
    batch_id, now = uuid.uuid4(), datetime.now(UTC)
    correlation_id = f"batch-{batch_id}"
    async with session.begin():  # the quota use, the submission and its events commit together
        await quotas.reserve_items(session, user.id, len(body.items), limits)
        await quotas.require_open_slot(session, user.id, limits)
        current = await business_config.latest(session, user.id)
        config = apply_override(current.snapshot(), body.strategy)
        condition = current.document.batch_defaults.condition
        items = [ChunkItem(item_no=n, identifier=item.identifier,
                           asin=parse_identifier(item.identifier).asin, buy_cost=item.cost(),
                           condition=item.condition or condition)
                 for n, item in enumerate(body.items)]
        events = build_submission(batch_id=batch_id, owner_id=user.id, name=body.name,
                                  items=items, config=config, chunk_size=settings.chunk_size,
                                  submitted_at=now, correlation_id=correlation_id)
        await session.execute(submissions.insert().values(
            batch_id=batch_id, owner_id=user.id, name=body.name, items_total=len(items),
            chunk_count=len(events.chunks), config=config.model_dump(mode="json"),
            correlation_id=correlation_id, created_at=now,
        ))
        await add_to_outbox(session, outbox, topic=BATCH_SUBMISSIONS, aggregate_id=batch_id,
                            events=[events.header, *events.chunks])
    response.headers["Location"] = f"/api/v1/batches/{batch_id}"
    return BatchAccepted(id=batch_id, name=body.name, status="PENDING", items_total=len(items),
                         items_processed=0, items_failed=0, created_at=now, started_at=None,
                         finished_at=None, config_version=config.config_version)


@router.get("", response_model=Page[BatchView])
async def list_batches(user: CurrentUser, services: ServicesDep, page: PageNo = 1,
                       size: PageSize = 50) -> Any:
    params = {"page": page, "size": size, **owner_param(None if user.is_admin else user.id)}
    return await services.batch("/internal/batches", params)


@router.get("/{batch_id}", response_model=BatchView)
async def get_batch(batch_id: uuid.UUID, user: CurrentUser, services: ServicesDep,
                    session: SessionDep) -> Any:
    owner = None if user.is_admin else user.id
    batch = await services.batch(f"/internal/batches/{batch_id}", owner_param(owner))
    if batch is None:
        return await _accepted_not_yet_recorded(session, batch_id, owner)
    if batch["status"] in ("PENDING", "PROCESSING"):
        progress = await services.analysis(f"/internal/batches/{batch_id}/progress",
                                           owner_param(owner))
        if progress:
            batch["eta_seconds"] = progress["eta_seconds"]
            batch["queued_items"] = progress["queued_items"]
    return batch


async def _accepted_not_yet_recorded(session: SessionDep, batch_id: uuid.UUID,
                                     owner: uuid.UUID | None) -> BatchView:
    """Accepted here, not yet recorded by the batch service (events in flight): PENDING."""
    query = select(submissions).where(submissions.c.batch_id == batch_id)
    if owner:
        query = query.where(submissions.c.owner_id == owner)
    row = (await session.execute(query)).first()
    if row is None:
        raise _not_found()
    return BatchView(id=row.batch_id, name=row.name, status="PENDING",
                     items_total=row.items_total, items_processed=0, items_failed=0,
                     created_at=row.created_at, started_at=None, finished_at=None)


@router.patch("/{batch_id}/status", status_code=202, response_model=BatchView)
async def change_status(batch_id: uuid.UUID, body: StatusChangeIn, user: CurrentUser,
                        services: ServicesDep, session: SessionDep) -> Any:
    owner = None if user.is_admin else user.id
    batch = await services.batch(f"/internal/batches/{batch_id}", owner_param(owner))
    async with session.begin():
        if batch is None:
            view = await _accepted_not_yet_recorded(session, batch_id, owner)
            batch = view.model_dump(mode="json")
        if batch["status"] in TERMINAL_STATUSES:
            raise ProblemError(409, "batch-terminal", "Batch already finished",
                               f"batch is {batch['status']}; only a running batch can be cancelled")
        owner_id = await session.scalar(
            select(submissions.c.owner_id).where(submissions.c.batch_id == batch_id))
        await add_to_outbox(session, outbox, topic=BATCH_COMMANDS, aggregate_id=batch_id, events=[
            BatchCancelRequested(batch_id=batch_id, owner_id=owner_id or user.id,
                                 correlation_id=f"batch-{batch_id}")])
    return batch
