"""A batch's export: CSV, an Excel workbook, or the BUY lines as an InventoryLab Buy List;
filtered like `GET /api/v1/analyses`, so "download my BUY list" is one request.

Streamed at constant memory: the analysis service sends its analyses in item order as NDJSON
(one JSON array per line, built by PostgreSQL), and the lines without an analysis (failed,
pending) come from the batch service; both are merged like two sorted files and written out a
block of rows at a time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Header, Query
from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlalchemy import select
from starlette.background import BackgroundTask

from av_shared.events import TERMINAL_STATUSES
from av_shared.pagination import MAX_PAGE_SIZE

from ..adapters.internal import InternalServices, owner_param
from ..db.tables import submissions
from ..domain import batch_export
from ..domain.batch_export import ExportTotals, Row
from ..domain.xlsx_export import MEDIA_TYPE as XLSX
from ..domain.xlsx_export import XlsxExport
from .analyses import AnalysisFilters
from .batches import _accepted_not_yet_recorded
from .deps import CurrentUser, KnownQueryOnly, ServicesDep, SessionDep
from .problems import AUTHENTICATED, problems

router = APIRouter(prefix="/api/v1/batches", tags=["batches"], dependencies=KnownQueryOnly)
ExportFormat = Literal["csv", "xlsx", "inventorylab"]
MEDIA_TYPES: dict[str, ExportFormat] = {"text/csv": "csv", XLSX: "xlsx"}
BLOCK_ROWS = 1_000  # rows of lines without an analysis gathered before they are written


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


def _disposition(name: str) -> dict[str, Any]:
    return {"description": f'`attachment; filename="{name}"`', "schema": {"type": "string"}}


@router.get(
    "/{batch_id}/export",
    response_class=CsvResponse,
    responses={
        200: {
            "description": "`csv` (the default): one row per line, in submission order, with "
            "its analysis or why it failed. `xlsx`: the same as a workbook (typed cells, a "
            "frozen header row, an autofilter) with a Summary sheet of totals and the config "
            "the batch was analysed with. `inventorylab`: the BUY lines as an InventoryLab Buy "
            "List CSV (ASIN, Title, Cost/Unit, List Price, Quantity, Purchased Date, Supplier = "
            "the batch's name, Condition, Condition Notes = the line's note).",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
            "headers": {"Content-Disposition": _disposition("batch-{id}.csv")},
        },
        **problems(*AUTHENTICATED, 404),
    },
)
async def export_batch(
    batch_id: uuid.UUID,
    user: CurrentUser,
    services: ServicesDep,
    session: SessionDep,
    filters: AnalysisFilters,
    export_format: Annotated[
        ExportFormat | None,
        Query(
            alias="format",
            description="csv, xlsx or inventorylab; without it the Accept header chooses "
            "(text/csv or the XLSX media type), else csv",
        ),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The batch as a spreadsheet (streamed; a line still in analysis has status PENDING).
    With a filter (`recommendation`, `min_roi`, `min_velocity`), only the analyses that match."""
    owner = None if user.is_admin else user.id
    batch = await services.batch(f"/internal/batches/{batch_id}", owner_param(owner))
    if batch is None:  # 404 unless accepted and not yet recorded (then no line is known yet)
        batch = (await _accepted_not_yet_recorded(session, batch_id, owner)).model_dump()
    chosen = export_format or negotiate(accept)
    if chosen == "inventorylab" and filters["recommendation"] is None:
        filters = {**filters, "recommendation": "BUY"}
    stream = await services.analysis_stream(
        f"/internal/batches/{batch_id}/analysis-rows", {**filters, **owner_param(owner)}
    )
    analysed = _analysis_blocks(stream) if stream is not None else _no_blocks()
    applied = {k: v for k, v in filters.items() if v is not None}
    # A filter matches analyses only; without one, every line is exported.
    lines = _no_lines() if applied else _lines_without_analysis(services, batch, owner)
    rows = _merged(analysed, lines)
    if chosen == "xlsx":
        config = await session.scalar(
            select(submissions.c.config).where(submissions.c.batch_id == batch_id)
        )
        path = await _workbook(rows, batch, config, applied)
        return FileResponse(
            path,
            media_type=XLSX,
            filename=f"batch-{batch_id}.xlsx",
            background=BackgroundTask(os.unlink, path),
        )
    name = f"batch-{batch_id}-inventorylab.csv" if chosen == "inventorylab" else None
    body = _inventorylab(rows, batch) if chosen == "inventorylab" else _csv(rows)
    return CsvResponse(
        body,
        headers={
            "Content-Disposition": f'attachment; filename="{name or f"batch-{batch_id}.csv"}"'
        },
    )


def negotiate(accept: str | None) -> ExportFormat:
    """The format an Accept header prefers (highest q); csv when it names neither."""
    best: ExportFormat = "csv"
    best_q = -1.0
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        found = MEDIA_TYPES.get(media.lower())
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                with contextlib.suppress(ValueError):
                    q = float(value)
        if found is not None and q > best_q and q > 0:
            best, best_q = found, q
    return best


async def _csv(rows: AsyncIterator[list[Row]]) -> AsyncIterator[str]:
    yield batch_export.header()
    async for block in rows:
        yield batch_export.csv_rows(block)


async def _inventorylab(
    rows: AsyncIterator[list[Row]], batch: Mapping[str, Any]
) -> AsyncIterator[str]:
    created = batch["created_at"]
    purchased = (created if not isinstance(created, str) else _parse_time(created)).date()
    yield batch_export.inventorylab_header()
    async for block in rows:
        yield batch_export.inventorylab_rows(block, purchased, batch["name"])


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _workbook(
    rows: AsyncIterator[list[Row]],
    batch: Mapping[str, Any],
    config: Mapping[str, Any] | None,
    filters: Mapping[str, Any],
) -> Path:
    """The workbook, written on a worker thread (xlsxwriter is pure Python: seconds for a large
    batch, which must not stall the event loop) into a temporary file the answer then streams."""
    handle, name = tempfile.mkstemp(prefix="av-export-", suffix=".xlsx")
    os.close(handle)
    path = Path(name)
    try:
        workbook = await asyncio.to_thread(XlsxExport, path)
        totals = ExportTotals()
        async for block in rows:
            totals.add(block)
            await asyncio.to_thread(workbook.add, block)
        await asyncio.to_thread(workbook.close, batch, totals, config, filters)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return path


async def _analysis_blocks(response: httpx.Response) -> AsyncIterator[list[Row]]:
    """NDJSON from the analysis service: a first line of field names, then one JSON array per
    analysis; parsed a network chunk at a time (one `json.loads` per chunk, not per row)."""
    fields: list[str] | None = None
    rest = b""
    try:
        async for chunk in response.aiter_bytes():
            data = rest + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            complete, rest = data[:cut], data[cut + 1 :]
            lines = complete.split(b"\n")
            if fields is None:
                fields = json.loads(lines.pop(0))
            if lines:
                values = json.loads(b"[" + b",".join(lines) + b"]")
                yield [batch_export.analysed(fields, v) for v in values]
    finally:
        await response.aclose()


async def _no_blocks() -> AsyncIterator[list[Row]]:
    return
    yield


async def _no_lines() -> AsyncIterator[dict[str, Any]]:
    return
    yield


async def _lines_without_analysis(
    services: InternalServices, batch: Mapping[str, Any], owner: uuid.UUID | None
) -> AsyncIterator[dict[str, Any]]:
    """The batch service's lines that have no analysis to show. A finished batch's lines no
    longer change: only its FAILED and PENDING ones are read (few, usually). A running batch's
    every line is read, so that a line analysed meanwhile is still exported once."""
    path = f"/internal/batches/{batch['id']}/items"
    if batch["status"] not in TERMINAL_STATUSES:
        async for item in _by_position(services, path, owner_param(owner)):
            yield item
        return
    failed = _by_position(services, path, {"status": "FAILED", **owner_param(owner)})
    pending = _by_position(services, path, {"status": "PENDING", **owner_param(owner)})
    async for item in _merge_by_position(failed, pending):
        yield item


async def _by_position(
    services: InternalServices, path: str, params: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    after = -1
    while True:
        page = await services.batch(path, {**params, "size": MAX_PAGE_SIZE, "after_item_no": after})
        found: list[dict[str, Any]] = page["items"] if page else []
        for item in found:
            yield item
        if len(found) < MAX_PAGE_SIZE:
            return
        after = found[-1]["item_no"]


async def _merge_by_position(
    a: AsyncIterator[dict[str, Any]], b: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    x, y = await anext(a, None), await anext(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x["item_no"] <= y["item_no"]):
            assert x is not None
            yield x
            x = await anext(a, None)
        else:
            yield y
            y = await anext(b, None)


async def _merged(
    analysed: AsyncIterator[list[Row]], lines: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[list[Row]]:
    """Blocks of rows in item order: each analysis, and each line without one (an analysis
    wins over its line when both are read)."""
    line = await anext(lines, None)
    async for block in analysed:
        out: list[Row] = []
        for row in block:
            position = row["item_no"]
            while line is not None and line["item_no"] <= position:
                if line["item_no"] < position:
                    out.append(batch_export.line(line))
                    if len(out) >= BLOCK_ROWS:
                        yield out
                        out = []
                line = await anext(lines, None)
            out.append(row)
        yield out
    rest: list[Row] = []
    while line is not None:
        rest.append(batch_export.line(line))
        if len(rest) >= BLOCK_ROWS:
            yield rest
            rest = []
        line = await anext(lines, None)
    if rest:
        yield rest
