"""Batches: submit (202 + outbox), list, read, cancel, list their lines (export: exports.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.events import TERMINAL_STATUSES, BatchCancelRequested, ChunkItem
from av_shared.events.chunk_item import Condition
from av_shared.identifiers import asin_of
from av_shared.outbox import add_to_outbox
from av_shared.pagination import (
    AFTER_DESCRIPTION,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET_ROWS,
    MAX_PAGE_SIZE,
    PAGE_DESCRIPTION,
    PAGINATION_NOTE,
    Page,
    check_page,
    read_cursor,
)
from av_shared.topics import BATCH_COMMANDS, BATCH_SUBMISSIONS
from av_shared.views import BatchItemView, BatchView, ItemStatusName

from .. import business_config, quotas
from ..adapters.internal import InternalServices, owner_param
from ..business_config import apply_override
from ..db.tables import outbox, submissions
from ..domain.submission import SubmissionEvents, build_submission
from .batch_body import BATCH_REQUEST_BODY, batch_body, in_worker
from .batch_upload import BatchRequest
from .deps import (
    BatchCacheDep,
    CurrentUser,
    KnownQueryOnly,
    ServicesDep,
    SessionDep,
    SettingsDep,
)
from .problems import AUTHENTICATED, WITH_BODY, ProblemError, problems
from .schemas import ItemIn, StatusChangeIn

router = APIRouter(prefix="/api/v1/batches", tags=["batches"], dependencies=KnownQueryOnly)
PageNo = Annotated[int, Query(ge=1, le=MAX_OFFSET_ROWS, description=PAGE_DESCRIPTION)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
After = Annotated[
    str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)
]
INLINE_LINES = 200  # a few milliseconds of building: not worth a hand-off to the worker
LOCATION = {
    "Location": {"description": "The batch: `/api/v1/batches/{id}`", "schema": {"type": "string"}}
}


class FileColumns(BaseModel):
    """The columns of an uploaded file, by their headers (letters without a header row)."""

    identifier: str
    cost: str
    condition: str | None = None
    quantity: str | None = None
    note: str | None = None


class IgnoredRowOut(BaseModel):
    row: int = Field(description="The row number, as the spreadsheet shows it")
    reason: str


class BatchAccepted(BatchView):
    config_version: int = Field(
        description="The version of your config the batch is analysed with (0: the defaults)"
    )
    columns: FileColumns | None = Field(
        None, description="A file upload: which column held what (null for a JSON batch)"
    )
    ignored_rows: list[IgnoredRowOut] = Field(
        default_factory=list,
        description="A file upload: rows not read as lines (trailing totals)",
    )


class BatchCancelAccepted(BatchView):
    """The batch as it was when the cancel was accepted; the batch service applies the cancel
    shortly after (poll the batch until `status` is CANCELLED, or final if it finished first)."""

    requested_status: Literal["CANCELLED"] = Field(
        "CANCELLED",
        description="The change asked for, not applied yet: `status` is the "
        "batch's status when the request was accepted",
    )


class BatchPage(Page[BatchView]):
    """Batches, newest first."""


class BatchItemPage(Page[BatchItemView]):
    """Lines of a batch, in submission order."""


def _not_found() -> ProblemError:
    return ProblemError(404, "not-found", "Not found", "no such batch")


@router.post(
    "",
    status_code=202,
    response_model=BatchAccepted,
    responses={
        202: {"description": "Accepted; analysed in the background", "headers": LOCATION},
        **problems(
            *AUTHENTICATED,
            *WITH_BODY,
            409,
            s409="MAX_OPEN_BATCHES batches still open (`limit`: max_open_batches)",
            s422="Invalid input: `errors` names each field; more than MAX_BATCH_ITEMS lines "
            "is named `items`",
            s429="Rate limit, or the daily items quota (`limit`: max_items_per_day)",
        ),
    },
    openapi_extra=BATCH_REQUEST_BODY,
)
async def submit_batch(
    user: CurrentUser,
    request: Annotated[BatchRequest, Depends(batch_body)],
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
    response: Response,
) -> BatchAccepted:
    """Accept a list for analysis with your current config (snapshotted: later changes do not
    alter it): JSON, or your spreadsheet (CSV, TSV, XLSX; a bad cell is a 422 naming its row
    and column, and nothing is stored). Quotas: 429 past your items per day, 409 past your open
    batches."""
    body = request.batch
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

        def build() -> SubmissionEvents:
            return build_submission(
                batch_id=batch_id,
                owner_id=user.id,
                name=body.name,
                items=_chunk_items(body.items, condition),
                config=config,
                chunk_size=settings.chunk_size,
                submitted_at=now,
                correlation_id=correlation_id,
            )

        # A few µs a line (100,000 lines: about 0.6 s): a large batch is built off the loop.
        events = await in_worker(build) if len(body.items) > INLINE_LINES else build()
        await session.execute(
            submissions.insert().values(
                batch_id=batch_id,
                owner_id=user.id,
                name=body.name,
                items_total=len(body.items),
                chunk_count=len(events.chunks),
                config=config.model_dump(mode="json"),
                correlation_id=correlation_id,
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
    response.headers["Location"] = f"/api/v1/batches/{batch_id}"
    return BatchAccepted(
        id=batch_id,
        name=body.name,
        status="PENDING",
        items_total=len(body.items),
        items_processed=0,
        items_failed=0,
        created_at=now,
        started_at=None,
        finished_at=None,
        config_version=config.config_version,
        columns=FileColumns.model_validate(request.columns) if request.columns else None,
        ignored_rows=[IgnoredRowOut(row=r.row, reason=r.reason) for r in request.ignored],
    )


def _chunk_items(lines: Sequence[ItemIn], condition: Condition) -> list[ChunkItem]:
    """The lines as the events carry them; a line's condition defaults to `condition`. Built
    without validating each again: `ItemIn` checked every field against the same bounds
    (tests/unit/gateway/test_submission_contract.py holds the two contracts together)."""
    return [
        ChunkItem.model_construct(
            item_no=n,
            identifier=line.identifier,
            asin=asin_of(line.identifier),
            buy_cost=line.cost(),
            condition=line.condition or condition,
            quantity=line.quantity,
            note=line.note,
        )
        for n, line in enumerate(lines)
    ]


@router.get(
    "",
    response_model=BatchPage,
    responses=problems(*AUTHENTICATED),
    description="Your batches, newest first." + PAGINATION_NOTE,
)
async def list_batches(
    user: CurrentUser,
    services: ServicesDep,
    page: PageNo = 1,
    size: PageSize = 50,
    after: After = None,
) -> Any:
    check_page(page, size, after)
    if after is not None:
        read_cursor(after, "-created", ["datetime", "uuid"])  # a 422 here, not from the service
    params = {
        "page": page,
        "size": size,
        "after": after,
        **owner_param(None if user.is_admin else user.id),
    }
    return await services.batch("/internal/batches", params)


@router.get("/{batch_id}", response_model=BatchView, responses=problems(*AUTHENTICATED, 404))
async def get_batch(
    batch_id: uuid.UUID,
    user: CurrentUser,
    services: ServicesDep,
    cache: BatchCacheDep,
    request: Request,
) -> Any:
    """A batch: status, progress and, while it runs, `eta_seconds`. Each gateway instance
    answers repeated reads from what it last read, kept current by the batch's progress events:
    at most a second behind the batch service (a finished batch never changes)."""
    owner = None if user.is_admin else user.id
    if owner is not None and (body := cache.get(batch_id, owner)) is not None:
        return Response(body, media_type="application/json")
    batch = await read_batch(request.app.state.runtime.sessions, services, batch_id, owner)
    if owner is None:
        return batch
    return Response(cache.put(owner, batch), media_type="application/json")


async def read_batch(
    sessions: async_sessionmaker[AsyncSession],
    services: InternalServices,
    batch_id: uuid.UUID,
    owner: uuid.UUID | None,
) -> dict[str, Any]:
    """The batch as the services know it now (a BatchView as JSON; 404 for another seller's):
    from the batch service, with the ETA of the analysis service while it runs, or PENDING when
    accepted here and not yet recorded there."""
    batch: dict[str, Any] | None = await services.batch(
        f"/internal/batches/{batch_id}", owner_param(owner)
    )
    if batch is None:
        async with sessions() as session:
            view = await _accepted_not_yet_recorded(session, batch_id, owner)
        return view.model_dump(mode="json")
    if batch["status"] in ("PENDING", "PROCESSING"):
        progress = await services.analysis(
            f"/internal/batches/{batch_id}/progress", owner_param(owner)
        )
        if progress:
            batch["eta_seconds"] = progress["eta_seconds"]
            batch["queued_items"] = progress["queued_items"]
    return batch


@router.get(
    "/{batch_id}/items",
    response_model=BatchItemPage,
    responses=problems(*AUTHENTICATED, 404),
    description="The batch's lines in submission order, each PENDING, DONE or FAILED (with the "
    "reason)." + PAGINATION_NOTE,
)
async def list_batch_items(
    batch_id: uuid.UUID,
    user: CurrentUser,
    services: ServicesDep,
    session: SessionDep,
    page: PageNo = 1,
    size: PageSize = 100,
    status: ItemStatusName | None = None,
    after: After = None,
) -> Any:
    check_page(page, size, after)
    if after is not None:
        read_cursor(after, "item", ["int"])
    owner = None if user.is_admin else user.id
    found = await services.batch(
        f"/internal/batches/{batch_id}/items",
        {"page": page, "size": size, "status": status, "after": after, **owner_param(owner)},
    )
    if found is None:  # 404 unless accepted and not yet recorded (then no line is known yet)
        await _accepted_not_yet_recorded(session, batch_id, owner)
        return BatchItemPage(items=[], total=0, page=page, size=size)
    return found


async def _accepted_not_yet_recorded(
    session: SessionDep, batch_id: uuid.UUID, owner: uuid.UUID | None
) -> BatchView:
    """Accepted here, not yet recorded by the batch service (events in flight): PENDING."""
    query = select(submissions).where(submissions.c.batch_id == batch_id)
    if owner:
        query = query.where(submissions.c.owner_id == owner)
    row = (await session.execute(query)).first()
    if row is None:
        raise _not_found()
    return BatchView(
        id=row.batch_id,
        name=row.name,
        status="PENDING",
        items_total=row.items_total,
        items_processed=0,
        items_failed=0,
        created_at=row.created_at,
        started_at=None,
        finished_at=None,
    )


@router.patch(
    "/{batch_id}/status",
    status_code=202,
    response_model=BatchCancelAccepted,
    responses={
        202: {
            "description": "Cancel requested: applied asynchronously. The body is "
            "the batch when the request was accepted, with "
            "`requested_status`; poll `Location`",
            "headers": LOCATION,
        },
        **problems(
            *AUTHENTICATED,
            *WITH_BODY,
            404,
            409,
            s409="The batch already finished (COMPLETED, FAILED or CANCELLED)",
        ),
    },
)
async def cancel_batch(
    batch_id: uuid.UUID,
    body: StatusChangeIn,
    user: CurrentUser,
    services: ServicesDep,
    session: SessionDep,
    response: Response,
    cache: BatchCacheDep,
) -> Any:
    """Cancel a running batch: lines not analysed yet are skipped. The cancel is applied by the
    batch service shortly after this answer, unless the batch finishes first."""
    owner = None if user.is_admin else user.id
    cache.drop(batch_id)  # read it afresh, and again once the cancel is applied
    batch = await services.batch(f"/internal/batches/{batch_id}", owner_param(owner))
    async with session.begin():
        if batch is None:
            view = await _accepted_not_yet_recorded(session, batch_id, owner)
            batch = view.model_dump(mode="json")
        if batch["status"] in TERMINAL_STATUSES:
            raise ProblemError(
                409,
                "batch-terminal",
                "Batch already finished",
                f"batch is {batch['status']}; only a running batch can be cancelled",
            )
        owner_id = await session.scalar(
            select(submissions.c.owner_id).where(submissions.c.batch_id == batch_id)
        )
        await add_to_outbox(
            session,
            outbox,
            topic=BATCH_COMMANDS,
            aggregate_id=batch_id,
            events=[
                BatchCancelRequested(
                    batch_id=batch_id,
                    owner_id=owner_id or user.id,
                    correlation_id=f"batch-{batch_id}",
                )
            ],
        )
    response.headers["Location"] = f"/api/v1/batches/{batch_id}"
    return {**BatchView.model_validate(batch).model_dump(), "requested_status": body.status}
