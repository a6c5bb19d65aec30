"""Internal API of a book's kept history (domain/book_history) and trends (domain/trends).

A seller sees the history of a book they analysed (the market data is shared, what others
analyse is not theirs to learn); the admin view sees every book. Reading costs no Keepa token:
only an analysis fetches.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import RowMapping, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from av_shared.identifiers import InvalidIdentifier, parse_identifier
from av_shared.internal_auth import Owner

from ..db.tables import analyses, book_histories, identifier_lookups
from ..domain.book_history import (
    HISTORY_DAYS,
    PRICE_SERIES,
    BookHistory,
    Point,
    history_from_json,
    presence_intervals,
    window,
)
from ..domain.keepa_format import keepa_minutes_to_datetime
from ..domain.trends import Trend, book_trends

router = APIRouter()
NOT_ANALYSED = "no history of this book yet: analyse it (POST /api/v1/analyses) to fetch it"


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.runtime.sessions  # type: ignore[no-any-return]


@router.get("/books/{identifier}")
async def get_book(request: Request, identifier: str, owner_id: Owner) -> dict[str, Any]:
    row = await _book(_sessions(request), identifier, owner_id)
    history = history_from_json(row["history"])
    return {
        **_header(row, history),
        "latest": row["summary"],
        "trends": {
            name: {f"last_{days}_days": _trend_view(t) for days, t in windows.items()}
            for name, windows in book_trends(history).items()
        },
    }


@router.get("/books/{identifier}/history")
async def get_book_history(
    request: Request,
    identifier: str,
    owner_id: Owner,
    days: Annotated[int, Query(ge=1, le=HISTORY_DAYS)] = 365,
) -> dict[str, Any]:
    row = await _book(_sessions(request), identifier, owner_id)
    history = window(history_from_json(row["history"]), days)
    return {
        **_header(row, history),
        "days": days,
        "series": {name: _points(name, pts) for name, pts in history.series.items()},
        "rank_drops": [
            {"time": _time(s.minute), "rank_before": s.rank_before, "rank_after": s.rank_after}
            for s in history.sales
        ],
        "amazon_on_listing": [
            {"start": _time(a), "end": _time(b)}
            for a, b in presence_intervals(history.points("amazon"), history.as_of)
        ],
    }


async def _book(
    sessions: async_sessionmaker[AsyncSession], identifier: str, owner_id: uuid.UUID | None
) -> RowMapping:
    try:
        parsed = parse_identifier(identifier)
    except InvalidIdentifier as exc:
        raise HTTPException(422, f"identifier: {exc.reason}") from None
    async with sessions() as session:
        asin = parsed.asin or await session.scalar(
            select(identifier_lookups.c.asin).where(identifier_lookups.c.code == parsed.normalized)
        )
        if asin is None:
            raise HTTPException(404, NOT_ANALYSED)
        if owner_id is not None and not await session.scalar(
            select(exists().where(analyses.c.owner_id == owner_id, analyses.c.asin == asin))
        ):
            raise HTTPException(404, NOT_ANALYSED)
        row = (
            (await session.execute(select(book_histories).where(book_histories.c.asin == asin)))
            .mappings()
            .first()
        )
    if row is None:
        raise HTTPException(404, NOT_ANALYSED)
    return row


def _header(row: RowMapping, history: BookHistory) -> dict[str, Any]:
    return {
        "asin": row["asin"],
        "title": row["title"],
        "fetched_at": row["fetched_at"].isoformat(),
        "as_of": _time(history.as_of),
    }


def _time(minute: int) -> str:
    return keepa_minutes_to_datetime(minute).isoformat()


def _points(name: str, points: Sequence[Point]) -> list[dict[str, Any]]:
    scale = 100 if name in PRICE_SERIES else 1  # prices: cents -> dollars
    return [
        {"time": _time(m), "value": None if v is None else (v / scale if scale > 1 else v)}
        for m, v in points
    ]


def _trend_view(trend: Trend) -> dict[str, Any]:
    scale = 100 if trend.series in PRICE_SERIES else 1

    def value(v: float | None) -> float | None:
        return None if v is None else round(v / scale, 2)

    return {
        "direction": str(trend.direction),
        "change_percent": trend.change_percent,
        "threshold_percent": trend.threshold_percent,
        "fitted_start": value(trend.fitted_start),
        "fitted_end": value(trend.fitted_end),
        "median": value(trend.median),
        "first": value(trend.first),
        "last": value(trend.last),
        "days_with_value": trend.samples,
        "reason": trend.reason,
    }
