"""Analyses: list with filters and sorting, read one, and the instant single-book analysis."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response

from av_shared.events import ChunkItem
from av_shared.identifiers import parse_identifier
from av_shared.pagination import (
    AFTER_DESCRIPTION,
    ANALYSIS_SORT_KINDS,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET_ROWS,
    MAX_PAGE_SIZE,
    PAGE_DESCRIPTION,
    PAGINATION_NOTE,
    Page,
    check_page,
    read_cursor,
)
from av_shared.views import AnalysisView, RecommendationName

from .. import business_config, quotas
from ..adapters.internal import owner_param
from ..business_config import apply_override
from .books import AnalysisWithChart, with_chart_url
from .deps import CurrentUser, KnownQueryOnly, ServicesDep, SessionDep, SettingsDep
from .problems import AUTHENTICATED, WITH_BODY, ProblemError, problems
from .schemas import InstantAnalysisIn

router = APIRouter(prefix="/api/v1/analyses", tags=["analyses"], dependencies=KnownQueryOnly)
SortKey = Literal[
    "created", "-created", "roi", "-roi", "profit", "-profit", "velocity", "-velocity", "item"
]


class AnalysisPage(Page[AnalysisView]):
    """Analyses, in the order asked for."""


async def analysis_filters(
    recommendation: RecommendationName | None = None,
    min_roi: Annotated[float | None, Query(ge=-1e6, le=1e6, description="ROI percent")] = None,
    min_velocity: Annotated[int | None, Query(ge=0, le=100)] = None,
) -> dict[str, Any]:
    """The filters of analyses, as the analysis service takes them (also a batch export's)."""
    return {"recommendation": recommendation, "min_roi": min_roi, "min_velocity": min_velocity}


AnalysisFilters = Annotated[dict[str, Any], Depends(analysis_filters)]


@router.get(
    "",
    response_model=AnalysisPage,
    responses=problems(*AUTHENTICATED),
    description="Your analyses, filtered and sorted (ties by id, in the sort's direction; a "
    "missing value last). An unknown query parameter is a 422." + PAGINATION_NOTE,
)
async def list_analyses(
    user: CurrentUser,
    services: ServicesDep,
    filters: AnalysisFilters,
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET_ROWS, description=PAGE_DESCRIPTION)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    batch_id: uuid.UUID | None = None,
    sort: Annotated[
        SortKey, Query(description="field, '-' for descending; `item`: position in the batch")
    ] = "-created",
    after: Annotated[
        str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)
    ] = None,
) -> Response:
    check_page(page, size, after)
    if after is not None:  # a 422 naming `after` here (the service checks it too)
        read_cursor(after, sort, [ANALYSIS_SORT_KINDS[sort.lstrip("-")], "uuid"])
    params = {
        "page": page,
        "size": size,
        "after": after,
        "batch_id": batch_id,
        **filters,
        "sort": sort,
        **owner_param(None if user.is_admin else user.id),
    }
    # The analysis service answers this very schema (av_shared.views): passed on as sent.
    page_json = await services.analysis_bytes("/internal/analyses", params)
    return Response(page_json, media_type="application/json")


@router.get(
    "/{analysis_id}", response_model=AnalysisWithChart, responses=problems(*AUTHENTICATED, 404)
)
async def get_analysis(
    analysis_id: uuid.UUID, user: CurrentUser, services: ServicesDep, settings: SettingsDep
) -> Any:
    """One analysis, with every rule it checked."""
    found = await services.analysis(
        f"/internal/analyses/{analysis_id}", owner_param(None if user.is_admin else user.id)
    )
    if found is None:
        raise ProblemError(404, "not-found", "Not found", "no such analysis")
    return with_chart_url(found, user.id, settings)


@router.post(
    "",
    status_code=201,
    response_model=AnalysisWithChart,
    responses=problems(
        *AUTHENTICATED,
        *WITH_BODY,
        502,
        504,
        s422="Invalid input (`errors` names each field), or no product to analyse for the "
        "identifier",
        s429="Rate limit, or the daily items quota (`limit`: max_items_per_day)",
        s503="The analysis service is unreachable, or market data is unavailable (Keepa); "
        "nothing was charged; retry after Retry-After seconds",
    ),
)
async def create_instant_analysis(
    body: InstantAnalysisIn,
    user: CurrentUser,
    services: ServicesDep,
    settings: SettingsDep,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=200,
            description="Repeating a request with the same key answers the same analysis, "
            "charged once",
        ),
    ] = None,
) -> Any:
    """Analyse one book now (a seller scanning a book in a shop); served before batch work.
    Counts one item against your items per day (a replay of an Idempotency-Key does not)."""
    async with session.begin():
        current = await business_config.latest(session, user.id)
        config = apply_override(current.snapshot(), body.strategy)
        item = ChunkItem(
            item_no=0,
            identifier=body.identifier,
            asin=parse_identifier(body.identifier).asin,
            buy_cost=body.cost(),
            condition=body.condition or current.document.batch_defaults.condition,
            quantity=body.quantity,
            note=body.note,
        )
        charged = await quotas.charge_instant(
            session, user.id, idempotency_key, quotas.quotas_of(user, settings)
        )
    try:
        response = await services.analysis_post(
            "/internal/analyses",
            {
                "owner_id": str(user.id),
                "item": item.model_dump(mode="json"),
                "config": config.model_dump(mode="json"),
                "request_id": idempotency_key,
            },
            wait_seconds=settings.instant_analysis_timeout_seconds,
        )
    except ProblemError:
        await _refund(session, user.id, idempotency_key, charged)
        raise
    if response.status_code == 503:
        await _refund(session, user.id, idempotency_key, charged)
        raise ProblemError(
            503,
            "market-data-unavailable",
            "Market data unavailable",
            response.json().get("detail"),
            headers={"Retry-After": "30"},
        )
    detail = response.json().get("detail") if response.status_code == 422 else None
    if isinstance(detail, str):  # market data has no product to analyse for this identifier
        await _refund(session, user.id, idempotency_key, charged)
        raise ProblemError(
            422,
            "no-market-data",
            "Nothing to analyse",
            f"identifier: {detail}",
            errors=[{"field": "identifier", "message": detail}],
        )
    if response.status_code != 201:
        await _refund(session, user.id, idempotency_key, charged)
        raise ProblemError(
            502,
            "analysis-failed",
            "Analysis failed",
            f"the analysis service answered {response.status_code}",
        )
    if not charged and idempotency_key is not None:
        async with session.begin():
            await quotas.charge_served_replay(session, user.id, idempotency_key)
    return with_chart_url(response.json(), user.id, settings)


async def _refund(session: SessionDep, user_id: uuid.UUID, key: str | None, charged: bool) -> None:
    """Nothing was analysed: the item does not count."""
    if charged:
        async with session.begin():
            await quotas.refund_instant(session, user_id, key)
