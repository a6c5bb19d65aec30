"""``analyse``: one correct, explainable answer per book. Pure: the same inputs always give the
same output; time comes in as ``as_of`` (naive datetimes are taken as UTC)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from . import fees as f
from . import quantity as q
from .analysis import (
    ENGINE_VERSION,
    Analysis,
    FeeBreakdown,
    ItemToAnalyse,
    Outcome,
    Recommendation,
    RuleCheck,
    SeasonView,
)
from .bands import apply_band
from .book_detection import as_typed_isbn
from .fee_tables import FeeSchedule
from .market import MarketSnapshot, MarketUsability
from .pricing import (
    SalePrice,
    break_even_buy_cost,
    choose_sale_price,
    describe,
    max_buy_cost_for_roi,
)
from .risk import RiskFlag, risk_flags
from .rules import MONEY_RULES, check_rules, dollars, price_checks, recommend
from .seasonality import next_peak
from .strategy import RankBand, SellerCosts, Strategy
from .velocity import estimate_monthly_sales, expected_days_to_sell, velocity_score

PERCENT = Decimal("0.01")
# When Keepa has no package data: a typical trade paperback/hardcover, on the heavy side.
ASSUMED_PACKAGE = f.PackageSize(Decimal(9), Decimal(6), Decimal("1.5"), Decimal(2))
STORAGE_DAYS_WHEN_UNKNOWN = 180  # no sales estimate: assume half a year on the shelf


def analyse(
    item: ItemToAnalyse,
    market: MarketSnapshot,
    strategy: Strategy,
    seller_costs: SellerCosts,
    *,
    as_of: datetime,
) -> Analysis:
    as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
    schedule = f.schedule_in_force(as_of)
    used = _is_used(item.condition)
    context = _Context(item, strategy, seller_costs, as_of, schedule.id)
    market = as_typed_isbn(market, item.identifier)
    if market.usability is not MarketUsability.USABLE:
        check = RuleCheck(
            "market_data", "usable market data", market.usability.value, False,
            market.usability_reason or "No usable market data.",
        )  # fmt: skip
        return context.without_price(Outcome(market.usability.value), market, check)
    applied = apply_band(strategy, market.sales_rank)
    band = applied.band
    sale = choose_sale_price(
        market, used=used, sell_against=band.sell_against, fba_offer_slot=band.fba_offer_slot
    )
    condition = "used" if used else "new"
    if sale is None:
        check = RuleCheck(
            "sell_price", f"a current {condition} offer or a 30/90/180-day {condition} average",
            "none", False,
            f"Keepa has no {condition} price for this book, so it cannot be priced.",
        )  # fmt: skip
        return context.without_price(Outcome.NO_MARKET_DATA, market, check)

    estimate = estimate_monthly_sales(market)
    competing = market.used_offer_count if used else market.new_offer_count
    competing_fba = market.used_fba_offer_count if used else market.new_fba_offer_count
    days = expected_days_to_sell(estimate.monthly_sales, competing)
    score = velocity_score(estimate.monthly_sales)
    fee_lines, tier, billable, rate_card_fee = _fees(
        schedule, market, sale, seller_costs, item.buy_cost, as_of, days
    )
    profit = sale.amount - fee_lines.total - item.buy_cost
    cost_basis = item.buy_cost + fee_lines.sales_tax + fee_lines.inbound_shipping + fee_lines.prep
    roi = _percent(profit, cost_basis)
    proceeds = sale.amount - fee_lines.amazon_fees
    fixed = fee_lines.inbound_shipping + fee_lines.prep
    tax = seller_costs.sales_tax_percent
    banded = replace(strategy, min_profit=band.min_profit, min_roi_percent=band.min_roi_percent)
    steady = q.pace(item.quantity, estimate.monthly_sales, competing, strategy.sell_within_days)
    horizon = q.horizon_check(item.quantity, steady, strategy.sell_within_days)
    reasons = check_rules(
        banded, profit=profit, roi_percent=roi, velocity=score,
        sales_rank=market.sales_rank, competing_fba=competing_fba, competing_offers=competing,
        amazon_buy_box_percent=market.amazon_buy_box_percent,
    ) + price_checks(sale, condition) + ((horizon,) if horizon else ())  # fmt: skip
    if strategy.rank_bands:
        reasons = (applied.check, *reasons)
    season = next_peak(market.season, as_of, used=used)
    hold = _season_check(
        season, strategy, band, sale, market, seller_costs, item.buy_cost, as_of, days, schedule
    )
    reasons = _banded(reasons + ((hold,) if hold else ()), applied.label, sale)
    recommendation = recommend(reasons)
    if recommendation is Recommendation.PASS and hold is not None and hold.passed:
        recommendation = Recommendation.WATCH  # worth holding until the peak (seasonality.py)
    flags = risk_flags(
        market, used=used, as_of=as_of, size_tier=tier, billable_weight_lb=billable,
        rate_card_fulfillment_fee=rate_card_fee, competing_offers=competing,
        competing_fba_offers=competing_fba, priced_from_history=sale.from_history,
    )  # fmt: skip
    if horizon is not None and horizon.passed is False:
        flags = (*flags, RiskFlag.QUANTITY_BEYOND_HORIZON.value)
    mean_storage = fee_lines.storage_fee  # one copy: exactly its own storage
    if item.quantity > 1 and steady.mean_holding_days is not None:
        held = steady.mean_holding_days
        mean_storage = f.storage_fee(schedule, _priced(market), as_of.date(), held)
    totals = q.totals(item.quantity, profit, item.buy_cost, fee_lines, mean_storage, steady)
    analysis = Analysis(
        outcome=Outcome.ANALYSED.value,
        recommendation=recommendation,
        sell_price=sale.amount,
        price_basis=sale.basis,
        fees=fee_lines,
        profit=profit,
        roi_percent=roi,
        margin_percent=_percent(profit, sale.amount),
        break_even_buy_cost=break_even_buy_cost(proceeds, fixed, tax),
        max_buy_cost_for_target_roi=max_buy_cost_for_roi(
            proceeds, fixed, tax, band.min_roi_percent
        ),
        velocity_score=score,
        estimated_monthly_sales=estimate.monthly_sales,
        expected_days_to_sell=days,
        sales_rank=market.sales_rank,
        risk_flags=flags,
        reasons=reasons,
        sales_estimate_basis=estimate.basis,
        competing_offers=competing,
        competing_fba_offers=competing_fba,
        summary=_summary(recommendation, sale, profit, roi),
        priced_from_history=sale.from_history,
        engine_version=ENGINE_VERSION,
        fee_schedule_id=schedule.id,
        totals=totals,
        season=season,
    )
    return context.stamp(analysis)


def _banded(reasons: tuple[RuleCheck, ...], label: str, sale: SalePrice) -> tuple[RuleCheck, ...]:
    """Every reason names the band; the money rules say whose minimum they applied and, when
    the band's price was missing, what the price fell back to."""
    result = []
    for check in reasons:
        message = check.message
        if check.rule in MONEY_RULES:
            message = f"{message.removesuffix('.')} (band {label})"
            if check.rule == "min_profit" and sale.band_fallback:
                message += (
                    f"; the band sells against {sale.band_fallback.replace('_', ' ')}, which is "
                    f"not offered now, so priced at {describe(sale.basis)}"
                )
            message += "."
        result.append(replace(check, message=message, band=label))
    return tuple(result)


def _season_check(
    season: SeasonView | None,
    strategy: Strategy,
    band: RankBand,
    sale: SalePrice,
    market: MarketSnapshot,
    costs: SellerCosts,
    buy_cost: Decimal,
    as_of: datetime,
    days: int | None,
    schedule: FeeSchedule,
) -> RuleCheck | None:
    """A seasonal book: what holding a copy until its next peak would make, when the peak is
    within the seller's horizon (passed: that profit meets the band's minimums, so a PASS now is
    a WATCH: buy to hold). Informational otherwise (passed None)."""
    if season is None:
        return None
    threshold = f"next peak within {strategy.sell_within_days} days"
    when = f"{season.next_peak} peak from {season.next_peak_starts.isoformat()}"
    peak = season.expected_peak_price
    within = season.days_to_next_peak <= strategy.sell_within_days
    if peak is None or not within or sale.from_history:
        why = (
            "its price in past peaks is unknown" if peak is None
            else "there is no current offer" if sale.from_history
            else f"beyond your {strategy.sell_within_days}-day horizon"
        )  # fmt: skip
        return RuleCheck(
            "season", threshold, f"{season.days_to_next_peak} days", None,
            f"Seasonal: {when}, in {season.days_to_next_peak} days; not counted, {why}.",
        )  # fmt: skip
    held = season.days_to_next_peak + (days or 30)
    lines, *_ = _fees(
        schedule, market, SalePrice(peak, "season_peak"), costs, buy_cost, as_of, held
    )
    peak_profit = peak - lines.total - buy_cost
    basis = buy_cost + lines.sales_tax + lines.inbound_shipping + lines.prep
    peak_roi = _percent(peak_profit, basis)
    roi_ok = peak_profit > 0 if peak_roi is None else peak_roi >= band.min_roi_percent
    passed = peak_profit >= band.min_profit and roi_ok
    roi_text = "n/a" if peak_roi is None else f"{peak_roi}%"
    verdict = (
        "meets the band's minimums: worth holding until the peak"
        if passed
        else "still short of the band's minimums"
    )
    return RuleCheck(
        "season", threshold, f"{season.days_to_next_peak} days", passed,
        f"Seasonal ({', '.join(season.peaks)} peaks over {season.years_observed} years): {when}, "
        f"in {season.days_to_next_peak} days. Past peaks sold at {dollars(peak)} against "
        f"{dollars(sale.amount)} now; held until then (about {held} days, storage included) "
        f"profit {dollars(peak_profit)}, ROI {roi_text}: {verdict}.",
    )  # fmt: skip


def _is_used(condition: str) -> bool:
    value = condition.strip().lower()
    if value == "new":
        return False
    if value.startswith("used"):
        return True
    raise ValueError(f"unknown condition {condition!r}; expected 'new' or 'used'")


@dataclass(frozen=True)
class _Context:
    item: ItemToAnalyse
    strategy: Strategy
    seller_costs: SellerCosts
    as_of: datetime
    schedule_id: str

    def stamp(self, analysis: Analysis) -> Analysis:
        """Record the inputs, so a stored analysis can be reproduced."""
        return replace(
            analysis,
            engine_version=ENGINE_VERSION,
            fee_schedule_id=self.schedule_id,
            asin=self.item.asin,
            identifier=self.item.identifier,
            condition=self.item.condition,
            buy_cost=self.item.buy_cost,
            quantity=self.item.quantity,
            as_of=self.as_of,
            strategy=self.strategy,
            seller_costs=self.seller_costs,
        )

    def without_price(self, outcome: Outcome, market: MarketSnapshot, check: RuleCheck) -> Analysis:
        analysis = Analysis(
            outcome=outcome.value, recommendation=Recommendation.PASS, sell_price=None,
            price_basis=None, fees=None, profit=None, roi_percent=None, margin_percent=None,
            break_even_buy_cost=None, max_buy_cost_for_target_roi=None, velocity_score=None,
            estimated_monthly_sales=None, expected_days_to_sell=None,
            sales_rank=market.sales_rank, risk_flags=(), reasons=(check,),
            engine_version=ENGINE_VERSION, fee_schedule_id=self.schedule_id,
            summary=f"PASS: {check.message}",
        )  # fmt: skip
        return self.stamp(analysis)


def _fees(
    schedule: FeeSchedule,
    market: MarketSnapshot,
    sale: SalePrice,
    costs: SellerCosts,
    buy_cost: Decimal,
    as_of: datetime,
    days: int | None,
) -> tuple[FeeBreakdown, f.SizeTier | None, Decimal | None, Decimal | None]:
    package = _package(market)
    basis = "rate_card"
    if package is None and market.keepa_pick_and_pack_fee is not None:
        basis = "keepa_pick_and_pack"
    elif package is None:
        basis = "assumed_package"
    priced = package or _assumed_package(market)
    quote = f.fulfillment_fee(schedule, priced, sale.amount)
    placement = f.inbound_placement_fee(schedule, priced, costs.inbound_placement)
    fulfillment, surcharge = quote.total, quote.fuel_surcharge
    if basis == "keepa_pick_and_pack" and market.keepa_pick_and_pack_fee is not None:
        surcharge = f.money(market.keepa_pick_and_pack_fee * schedule.fuel_surcharge_percent / 100)
        fulfillment = market.keepa_pick_and_pack_fee + surcharge
    storage_days = days if days is not None else STORAGE_DAYS_WHEN_UNKNOWN
    lines = {
        "referral_fee": f.referral_fee(schedule, sale.amount),
        "closing_fee": schedule.variable_closing_fee,
        "fulfillment_fee": fulfillment,
        "storage_fee": f.storage_fee(schedule, priced, as_of.date(), storage_days),
        "inbound_placement_fee": placement.fee,
        "inbound_shipping": f.money(costs.inbound_shipping_per_lb * priced.weight_lb),
        "prep": f.money(costs.prep_per_unit),
        "sales_tax": f.money(buy_cost * costs.sales_tax_percent / 100),
    }
    breakdown = FeeBreakdown(
        **lines,
        total=sum(lines.values(), Decimal("0.00")),
        keepa_pick_and_pack_fee=market.keepa_pick_and_pack_fee,
        fuel_surcharge=surcharge,
        fulfillment_basis=basis,
        size_tier=quote.size_tier.value if package else None,
        price_band=f.price_band(sale.amount).value,
        billable_weight_lb=quote.billable_weight_lb.quantize(Decimal("0.01")) if package else None,
        storage_days=storage_days,
        inbound_placement=placement.option.value,
    )
    tier = quote.size_tier if package else None
    billable = quote.billable_weight_lb if package else None
    return breakdown, tier, billable, quote.base_fee if package else None


def _priced(market: MarketSnapshot) -> f.PackageSize:
    return _package(market) or _assumed_package(market)


def _package(market: MarketSnapshot) -> f.PackageSize | None:
    dims = (market.package_length_mm, market.package_width_mm, market.package_height_mm)
    weight = market.package_weight_g
    if weight is None or any(d is None for d in dims):
        return None
    length, width, height = (d or 0 for d in dims)
    return f.PackageSize.from_metric(length, width, height, weight)


def _assumed_package(market: MarketSnapshot) -> f.PackageSize:
    """Typical book dimensions, with Keepa's weight when only the weight is known."""
    if market.package_weight_g is None:
        return ASSUMED_PACKAGE
    weight_lb = Decimal(market.package_weight_g) / f.GRAMS_PER_POUND
    return f.PackageSize(
        ASSUMED_PACKAGE.length_in, ASSUMED_PACKAGE.width_in, ASSUMED_PACKAGE.height_in, weight_lb
    )


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """None only when `whole` is not positive (the rules rely on it: no ROI = nothing paid)."""
    if whole <= 0:
        return None
    return (part / whole * 100).quantize(PERCENT, rounding=ROUND_HALF_UP)


def _summary(
    recommendation: Recommendation, sale: SalePrice, profit: Decimal, roi: Decimal | None
) -> str:
    roi_text = "n/a" if roi is None else f"{roi}%"
    basis = f"{sale.basis}, no current offer" if sale.from_history else sale.basis
    return (
        f"{recommendation.value}: sells for {dollars(sale.amount)} ({basis}), "
        f"profit {dollars(profit)}, ROI {roi_text}"
    )
