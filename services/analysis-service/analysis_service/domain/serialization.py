"""JSON-safe dictionaries for analyses and market snapshots.

Money is a float rounded to cents, enums are their string values, datetimes ISO 8601 (UTC).
``market_snapshot_from_json(market_snapshot_to_json(s)) == s`` for every snapshot, so a stored
analysis can be re-run on exactly the market data it saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any, get_type_hints

from .analysis import Analysis, FeeBreakdown, QuantityTotals, RuleCheck, SeasonView
from .fees import schedule_by_id
from .market import (
    Fulfillment,
    LowestOffer,
    MarketSnapshot,
    MarketUsability,
    PeakWindow,
    SeasonProfile,
)

SNAPSHOT_FORMAT = 1


def _number(value: Decimal | None, places: int = 2) -> float | None:
    return None if value is None else round(float(value), places)


def _plain(value: Any) -> Any:
    """Decimals to floats, enums to values, datetimes to ISO, dataclasses to dicts."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _fees_json(fees: FeeBreakdown) -> dict[str, Any]:
    money_fields = (
        "referral_fee", "closing_fee", "fulfillment_fee", "storage_fee", "inbound_shipping",
        "prep", "sales_tax", "total", "keepa_pick_and_pack_fee", "fuel_surcharge",
        "inbound_placement_fee",
    )  # fmt: skip
    result: dict[str, Any] = {name: _number(getattr(fees, name)) for name in money_fields}
    result["amazon_fees"] = _number(fees.amazon_fees)
    result["seller_costs"] = _number(fees.seller_costs)
    result["fulfillment_basis"] = fees.fulfillment_basis
    result["size_tier"] = fees.size_tier
    result["price_band"] = fees.price_band
    result["billable_weight_lb"] = _number(fees.billable_weight_lb)
    result["storage_days"] = fees.storage_days
    result["inbound_placement"] = fees.inbound_placement
    return result


def _rule_json(check: RuleCheck) -> dict[str, Any]:
    return {
        "rule": check.rule,
        "threshold": check.threshold,
        "actual": check.actual,
        "passed": check.passed,
        "message": check.message,
        "band": check.band,
    }


def _totals_json(t: QuantityTotals | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "total_profit": _number(t.total_profit),
        "total_cash_needed": _number(t.total_cash_needed),
        "monthly_sales_share": _number(t.monthly_sales_share),
        "days_to_sell_all": t.days_to_sell_all,
        "sellable_within_horizon": t.sellable_within_horizon,
    }


def _season_json(s: SeasonView | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "peaks": list(s.peaks),
        "next_peak": s.next_peak,
        "next_peak_starts": s.next_peak_starts.isoformat(),
        "days_to_next_peak": s.days_to_next_peak,
        "expected_peak_price": _number(s.expected_peak_price),
        "off_peak_price": _number(s.off_peak_price),
        "years_observed": s.years_observed,
    }


def analysis_to_json(a: Analysis) -> dict[str, Any]:
    schedule = schedule_by_id(a.fee_schedule_id)
    return {
        "outcome": a.outcome,
        "recommendation": a.recommendation.value,
        "summary": a.summary,
        "asin": a.asin,
        "identifier": a.identifier,
        "condition": a.condition,
        "buy_cost": _number(a.buy_cost),
        "sell_price": _number(a.sell_price),
        "price_basis": a.price_basis,
        "priced_from_history": a.priced_from_history,
        "fees": None if a.fees is None else _fees_json(a.fees),
        "profit": _number(a.profit),
        "roi_percent": _number(a.roi_percent),
        "margin_percent": _number(a.margin_percent),
        "break_even_buy_cost": _number(a.break_even_buy_cost),
        "max_buy_cost_for_target_roi": _number(a.max_buy_cost_for_target_roi),
        "velocity_score": a.velocity_score,
        "estimated_monthly_sales": _number(a.estimated_monthly_sales),
        "sales_estimate_basis": a.sales_estimate_basis,
        "expected_days_to_sell": a.expected_days_to_sell,
        "sales_rank": a.sales_rank,
        "competing_offers": a.competing_offers,
        "competing_fba_offers": a.competing_fba_offers,
        "risk_flags": list(a.risk_flags),
        "reasons": [_rule_json(r) for r in a.reasons],
        "engine_version": a.engine_version,
        "fee_schedule_id": a.fee_schedule_id,
        "fee_schedule": {
            "id": schedule.id,
            "effective_from": schedule.effective_from.isoformat(),
            "source": schedule.source,
        },
        "as_of": None if a.as_of is None else a.as_of.isoformat(),
        "strategy": _plain(a.strategy),
        "seller_costs": _plain(a.seller_costs),
        "quantity": a.quantity,
        **(_totals_json(a.totals) or {}),
        "season": _season_json(a.season),
    }


def market_snapshot_to_json(s: MarketSnapshot) -> dict[str, Any]:
    result: dict[str, Any] = {"snapshot_format": SNAPSHOT_FORMAT}
    for field in dataclasses.fields(s):
        result[field.name] = _plain(getattr(s, field.name))
    return result


_SNAPSHOT_TYPES = get_type_hints(MarketSnapshot)
_OFFER_TYPES = get_type_hints(LowestOffer)


def _as_is(value: Any) -> Any:
    return value


def _loader(kind: Any) -> Callable[[Any], Any]:
    """How a stored JSON value becomes a field of `kind` (chosen once per field, not per load)."""
    text = str(kind)
    if "Decimal" in text:
        return _decimal
    if "datetime" in text:
        return datetime.fromisoformat
    if "bool" in text:
        return bool
    if "int" in text:
        return int
    return _as_is


_LOADERS: dict[Any, Callable[[Any], Any]] = {}


def _load(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    load = _LOADERS.get(kind)
    if load is None:
        load = _LOADERS[kind] = _loader(kind)
    return load(value)


def _offer_from_json(d: Mapping[str, Any]) -> LowestOffer:
    values = {
        name: _load(kind, d[name])
        for name, kind in _OFFER_TYPES.items()
        if name not in ("fulfillment", "condition") and name in d  # absent: the default
    }
    return LowestOffer(
        condition=int(d["condition"]), fulfillment=Fulfillment(d["fulfillment"]), **values
    )


def _decimal(value: Any) -> Decimal:
    return Decimal(repr(float(value))) if isinstance(value, float) else Decimal(str(value))


def _season_from_json(d: Mapping[str, Any] | None) -> SeasonProfile | None:
    if not d:
        return None
    windows = tuple(
        PeakWindow(**{name: _load(kind, w.get(name)) for name, kind in _WINDOW_TYPES.items()})
        for w in d.get("windows") or ()
    )
    return SeasonProfile(int(d["years_observed"]), windows)


_WINDOW_TYPES = get_type_hints(PeakWindow)
_LADDERS = ("fba_offer_prices_new", "fba_offer_prices_used")


def _ladder(d: Mapping[str, Any], name: str) -> tuple[Decimal, ...] | None:
    values = d.get(name)
    return None if values is None else tuple(_decimal(v) for v in values)


def market_snapshot_from_json(d: Mapping[str, Any]) -> MarketSnapshot:
    special = {
        "asin", "usability", "lowest_offers", "sources", "keepa_says_book", "season", *_LADDERS,
    }  # fmt: skip
    values = {
        name: _load(kind, d.get(name))
        for name, kind in _SNAPSHOT_TYPES.items()
        if name not in special
    }
    return MarketSnapshot(
        asin=str(d.get("asin", "")),
        usability=MarketUsability(d.get("usability", MarketUsability.NO_MARKET_DATA.value)),
        lowest_offers=tuple(_offer_from_json(o) for o in d.get("lowest_offers") or ()),
        sources=MappingProxyType({str(k): str(v) for k, v in (d.get("sources") or {}).items()}),
        # Snapshots stored before the field existed: as they were decided then.
        keepa_says_book=d.get("keepa_says_book", d.get("usability") != "not_a_book"),
        # Snapshots stored before engine 2026.12.5: no ladders, no season.
        fba_offer_prices_new=_ladder(d, "fba_offer_prices_new"),
        fba_offer_prices_used=_ladder(d, "fba_offer_prices_used"),
        season=_season_from_json(d.get("season")),
        **values,
    )
