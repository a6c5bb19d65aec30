from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from av_shared.views import AnalysisView


def analysis_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A stored analysis as the public API shows it (columns plus the engine's full answer)."""
    result: Mapping[str, Any] = row["result"]
    view = AnalysisView(
        id=row["id"],
        batch_id=row["batch_id"],
        item_no=row["item_no"],
        identifier=row["identifier"],
        asin=row["asin"],
        title=row["title"],
        condition=row["condition"],
        buy_cost=float(row["buy_cost"]),
        outcome=row["outcome"],
        recommendation=row["recommendation"],
        sell_price=result.get("sell_price"),
        price_basis=result.get("price_basis"),
        fees=result.get("fees"),
        profit=result.get("profit"),
        roi_percent=result.get("roi_percent"),
        margin_percent=result.get("margin_percent"),
        break_even_buy_cost=result.get("break_even_buy_cost"),
        max_buy_cost_for_target_roi=result.get("max_buy_cost_for_target_roi"),
        velocity_score=result.get("velocity_score"),
        estimated_monthly_sales=result.get("estimated_monthly_sales"),
        expected_days_to_sell=result.get("expected_days_to_sell"),
        sales_rank=result.get("sales_rank"),
        risk_flags=list(result.get("risk_flags") or []),
        reasons=list(result.get("reasons") or []),
        summary=result.get("summary") or "",
        fee_schedule=row["fee_schedule_id"],
        engine_version=row["engine_version"],
        market_snapshot_id=row["market_snapshot_id"],
        created_at=row["created_at"],
        # Rows stored before engine 2026.12.5 (and their results): one copy, no totals.
        quantity=row.get("quantity") or 1,
        note=row.get("note"),
        total_profit=result.get("total_profit"),
        total_cash_needed=result.get("total_cash_needed"),
        days_to_sell_all=result.get("days_to_sell_all"),
        monthly_sales_share=result.get("monthly_sales_share"),
        sellable_within_horizon=result.get("sellable_within_horizon"),
        season=result.get("season"),
    )
    return view.model_dump(mode="json")
