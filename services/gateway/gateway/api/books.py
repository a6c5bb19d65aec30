"""A book's history as Keepa recorded it: the book (identity, latest figures, trends), its price
and rank series with the sales, and the chart of both (PNG, SVG).

Answered from what the analysis service kept when it fetched the book for an analysis of yours:
reading costs no Keepa token, and a book you never analysed is a 404 saying so. The history
changes only when the book is fetched again (at most once per MARKET_CACHE_TTL_SECONDS), so
answers may be cached for a while; a chart also has an ETag (`If-None-Match` → 304).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from av_shared.identifiers import Identifier, InvalidIdentifier, parse_identifier
from av_shared.views import AnalysisView

from ..adapters.internal import owner_param
from ..charts import CHART_MEDIA_TYPES, ChartFormat, render_chart
from ..charts.signing import CHART_URL_SECONDS, BadSignature, ChartSigner
from ..db.tables import users
from .deps import (
    CurrentUser,
    CurrentUserInfo,
    KnownQueryOnly,
    ServicesDep,
    SettingsDep,
    api_key_header,
    authenticate,
    oauth2,
    unauthorized,
)
from .problems import AUTHENTICATED, ProblemError, invalid, problems
from .schemas import IDENTIFIER_FORMAT, IDENTIFIER_PATTERN

router = APIRouter(prefix="/api/v1/books", tags=["books"], dependencies=KnownQueryOnly)
PREFIX = "/api/v1/books"
HISTORY_DAYS_MAX = 3 * 365 + 1  # what the analysis service keeps (domain/book_history)
CACHE_CONTROL = "private, max-age=300"
CHART_VERSION = "1"  # part of the ETag: a new drawing changes it
TrendDirectionName = Literal["rising", "falling", "flat", "unknown"]

IdentifierPath = Annotated[
    str,
    Path(
        min_length=10,
        max_length=40,
        pattern=IDENTIFIER_PATTERN,
        description="ISBN-10, ISBN-13 or ASIN (hyphens and spaces are ok); format "
        "`book-identifier`: the ISBN's check digit must hold",
        examples=["0593655036"],
        json_schema_extra={"format": IDENTIFIER_FORMAT},
    ),
]
Days = Annotated[
    int, Query(ge=1, le=HISTORY_DAYS_MAX, description="How many days back from `as_of`")
]


class PricePoint(BaseModel):
    time: datetime
    value: float | None = Field(description="USD; null: no offer from then on")


class RankPoint(BaseModel):
    time: datetime
    value: int | None = Field(description="Sales rank; null: no rank from then on")


class BookSeries(BaseModel):
    """Each series is a step line: a value holds until the next point (the first point is the
    value in force at the window's start)."""

    new: list[PricePoint] = Field(default_factory=list, description="Lowest new offer")
    used: list[PricePoint] = Field(default_factory=list, description="Lowest used offer")
    buy_box: list[PricePoint] = Field(
        default_factory=list, description="New buy box, shipping included"
    )
    amazon: list[PricePoint] = Field(default_factory=list, description="Amazon's own offer")
    sales_rank: list[RankPoint] = Field(default_factory=list)


class RankDrop(BaseModel):
    """A sharp fall of the sales rank, counted as a sale."""

    time: datetime
    rank_before: int
    rank_after: int


class Interval(BaseModel):
    start: datetime
    end: datetime


class BookLinks(BaseModel):
    history: str
    chart_png: str
    chart_svg: str


class TrendView(BaseModel):
    """Least-squares fit of the logarithm of daily values over the window: `change_percent`
    over the window beyond `threshold_percent` either way is rising/falling, else flat. Prices
    in USD. A falling sales rank means the book sells better."""

    direction: TrendDirectionName
    change_percent: float | None
    threshold_percent: float
    fitted_start: float | None = Field(description="The fitted line at the window's start")
    fitted_end: float | None = Field(description="The fitted line at `as_of`")
    median: float | None
    first: float | None = Field(description="The value on the window's first day")
    last: float | None = Field(description="The value at `as_of`")
    days_with_value: int
    reason: str | None = Field(None, description="Why `unknown`")


class SeriesTrends(BaseModel):
    last_30_days: TrendView
    last_90_days: TrendView


class BookTrends(BaseModel):
    new: SeriesTrends
    used: SeriesTrends
    buy_box: SeriesTrends
    sales_rank: SeriesTrends


class LatestSnapshot(BaseModel):
    """The newest market snapshot's headline figures (USD)."""

    title: str | None = None
    binding: str | None = None
    last_update: datetime | None = None
    sales_rank: int | None = None
    buy_box_new_with_shipping: float | None = None
    buy_box_used_with_shipping: float | None = None
    new_price: float | None = None
    used_price: float | None = None
    lowest_new_with_shipping: float | None = None
    lowest_used_with_shipping: float | None = None
    amazon_price: float | None = None
    amazon_on_listing: bool | None = None
    new_offer_count: int | None = None
    used_offer_count: int | None = None
    sales_rank_drops30: int | None = None
    sales_rank_drops90: int | None = None
    monthly_sold: int | None = None


class BookView(BaseModel):
    identifier: str = Field(description="As you asked for it, normalised")
    asin: str
    isbn10: str | None
    isbn13: str | None
    title: str | None
    fetched_at: datetime = Field(description="When the book was last fetched from Keepa")
    as_of: datetime = Field(description="Keepa's last update of the book: the series end here")
    latest: LatestSnapshot
    trends: BookTrends
    links: BookLinks


class BookHistoryView(BaseModel):
    identifier: str
    asin: str
    title: str | None
    fetched_at: datetime
    as_of: datetime
    days: int
    series: BookSeries
    rank_drops: list[RankDrop]
    amazon_on_listing: list[Interval] = Field(description="When Amazon itself sold the book")
    links: BookLinks


class AnalysisWithChart(AnalysisView):
    chart_url: str | None = Field(
        None,
        description="The book's price and rank chart (PNG), a signed link usable as it is (an "
        f"`<img src>`: no Authorization header needed) for {CHART_URL_SECONDS // 60} minutes; "
        "read the analysis again for a fresh one",
    )


def signer(settings: Any) -> ChartSigner:
    return ChartSigner(settings.jwt_secret.get_secret_value())


def chart_url(asin: str | None, owner: uuid.UUID, settings: Any) -> str | None:
    """The signed link of the book's PNG chart, for `owner`."""
    if not asin:
        return None
    return signer(settings).sign(f"{PREFIX}/{asin}/chart.png", owner, time.time())


def with_chart_url(found: Any, owner: uuid.UUID, settings: Any) -> Any:
    """An analysis (or a page of them) with its book's chart link, signed for `owner`."""
    if isinstance(found, dict) and isinstance(found.get("items"), list):
        return {**found, "items": [with_chart_url(i, owner, settings) for i in found["items"]]}
    if isinstance(found, dict) and "asin" in found:
        return {**found, "chart_url": chart_url(found.get("asin"), owner, settings)}
    return found


_SIGNED = "A chart link from an analysis's `chart_url` (instead of an Authorization header)"
OwnerQuery = Annotated[
    str | None, Query(min_length=1, max_length=64, description=f"{_SIGNED}: its seller")
]
ExpQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=20, pattern=r"^[0-9]+$", description=f"{_SIGNED}: expiry"),
]
SigQuery = Annotated[
    str | None, Query(min_length=1, max_length=128, description=f"{_SIGNED}: its signature")
]


async def chart_viewer(
    request: Request,
    settings: SettingsDep,
    owner: OwnerQuery = None,
    exp: ExpQuery = None,
    sig: SigQuery = None,
    # Declared for the OpenAPI document's security schemes; `authenticate` reads the headers.
    _token: Annotated[str | None, Depends(oauth2)] = None,
    _api_key: Annotated[str | None, Depends(api_key_header)] = None,
) -> CurrentUserInfo:
    """The seller of a signed chart link (`sig`, `exp`, `owner`: 401 when altered or expired),
    else the caller the request guard authenticated."""
    if sig is None and owner is None and exp is None:
        known = getattr(request.state, "user", None)
        return known if isinstance(known, CurrentUserInfo) else await authenticate(request)
    if sig is None or owner is None or exp is None:
        raise unauthorized("invalid chart link: it needs owner, exp and sig")
    try:
        seller = signer(settings).verify(request.url.path, owner, exp, sig, time.time())
    except BadSignature as exc:
        raise unauthorized(str(exc)) from None
    async with request.app.state.runtime.sessions() as session:
        row = (
            await session.execute(
                select(users.c.id, users.c.email, users.c.role, users.c.disabled).where(
                    users.c.id == seller
                )
            )
        ).first()
    if row is None or row.disabled:
        raise unauthorized("account unknown or disabled")
    return CurrentUserInfo(row.id, row.email, row.role)


ChartViewer = Annotated[CurrentUserInfo, Depends(chart_viewer)]


CACHED = {"Cache-Control": {"description": CACHE_CONTROL, "schema": {"type": "string"}}}


@router.get(
    "/{identifier}",
    response_model=BookView,
    responses={200: {"headers": CACHED}, **problems(*AUTHENTICATED, 404)},
)
async def get_book(identifier: IdentifierPath, user: CurrentUser, services: ServicesDep) -> Any:
    """The book, its newest figures and whether its prices and rank are rising or falling over
    30 and 90 days (a book you analysed; no Keepa token is spent)."""
    parsed = _parse(identifier)
    found = await _internal(services, f"/internal/books/{parsed.normalized}", user)
    body = {**found, **_identity(parsed, found["asin"]), "links": _links(found["asin"])}
    return _cached_json(BookView.model_validate(body).model_dump(mode="json"))


@router.get(
    "/{identifier}/history",
    response_model=BookHistoryView,
    responses={200: {"headers": CACHED}, **problems(*AUTHENTICATED, 404)},
)
async def get_book_history(
    identifier: IdentifierPath, user: CurrentUser, services: ServicesDep, days: Days = 365
) -> Any:
    """The price (new, used, buy box, Amazon) and sales-rank series of the last `days` days,
    each sale (rank drop) and when Amazon was on the listing."""
    found = await _history(services, identifier, user, days)
    body = {**found, "identifier": _parse(identifier).normalized, "links": _links(found["asin"])}
    return _cached_json(BookHistoryView.model_validate(body).model_dump(mode="json"))


def _chart_responses(fmt: ChartFormat) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": f"The chart ({fmt.upper()})",
            "content": {CHART_MEDIA_TYPES[fmt]: {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                **CACHED,
                "ETag": {"description": "The chart's version", "schema": {"type": "string"}},
            },
        },
        304: {"description": "Not modified: the chart is the one your `If-None-Match` names"},
        **problems(*AUTHENTICATED, 404),
    }


class PngResponse(Response):
    media_type = CHART_MEDIA_TYPES["png"]


class SvgResponse(Response):
    media_type = CHART_MEDIA_TYPES["svg"]


@router.get(
    "/{identifier}/chart.png", response_class=PngResponse, responses=_chart_responses("png")
)
async def get_book_chart_png(
    identifier: IdentifierPath,
    user: ChartViewer,
    services: ServicesDep,
    days: Days = 365,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """The book's chart as Keepa draws it: price lines, the rank on a second axis, sales marked,
    Amazon's time on the listing shaded."""
    return await _chart(services, identifier, user, days, "png", if_none_match)


@router.get(
    "/{identifier}/chart.svg", response_class=SvgResponse, responses=_chart_responses("svg")
)
async def get_book_chart_svg(
    identifier: IdentifierPath,
    user: ChartViewer,
    services: ServicesDep,
    days: Days = 365,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """The chart as SVG; each series is an element with an id (`series-new`, `series-used`,
    `series-buy_box`, `series-amazon`, `series-sales_rank`, `rank-drops`, `amazon-on-listing-N`)."""
    return await _chart(services, identifier, user, days, "svg", if_none_match)


# --- helpers ----------------------------------------------------------------------------------

_RENDERED: OrderedDict[str, bytes] = OrderedDict()  # the last charts drawn, by ETag
RENDERED_KEPT = 32


async def _chart(
    services: ServicesDep,
    identifier: str,
    user: CurrentUserInfo,
    days: int,
    fmt: ChartFormat,
    if_none_match: str | None,
) -> Response:
    found = await _history(services, identifier, user, days)
    etag = _etag(found, fmt)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    image = _RENDERED.get(etag)
    if image is None:
        image = await render_chart(found, fmt)
        _RENDERED[etag] = image
        while len(_RENDERED) > RENDERED_KEPT:
            _RENDERED.popitem(last=False)
    else:
        _RENDERED.move_to_end(etag)
    return Response(image, media_type=CHART_MEDIA_TYPES[fmt], headers=headers)


def _etag(found: dict[str, Any], fmt: str) -> str:
    key = "|".join((CHART_VERSION, found["asin"], found["fetched_at"], str(found["days"]), fmt))
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


async def _history(
    services: ServicesDep, identifier: str, user: CurrentUserInfo, days: int
) -> dict[str, Any]:
    parsed = _parse(identifier)
    path = f"/internal/books/{parsed.normalized}/history"
    return await _internal(services, path, user, days=days)


async def _internal(
    services: ServicesDep, path: str, user: CurrentUserInfo, **params: Any
) -> dict[str, Any]:
    owner = owner_param(None if user.is_admin else user.id)  # an admin sees every book
    found = await services.analysis(path, {**params, **owner})
    if found is None:
        raise ProblemError(
            404,
            "not-found",
            "Not found",
            "no history of this book yet: analyse it first (POST /api/v1/analyses, or a batch); "
            "its Keepa history is kept from then on",
        )
    return found  # type: ignore[no-any-return]


def _parse(identifier: str) -> Identifier:
    try:
        return parse_identifier(identifier)
    except InvalidIdentifier as exc:
        raise invalid("identifier", exc.reason) from None


def _identity(parsed: Identifier, asin: str) -> dict[str, Any]:
    try:
        as_isbn = parse_identifier(asin)  # a book's ASIN is its ISBN-10
    except InvalidIdentifier:
        as_isbn = parsed
    isbn13 = parsed.isbn13 or as_isbn.isbn13
    return {
        "identifier": parsed.normalized,
        "isbn13": isbn13,
        "isbn10": parsed.isbn10 or as_isbn.isbn10,
    }


def _links(asin: str) -> dict[str, str]:
    return {
        "history": f"{PREFIX}/{asin}/history",
        "chart_png": f"{PREFIX}/{asin}/chart.png",
        "chart_svg": f"{PREFIX}/{asin}/chart.svg",
    }


def _cached_json(body: dict[str, Any]) -> Response:
    return JSONResponse(body, headers={"Cache-Control": CACHE_CONTROL})
