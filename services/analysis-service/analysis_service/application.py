"""The one path every analysis takes (batch chunks and instant analyses alike):
identifiers → market data (cache, then Keepa) → the engine → rows to store."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from av_shared.events import BusinessConfigSnapshot, ChunkItem

from .adapters.market_data import (
    CachedSnapshot,
    CodeResult,
    MarketData,
    MarketDataFailure,
    no_product,
)
from .domain import (
    InboundPlacement,
    ItemToAnalyse,
    RankBand,
    SellerCosts,
    Strategy,
    analyse,
    analysis_to_json,
)


@dataclass(frozen=True)
class ItemFailed:
    item: ChunkItem
    reason: str
    retryable: bool = True  # False: Keepa answered, and there is nothing to analyse


@dataclass(frozen=True)
class ItemAnalysed:
    item: ChunkItem
    row: dict[str, Any]  # ready for the `analyses` table (without owner/batch/id)


ItemOutcome = ItemAnalysed | ItemFailed


def strategy_of(config: BusinessConfigSnapshot) -> Strategy:
    s = config.strategy
    return Strategy(
        name=s.name,
        min_roi_percent=s.min_roi_percent,
        min_profit=s.min_profit,
        min_velocity_score=s.min_velocity_score,
        max_sales_rank=s.max_sales_rank,
        max_competing_fba_offers=s.max_competing_fba_offers,
        max_amazon_buy_box_percent=s.max_amazon_buy_box_percent,
        rank_bands=None
        if s.rank_bands is None
        else tuple(
            RankBand(
                up_to_rank=b.up_to_rank,
                min_profit=b.min_profit,
                min_roi_percent=b.min_roi_percent,
                sell_against=b.sell_against,
                fba_offer_slot=b.fba_offer_slot,
            )
            for b in s.rank_bands
        ),
        sell_within_days=s.sell_within_days,
    )


def seller_costs_of(config: BusinessConfigSnapshot) -> SellerCosts:
    c = config.seller_costs
    return SellerCosts(
        inbound_shipping_per_lb=c.inbound_shipping_per_lb,
        prep_per_unit=c.prep_per_unit,
        sales_tax_percent=c.sales_tax_percent,
        inbound_placement=InboundPlacement(c.inbound_placement),
    )


async def analyse_items(
    market: MarketData,
    items: Sequence[ChunkItem],
    config: BusinessConfigSnapshot,
    *,
    instant: bool,
    now: datetime | None = None,
) -> list[ItemOutcome]:
    codes = [i.identifier for i in items if i.asin is None]
    resolved = await market.resolve_codes(codes, instant=instant) if codes else {}
    asin_of: dict[int, CodeResult] = {
        i.item_no: i.asin or resolved.get(i.identifier) or no_product(i.identifier) for i in items
    }
    snapshots = await market.snapshots(
        [a for a in asin_of.values() if isinstance(a, str)], instant=instant
    )
    as_of = now or datetime.now(UTC)
    strategy, costs = strategy_of(config), seller_costs_of(config)
    outcomes: list[ItemOutcome] = []
    for item in items:
        asin = asin_of[item.item_no]
        if isinstance(asin, MarketDataFailure):
            outcomes.append(ItemFailed(item, asin.reason, asin.retryable))
            continue
        market_result = snapshots.get(asin, MarketDataFailure("no market data fetched"))
        if isinstance(market_result, MarketDataFailure):
            outcomes.append(ItemFailed(item, market_result.reason, market_result.retryable))
            continue
        outcomes.append(
            ItemAnalysed(item, _row(item, asin, market_result, strategy, costs, config, as_of))
        )
    return outcomes


def _row(
    item: ChunkItem,
    asin: str,
    market: CachedSnapshot,
    strategy: Strategy,
    costs: SellerCosts,
    config: BusinessConfigSnapshot,
    as_of: datetime,
) -> dict[str, Any]:
    to_analyse = ItemToAnalyse(
        identifier=item.identifier,
        asin=asin,
        buy_cost=Decimal(item.buy_cost),
        condition=item.condition,
        quantity=item.quantity,
    )
    result = analyse(to_analyse, market.snapshot, strategy, costs, as_of=as_of)
    result_json = analysis_to_json(result)
    return {
        "id": uuid.uuid4(),
        "item_no": item.item_no,
        "identifier": item.identifier,
        "asin": asin,
        "buy_cost": item.buy_cost,
        "condition": item.condition,
        "outcome": str(result.outcome),
        "recommendation": str(result.recommendation),
        "sell_price": result.sell_price,
        "profit": result.profit,
        "roi_percent": result.roi_percent,
        "velocity_score": result.velocity_score,
        "sales_rank": result.sales_rank,
        "quantity": item.quantity,
        "note": item.note,
        "total_profit": None if result.totals is None else result.totals.total_profit,
        "total_cash_needed": None if result.totals is None else result.totals.total_cash_needed,
        "days_to_sell_all": None if result.totals is None else result.totals.days_to_sell_all,
        "title": market.snapshot.title,
        "result": result_json,
        "config": config.model_dump(mode="json"),
        "market_snapshot_id": market.snapshot_id,
        "engine_version": result.engine_version,
        "fee_schedule_id": result.fee_schedule_id,
    }
