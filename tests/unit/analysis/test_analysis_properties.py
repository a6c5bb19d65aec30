"""Property-based tests of the engine's arithmetic and of the fee table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from analysis_testkit import TYPICAL_COSTS
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_service.domain import (
    FEE_SCHEDULES,
    Analysis,
    FeeBreakdown,
    FeeSchedule,
    InboundPlacement,
    ItemToAnalyse,
    MarketSnapshot,
    MarketUsability,
    PackageSize,
    SellerCosts,
    Strategy,
    analyse,
    fulfillment_fee,
    inbound_placement_fee,
    market_snapshot_from_json,
    market_snapshot_to_json,
    strategy_preset,
)
from analysis_service.domain.bands import apply_band

D = Decimal
money = st.decimals(min_value=D("0.01"), max_value=D("400"), places=2)
small_money = st.decimals(min_value=D("0"), max_value=D("3"), places=2)
as_of_times = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
strategies = st.sampled_from(["balanced", "textbook", "velocity"]).map(strategy_preset)
conditions = st.sampled_from(["new", "used"])
schedules = st.sampled_from(FEE_SCHEDULES)


maybe_money = st.none() | money
buy_box_shares = st.decimals(min_value=D(0), max_value=D(100), places=2)


@st.composite
def markets(draw: st.DrawFn) -> MarketSnapshot:
    """Any mix of current prices (or none: nothing offered now) over a 90-day buy box average
    of each condition, so every market can be priced, from an offer or from history."""
    has_package = draw(st.booleans())
    mm = st.integers(min_value=5, max_value=1500)
    return MarketSnapshot(
        asin="0593655036",
        usability=MarketUsability.USABLE,
        buy_box_new_with_shipping=draw(maybe_money),
        buy_box_used_with_shipping=draw(maybe_money),
        amazon_price=draw(maybe_money),
        new_fba_price=draw(maybe_money),
        lowest_new_with_shipping=draw(maybe_money),
        lowest_fba_used_with_shipping=draw(maybe_money),
        lowest_used_with_shipping=draw(maybe_money),
        used_price=draw(maybe_money),
        avg90_buy_box_new=draw(money),
        avg90_buy_box_used=draw(money),
        avg30_buy_box_new=draw(maybe_money),
        avg30_buy_box_used=draw(maybe_money),
        avg180_buy_box_new=draw(maybe_money),
        avg180_buy_box_used=draw(maybe_money),
        new_offer_count=draw(st.none() | st.integers(0, 200)),
        used_offer_count=draw(st.none() | st.integers(0, 200)),
        new_fba_offer_count=draw(st.none() | st.integers(0, 50)),
        used_fba_offer_count=draw(st.none() | st.integers(0, 50)),
        sales_rank=draw(st.none() | st.integers(1, 10_000_000)),
        sales_rank_drops30=draw(st.none() | st.integers(0, 1000)),
        sales_rank_drops90=draw(st.none() | st.integers(0, 3000)),
        monthly_sold=draw(st.none() | st.integers(1, 100_000)),
        package_weight_g=draw(st.integers(1, 40_000)) if has_package else None,
        package_length_mm=draw(mm) if has_package else None,
        package_width_mm=draw(mm) if has_package else None,
        package_height_mm=draw(mm) if has_package else None,
        keepa_pick_and_pack_fee=draw(st.none() | money),
        amazon_on_listing=draw(st.none() | st.booleans()),
        amazon_buy_box_percent=draw(st.none() | buy_box_shares),
    )


@st.composite
def seller_costs(draw: st.DrawFn, taxed: bool = True) -> SellerCosts:
    tax = draw(st.decimals(min_value=D(0), max_value=D(12), places=2)) if taxed else D(0)
    placement = draw(st.sampled_from(InboundPlacement))
    return SellerCosts(draw(small_money), draw(small_money), tax, placement)


def run(
    market: MarketSnapshot,
    buy: Decimal,
    condition: str,
    strategy: Strategy,
    costs: SellerCosts,
    as_of: datetime,
) -> Analysis:
    item = ItemToAnalyse("0593655036", "0593655036", buy, condition)
    return analyse(item, market, strategy, costs, as_of=as_of)


def profit_of(a: Analysis) -> Decimal:
    assert a.profit is not None
    return a.profit


def fees_of(a: Analysis) -> FeeBreakdown:
    assert a.fees is not None
    return a.fees


@given(markets(), money, money, conditions, strategies, seller_costs(taxed=False), as_of_times)
def test_profit_falls_by_exactly_delta(
    market: MarketSnapshot, buy: D, delta: D, condition: str, strategy: Strategy,
    costs: SellerCosts, as_of: datetime,
) -> None:  # fmt: skip
    before = run(market, buy, condition, strategy, costs, as_of)
    after = run(market, buy + delta, condition, strategy, costs, as_of)
    assert profit_of(before) - profit_of(after) == delta


@given(markets(), money, money, conditions, seller_costs(), as_of_times)
def test_with_sales_tax_profit_falls_by_delta_plus_its_tax(
    market: MarketSnapshot, buy: D, delta: D, condition: str, costs: SellerCosts, as_of: datetime
) -> None:
    balanced = strategy_preset("balanced")
    before = run(market, buy, condition, balanced, costs, as_of)
    after = run(market, buy + delta, condition, balanced, costs, as_of)
    extra_tax = fees_of(after).sales_tax - fees_of(before).sales_tax
    assert profit_of(before) - profit_of(after) == delta + extra_tax


@given(markets(), money, conditions, strategies, seller_costs(), as_of_times)
def test_roi_has_the_sign_of_profit(
    market: MarketSnapshot, buy: D, condition: str, strategy: Strategy, costs: SellerCosts,
    as_of: datetime,
) -> None:  # fmt: skip
    a = run(market, buy, condition, strategy, costs, as_of)
    profit, roi, fees = profit_of(a), a.roi_percent, fees_of(a)
    assert roi is not None
    if profit > 0:
        assert roi >= 0
    elif profit < 0:
        assert roi <= 0
    else:
        assert roi == 0
    basis = buy + fees.sales_tax + fees.inbound_shipping + fees.prep
    if abs(profit / basis * 100) >= D("0.005"):  # not rounded away to 0.00%
        assert (roi > 0) == (profit > 0)


@given(markets(), money, conditions, strategies, seller_costs(), as_of_times)
def test_fees_are_never_negative_and_add_up(
    market: MarketSnapshot, buy: D, condition: str, strategy: Strategy, costs: SellerCosts,
    as_of: datetime,
) -> None:  # fmt: skip
    a = run(market, buy, condition, strategy, costs, as_of)
    fees = fees_of(a)
    lines = [
        fees.referral_fee, fees.closing_fee, fees.fulfillment_fee, fees.storage_fee,
        fees.inbound_placement_fee, fees.inbound_shipping, fees.prep, fees.sales_tax,
    ]  # fmt: skip
    assert all(line >= 0 for line in lines)
    assert all(line == line.quantize(D("0.01")) for line in [*lines, fees.total])
    assert fees.total == sum(lines)
    assert a.sell_price is not None
    assert profit_of(a) == a.sell_price - fees.total - buy


@given(markets(), conditions, strategies, seller_costs(taxed=False), as_of_times)
def test_break_even_and_target_roi_buy_costs(
    market: MarketSnapshot, condition: str, strategy: Strategy, costs: SellerCosts, as_of: datetime
) -> None:
    probe = run(market, D("1.00"), condition, strategy, costs, as_of)
    break_even, limit = probe.break_even_buy_cost, probe.max_buy_cost_for_target_roi
    assert break_even is not None and limit is not None
    if break_even > 0:
        at_break_even = run(market, break_even, condition, strategy, costs, as_of)
        over = run(market, break_even + D("0.01"), condition, strategy, costs, as_of)
        assert profit_of(at_break_even) >= 0 > profit_of(over)
    if limit > 0:
        roi = run(market, limit, condition, strategy, costs, as_of).roi_percent
        # The target ROI is the rank band's (engine 2026.12.5), not the strategy's top level.
        target = apply_band(strategy, market.sales_rank).band.min_roi_percent
        assert roi is not None and roi >= target


@given(markets(), money, conditions, strategies, seller_costs(), as_of_times)
def test_same_inputs_same_output(
    market: MarketSnapshot, buy: D, condition: str, strategy: Strategy, costs: SellerCosts,
    as_of: datetime,
) -> None:  # fmt: skip
    first = run(market, buy, condition, strategy, costs, as_of)
    assert first == run(market, buy, condition, strategy, costs, as_of)


@given(markets(), money, conditions, as_of_times)
def test_recommendation_follows_the_money_rules(
    market: MarketSnapshot, buy: D, condition: str, as_of: datetime
) -> None:
    a = run(market, buy, condition, strategy_preset("balanced"), TYPICAL_COSTS, as_of)
    money_ok = all(r.passed for r in a.reasons if r.rule in ("min_profit", "min_roi_percent"))
    assert (a.recommendation.value == "PASS") == (not money_ok)
    # A rule not checked (passed None: competition Keepa did not count) holds nothing back.
    assert (a.recommendation.value == "BUY") == all(r.passed is not False for r in a.reasons)
    unchecked = {r.rule for r in a.reasons if r.passed is None}
    # rank_band: an unknown rank is judged by the slowest band, not checked (bands.py).
    assert unchecked <= {"max_competing_fba_offers", "max_amazon_buy_box_percent", "rank_band"}


def new_landed(market: MarketSnapshot) -> Decimal | None:
    """What a buyer pays for a new copy now, the cheapest way (None: no new copy offered)."""
    if market.new_offer_count == 0:
        return None
    known = [
        p for p in (market.buy_box_new_with_shipping, market.amazon_price,
                    market.lowest_new_with_shipping, market.new_fba_price)
        if p is not None
    ]  # fmt: skip
    return min(known, default=None)


def offered_now(market: MarketSnapshot, condition: str) -> bool:
    """A current offer of the condition: a current price of it, and Keepa not counting 0."""
    if condition == "used":
        count = market.used_offer_count
        prices = (market.buy_box_used_with_shipping, market.lowest_fba_used_with_shipping,
                  market.lowest_used_with_shipping, market.used_price)  # fmt: skip
    else:
        count = market.new_offer_count
        prices = (market.buy_box_new_with_shipping, market.new_fba_price,
                  market.lowest_new_with_shipping, market.amazon_price)  # fmt: skip
    return count != 0 and any(p is not None for p in prices)


@given(markets(), money, strategies, seller_costs(), as_of_times)
def test_a_used_copy_never_sells_above_a_new_one(
    market: MarketSnapshot, buy: D, strategy: Strategy, costs: SellerCosts, as_of: datetime
) -> None:
    a = run(market, buy, "used", strategy, costs, as_of)
    new = new_landed(market)
    assert a.sell_price is not None
    if new is not None:
        assert a.sell_price <= new
    capped = any(r.rule == "used_at_most_new" for r in a.reasons)
    assert capped == (a.price_basis == "capped_at_new")
    if capped:
        assert new is not None and a.sell_price == new


@given(markets(), money, strategies, seller_costs(), as_of_times)
def test_a_new_copy_never_sells_above_amazons_price(
    market: MarketSnapshot, buy: D, strategy: Strategy, costs: SellerCosts, as_of: datetime
) -> None:
    a = run(market, buy, "new", strategy, costs, as_of)
    assert a.sell_price is not None
    amazon_sells = market.amazon_price is not None and market.new_offer_count != 0
    if amazon_sells:
        assert market.amazon_price is not None and a.sell_price <= market.amazon_price
    if any(r.rule == "new_at_most_amazon" for r in a.reasons):  # a cap is Amazon's price
        assert amazon_sells and (a.sell_price, a.price_basis) == (market.amazon_price, "amazon_new")


@given(markets(), money, conditions, strategies, buy_box_shares, st.integers(0, 100),
       seller_costs(), as_of_times)  # fmt: skip
def test_no_buy_when_amazon_holds_the_buy_box_more_than_the_limit(
    market: MarketSnapshot, buy: D, condition: str, strategy: Strategy, share: D, limit: int,
    costs: SellerCosts, as_of: datetime,
) -> None:  # fmt: skip
    strategy = replace(strategy, max_amazon_buy_box_percent=limit)
    a = run(replace(market, amazon_buy_box_percent=share), buy, condition, strategy, costs, as_of)
    [check] = [r for r in a.reasons if r.rule == "max_amazon_buy_box_percent"]
    assert check.passed is (share <= limit)
    if share > limit:
        assert a.recommendation.value != "BUY"


@given(markets(), money, conditions, strategies, seller_costs(), as_of_times)
def test_no_buy_without_a_current_offer_of_the_condition(
    market: MarketSnapshot, buy: D, condition: str, strategy: Strategy, costs: SellerCosts,
    as_of: datetime,
) -> None:  # fmt: skip
    a = run(market, buy, condition, strategy, costs, as_of)
    [offer_rule] = [r for r in a.reasons if r.rule == "current_offer"]
    if offered_now(market, condition):
        assert offer_rule.passed is True and not a.priced_from_history
        assert "no_current_offers" not in a.risk_flags
        return
    assert a.recommendation.value != "BUY"
    assert offer_rule.passed is False and a.priced_from_history
    assert "no_current_offers" in a.risk_flags
    # The most conservative of the condition's buy box averages (90-day always drawn here).
    kind = "used" if condition == "used" else "new"
    averages = [getattr(market, f"avg{d}_buy_box_{kind}") for d in (30, 90, 180)]
    assert a.sell_price is not None
    assert a.sell_price <= min(p for p in averages if p is not None)


inches = st.decimals(min_value=D("0.1"), max_value=D("40"), places=2)
pounds = st.decimals(min_value=D("0.01"), max_value=D("60"), places=3)


@settings(max_examples=300)
@given(schedules, inches, inches, inches, pounds, pounds, money)
def test_fee_table_is_monotonic_in_weight(
    schedule: FeeSchedule, a: D, b: D, c: D, w1: D, w2: D, price: D
) -> None:
    light, heavy = sorted((w1, w2))
    fee_light = fulfillment_fee(schedule, PackageSize(a, b, c, light), price).total
    fee_heavy = fulfillment_fee(schedule, PackageSize(a, b, c, heavy), price).total
    assert fee_light <= fee_heavy


@settings(max_examples=200)
@given(schedules, inches, inches, inches, pounds, money, money)
def test_fee_table_is_monotonic_in_price(
    schedule: FeeSchedule, a: D, b: D, c: D, w: D, p1: D, p2: D
) -> None:
    cheap, dear = sorted((p1, p2))
    package = PackageSize(a, b, c, w)
    assert (
        fulfillment_fee(schedule, package, cheap).total
        <= fulfillment_fee(schedule, package, dear).total
    )


PEAKS = [(FEE_SCHEDULES[i - 1], s) for i, s in enumerate(FEE_SCHEDULES) if s.holiday_peak]


@settings(max_examples=200)
@given(st.sampled_from(PEAKS), inches, inches, inches, pounds, money)
def test_the_holiday_peak_never_costs_less_than_the_weeks_before_it(
    seasons: tuple[FeeSchedule, FeeSchedule], a: D, b: D, c: D, w: D, price: D
) -> None:
    before, peak = seasons
    package = PackageSize(a, b, c, w)
    assert (
        fulfillment_fee(before, package, price).total < fulfillment_fee(peak, package, price).total
    )


@settings(max_examples=200)
@given(schedules, inches, inches, inches, pounds)
def test_placement_options_cost_optimized_then_partial_then_minimal(
    schedule: FeeSchedule, a: D, b: D, c: D, w: D
) -> None:
    package = PackageSize(a, b, c, w)
    fee = {o: inbound_placement_fee(schedule, package, o).fee for o in InboundPlacement}
    optimized, partial, minimal = (
        fee[InboundPlacement.AMAZON_OPTIMIZED], fee[InboundPlacement.PARTIAL_SPLIT],
        fee[InboundPlacement.MINIMAL_SPLIT],
    )  # fmt: skip
    assert optimized == 0 <= partial <= minimal <= D("0.68")


@given(markets(), st.sampled_from(list(MarketUsability)))
def test_snapshot_json_round_trip(market: MarketSnapshot, usability: MarketUsability) -> None:
    snapshot = replace(market, usability=usability, last_update=datetime(2025, 10, 26, tzinfo=UTC))
    assert market_snapshot_from_json(market_snapshot_to_json(snapshot)) == snapshot
