"""ArbitrageVault analysis engine: the pure domain (no I/O, no frameworks).

Flow: ``parse_keepa_product`` turns a Keepa product object into a ``MarketSnapshot``;
``analyse`` prices one book against it for a ``Strategy`` and the seller's ``SellerCosts``, using
the fee schedule in force at ``as_of``; ``analysis_to_json`` / ``market_snapshot_to_json`` make
the results storable. Every batch chunk and the instant single-book analysis use this one path.
"""

from .analysis import (
    ENGINE_VERSION,
    Analysis,
    FeeBreakdown,
    ItemToAnalyse,
    Outcome,
    Recommendation,
    RuleCheck,
)
from .engine import analyse
from .fee_tables import FEE_SCHEDULES, FeeSchedule
from .fees import (
    InboundPlacement,
    PackageSize,
    PriceBand,
    SizeTier,
    fulfillment_fee,
    inbound_placement_fee,
    price_band,
    schedule_by_id,
    schedule_in_force,
    size_tier,
)
from .keepa_format import keepa_minutes_to_datetime
from .keepa_product import parse_keepa_product
from .market import Fulfillment, LowestOffer, MarketSnapshot, MarketUsability
from .risk import RiskFlag
from .serialization import analysis_to_json, market_snapshot_from_json, market_snapshot_to_json
from .strategy import STRATEGY_PRESETS, RankBand, SellerCosts, Strategy, strategy_preset
from .velocity import estimate_monthly_sales, expected_days_to_sell, velocity_score

__all__ = [
    "ENGINE_VERSION",
    "FEE_SCHEDULES",
    "STRATEGY_PRESETS",
    "Analysis",
    "FeeBreakdown",
    "FeeSchedule",
    "Fulfillment",
    "InboundPlacement",
    "ItemToAnalyse",
    "LowestOffer",
    "MarketSnapshot",
    "MarketUsability",
    "Outcome",
    "PackageSize",
    "PriceBand",
    "RankBand",
    "Recommendation",
    "RiskFlag",
    "RuleCheck",
    "SellerCosts",
    "SizeTier",
    "Strategy",
    "analyse",
    "analysis_to_json",
    "estimate_monthly_sales",
    "expected_days_to_sell",
    "fulfillment_fee",
    "inbound_placement_fee",
    "keepa_minutes_to_datetime",
    "market_snapshot_from_json",
    "market_snapshot_to_json",
    "parse_keepa_product",
    "price_band",
    "schedule_by_id",
    "schedule_in_force",
    "size_tier",
    "strategy_preset",
    "velocity_score",
]
