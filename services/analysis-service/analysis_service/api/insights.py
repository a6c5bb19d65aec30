"""A batch's insights for the gateway: the rows are summed in SQL (a batch of 100,000 lines is
never read into Python), the figures are derived by `domain.insights`."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from av_shared.internal_auth import Owner

from ..db.tables import analyses, item_failures
from ..domain.insights import (
    FEW_SALES_PER_MONTH,
    HORIZON_DAYS,
    MAX_PICKS,
    OUTCOME_REASONS,
    BatchSums,
    GroupSums,
    Pick,
    RiskCount,
    RuleCount,
    batch_insights,
)
from .routes import _sessions

router = APIRouter()
MAX_EARLIER = 20
# owner_id NULL: the admin view (every owner).
OWNER = "(CAST(:owner_id AS uuid) IS NULL OR owner_id = :owner_id)"
OWNED = f"batch_id = :batch_id AND {OWNER}"


def _lines(where: str) -> str:
    """One line's figures for all its copies (the totals engine 2026.12.5 stores in columns).
    Analyses made before have one copy and no totals: the cost and profit of that copy, its days
    to sell. The rest of the JSON is read by one jsonb_to_record a row: each `->>` would
    decompress it again."""
    return f"""
SELECT a.batch_id, a.item_no, a.identifier, a.title, a.recommendation, a.outcome, a.roi_percent,
       a.quantity AS units,
       COALESCE(a.total_cash_needed, a.buy_cost * a.quantity) AS cash,
       COALESCE(a.total_profit, a.profit * a.quantity, 0) AS profit,
       COALESCE(a.days_to_sell_all, x.expected_days_to_sell) AS days,
       x.estimated_monthly_sales AS sales,
       jsonb_typeof(x.season) = 'object' AS seasonal
FROM {analyses.fullname} a,
     jsonb_to_record(a.result) AS x(expected_days_to_sell int, estimated_monthly_sales numeric,
                                    season jsonb)
WHERE {where}
"""


LINES = _lines(OWNED)
_HORIZONS = ",".join(
    f"COALESCE(SUM(cash) FILTER (WHERE days <= {d}), 0) AS cash_{d}, "
    f"COALESCE(SUM(profit) FILTER (WHERE days <= {d}), 0) AS profit_{d}"
    for d in HORIZON_DAYS
)
GROUPS = f"""
WITH lines AS ({LINES})
SELECT recommendation, COUNT(*) AS lines, SUM(units) AS units,
       COALESCE(SUM(cash), 0) AS cash, COALESCE(SUM(profit), 0) AS profit,
       COALESCE(SUM(cash) FILTER (WHERE days IS NOT NULL), 0) AS dated_cash,
       COALESCE(SUM(cash * days), 0) AS cash_days, MAX(days) AS max_days,
       COUNT(*) FILTER (WHERE days IS NULL) AS undated,
       COUNT(*) FILTER (WHERE sales < {FEW_SALES_PER_MONTH}) AS few_sales,
       COUNT(*) FILTER (WHERE seasonal) AS seasonal,
       {_HORIZONS}
FROM lines GROUP BY recommendation
"""
PICKS = f"""
WITH lines AS ({LINES})
SELECT item_no, identifier, title, units, profit, roi_percent, days FROM lines
WHERE recommendation = 'BUY' AND days IS NOT NULL
ORDER BY profit / GREATEST(days, 1) DESC, item_no LIMIT {MAX_PICKS}
"""
# Only a rule that failed (passed = false) holds a line back; one not checked (null) does not.
RULES = f"""
SELECT a.recommendation, r->>'rule' AS rule, COUNT(*) AS lines
FROM {analyses.fullname} a, jsonb_array_elements(a.result->'reasons') r
WHERE {OWNED} AND a.recommendation IN ('PASS', 'WATCH') AND r->>'passed' = 'false'
GROUP BY 1, 2
UNION ALL
SELECT recommendation, outcome, COUNT(*) FROM {analyses.fullname}
WHERE {OWNED} AND outcome IN ({",".join(f"'{o}'" for o in OUTCOME_REASONS)})
GROUP BY 1, 2
"""
RISKS = f"""
SELECT f AS risk, COUNT(*) AS lines, COUNT(*) FILTER (WHERE recommendation = 'BUY') AS buy_lines
FROM {analyses.fullname}, jsonb_array_elements_text(result->'risk_flags') f
WHERE {OWNED} GROUP BY f
"""
EARLIER = f"""
WITH lines AS ({_lines(f"batch_id = ANY(:batch_ids) AND {OWNER}")})
SELECT batch_id, COUNT(*) AS lines, COUNT(*) FILTER (WHERE recommendation = 'BUY') AS buy_lines,
       COALESCE(SUM(cash) FILTER (WHERE recommendation = 'BUY'), 0) AS buy_cash,
       COALESCE(SUM(profit) FILTER (WHERE recommendation = 'BUY'), 0) AS buy_profit
FROM lines GROUP BY batch_id
"""
FAILED = f"SELECT COUNT(*) FROM {item_failures.fullname} WHERE {OWNED}"


@router.get("/batches/{batch_id}/insights")
async def get_batch_insights(
    request: Request,
    batch_id: uuid.UUID,
    owner_id: Owner,
    earlier: Annotated[str | None, Query(max_length=MAX_EARLIER * 37)] = None,
) -> dict[str, Any]:
    """The batch's figures over the lines analysed so far; `earlier`: comma-separated ids of the
    owner's earlier batches to compare with (newest first; another owner's are not found)."""
    async with _sessions(request)() as session:
        return await batch_figures(session, batch_id, owner_id, _batch_ids(earlier))


async def batch_figures(
    session: AsyncSession,
    batch_id: uuid.UUID,
    owner_id: uuid.UUID | None,
    earlier: list[uuid.UUID],
) -> dict[str, Any]:
    params = {"batch_id": batch_id, "owner_id": owner_id}
    # One snapshot for every query: a running batch's figures agree with each other.
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    groups = [_group(r) for r in await _rows(session, GROUPS, params)]
    rules = [RuleCount(*r) for r in await _rows(session, RULES, params)]
    risks = [RiskCount(*r) for r in await _rows(session, RISKS, params)]
    picks = [_pick(r) for r in await _rows(session, PICKS, params)]
    before = await _earlier(session, earlier, owner_id)
    failed = await session.scalar(text(FAILED), params) or 0
    return batch_insights(
        groups, rules=rules, risks=risks, picks=picks, earlier=before, failed_lines=failed
    )


def _batch_ids(earlier: str | None) -> list[uuid.UUID]:
    parts = [p.strip() for p in (earlier or "").split(",") if p.strip()]
    try:
        ids = [uuid.UUID(p) for p in parts]
    except ValueError:
        raise HTTPException(422, "earlier: comma-separated batch ids") from None
    if len(ids) > MAX_EARLIER:
        raise HTTPException(422, f"earlier: at most {MAX_EARLIER} batches")
    return list(dict.fromkeys(ids))


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[Any]:
    return list((await session.execute(text(sql), params)).all())


async def _earlier(
    session: AsyncSession, ids: list[uuid.UUID], owner_id: uuid.UUID | None
) -> list[BatchSums]:
    if not ids:
        return []
    params = {"batch_ids": ids, "owner_id": owner_id}
    found = {
        r.batch_id: BatchSums(r.batch_id, r.lines, r.buy_lines, r.buy_cash, r.buy_profit)
        for r in await _rows(session, EARLIER, params)
    }
    return [found[i] for i in ids if i in found]  # in the order asked (newest first)


def _group(r: Any) -> GroupSums:
    return GroupSums(
        recommendation=r.recommendation,
        lines=r.lines,
        units=int(r.units or 0),
        cash=Decimal(r.cash),
        profit=Decimal(r.profit),
        dated_cash=Decimal(r.dated_cash),
        cash_days=Decimal(r.cash_days),
        max_days=r.max_days,
        undated_lines=r.undated,
        few_sales_lines=r.few_sales,
        seasonal_lines=r.seasonal,
        cash_by_horizon=tuple(Decimal(getattr(r, f"cash_{d}")) for d in HORIZON_DAYS),
        profit_by_horizon=tuple(Decimal(getattr(r, f"profit_{d}")) for d in HORIZON_DAYS),
    )


def _pick(r: Any) -> Pick:
    return Pick(
        item_no=r.item_no,
        identifier=r.identifier,
        title=r.title,
        quantity=r.units,
        profit=Decimal(r.profit),
        roi_percent=None if r.roi_percent is None else Decimal(r.roi_percent),
        days_to_sell=r.days,
    )
