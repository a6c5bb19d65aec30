"""Your business config: strategy thresholds, seller costs and batch defaults, versioned.

Each batch is analysed with the version that was current when it was submitted.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from av_shared.pagination import (
    AFTER_DESCRIPTION,
    MAX_CURSOR_LENGTH,
    MAX_OFFSET_ROWS,
    MAX_PAGE_SIZE,
    PAGE_DESCRIPTION,
    PAGINATION_NOTE,
    Page,
    check_page,
    encode_cursor,
    offset_of,
    page_answer,
    read_cursor,
)

from .. import business_config
from ..business_config import ConfigVersion
from .deps import CurrentUser, KnownQueryOnly, SessionDep
from .problems import AUTHENTICATED, WITH_BODY, ProblemError, problems
from .schemas import IF_MATCH_PATTERN, BusinessConfigIn, BusinessConfigOut

router = APIRouter(prefix="/api/v1/config", tags=["config"], dependencies=KnownQueryOnly)
ETAG = {
    "ETag": {
        "description": 'The version, e.g. `"3"`: send it as If-Match to PUT',
        "schema": {"type": "string"},
    }
}


class ConfigVersionPage(Page[BusinessConfigOut]):
    """Saved versions of your config, newest first."""


def _out(found: ConfigVersion) -> BusinessConfigOut:
    doc = found.document
    return BusinessConfigOut.model_validate(
        {
            "version": found.version,
            "created_at": found.created_at,
            "strategy": doc.strategy.model_dump(),
            "seller_costs": doc.seller_costs.model_dump(),
            "batch_defaults": doc.batch_defaults,
        }
    )


def _etag(version: int) -> str:
    return f'"{version}"'


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    if re.fullmatch(IF_MATCH_PATTERN, if_match.strip()):  # as the document states it
        return int(if_match.strip().removeprefix("W/").strip('"'))
    raise ProblemError(
        400,
        "bad-if-match",
        "Bad If-Match",
        'If-Match takes the ETag of GET /api/v1/config, e.g. "3"',
    )


@router.get(
    "",
    response_model=BusinessConfigOut,
    responses={200: {"description": "Your config", "headers": ETAG}, **problems(*AUTHENTICATED)},
)
async def get_config(user: CurrentUser, session: SessionDep, response: Response) -> Any:
    """The latest version (version 0, the defaults, until you change it)."""
    found = await business_config.latest(session, user.id)
    response.headers["ETag"] = _etag(found.version)
    return _out(found)


@router.put(
    "",
    response_model=BusinessConfigOut,
    responses={
        200: {"description": "Saved as a new version", "headers": ETAG},
        **problems(
            *AUTHENTICATED,
            *WITH_BODY,
            400,
            412,
            s400='If-Match is not an ETag of this config (e.g. `"3"`)',
        ),
    },
)
async def replace_config(
    body: BusinessConfigIn,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(
            max_length=40,
            description='Only if still this version: an ETag of GET (`"3"`), or `*`',
            json_schema_extra={"pattern": IF_MATCH_PATTERN},
        ),
    ] = None,
) -> Any:
    """Replace the config; saved as a new version. Batches already submitted keep theirs."""
    expected = _expected_version(if_match)
    async with session.begin():
        saved = await business_config.save(
            session, user.id, business_config.document_of(body), expected
        )
    if saved is None:
        raise ProblemError(
            412,
            "config-changed",
            "Config changed meanwhile",
            "your config has a newer version: GET it and apply your change again",
        )
    response.headers["ETag"] = _etag(saved.version)
    return _out(saved)


@router.get(
    "/history",
    response_model=ConfigVersionPage,
    responses=problems(*AUTHENTICATED),
    description="Every saved version, newest first, with the time it was saved." + PAGINATION_NOTE,
)
async def list_config_versions(
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=MAX_OFFSET_ROWS, description=PAGE_DESCRIPTION)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    after: Annotated[
        str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description=AFTER_DESCRIPTION)
    ] = None,
) -> Any:
    check_page(page, size, after)
    before = None
    if after is not None:
        [version] = read_cursor(after, "-version", ["int"])
        before = version if isinstance(version, int) else None
    offset = 0 if after else offset_of(page, size)
    read, total = await business_config.history(session, user.id, offset, size + 1, before)
    versions, cursor = page_answer(read, size, lambda v: encode_cursor("-version", [v.version]))
    return ConfigVersionPage(
        items=[_out(v) for v in versions], total=total, page=page, size=size, next=cursor
    )
