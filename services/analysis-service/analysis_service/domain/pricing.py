"""What the book would sell for, and the profit arithmetic around the buy cost.

Sale price for the item's condition, first available of:
1. the buy box (landed: price + shipping);
2. the lowest FBA offer (an FBA seller competes with these);
3. the lowest offer plus its shipping;
4. the lowest offer's price when its shipping is unknown (Keepa sends the landed series and the
   offers only with its offers parameter): a floor, recorded as such;
5. the 90-day average (buy box, else lowest price).
An FBA seller's sale price is the item price: Prime shipping is free to the buyer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from .fees import CENT
from .market import Fulfillment, MarketSnapshot


@dataclass(frozen=True)
class SalePrice:
    amount: Decimal
    basis: str


def choose_sale_price(market: MarketSnapshot, *, used: bool) -> SalePrice | None:
    candidates: tuple[tuple[Decimal | None, str], ...]
    if used:
        candidates = (
            (market.buy_box_used_with_shipping, "buy_box_used"),
            (market.lowest_fba_used_with_shipping, "lowest_fba_used"),
            (market.lowest_used_with_shipping, "lowest_offer_plus_shipping"),
            (market.used_price, "lowest_offer_excl_shipping"),
            (market.avg90_buy_box_used, "avg90_buy_box_used"),
            (market.avg90_used, "avg90_used"),
        )
    else:
        fba_offer = market.lowest_offer(1, Fulfillment.FBA)
        candidates = (
            (market.buy_box_new_with_shipping, "buy_box_new"),
            (market.new_fba_price, "lowest_fba_new"),
            (fba_offer.landed if fba_offer else None, "lowest_fba_new"),
            (market.lowest_new_with_shipping, "lowest_offer_plus_shipping"),
            (market.new_price, "lowest_offer_excl_shipping"),
            (market.avg90_buy_box_new, "avg90_buy_box_new"),
            (market.avg90_new, "avg90_new"),
        )
    for amount, basis in candidates:
        if amount is not None and amount > 0:
            return SalePrice(amount, basis)
    return None


def break_even_buy_cost(
    proceeds: Decimal, fixed_costs: Decimal, sales_tax_percent: Decimal
) -> Decimal:
    """Highest buy cost with profit >= 0, given proceeds (sale price - Amazon fees) and the
    seller's per-unit costs that do not depend on the buy cost (inbound, prep).

    profit = proceeds - fixed - buy * (1 + tax)  =>  buy = (proceeds - fixed) / (1 + tax).
    Rounded down to the cent; 0 when even a free book loses money.
    """
    return _floor_cents((proceeds - fixed_costs) / (1 + sales_tax_percent / 100))


def max_buy_cost_for_roi(
    proceeds: Decimal, fixed_costs: Decimal, sales_tax_percent: Decimal, target_roi_percent: Decimal
) -> Decimal:
    """Highest buy cost whose ROI still meets the target.

    ROI = profit / (buy * (1 + tax) + fixed) >= r
    =>  buy <= (proceeds - (1 + r) * fixed) / ((1 + tax) * (1 + r)).
    """
    r = target_roi_percent / 100
    limit = (proceeds - (1 + r) * fixed_costs) / ((1 + sales_tax_percent / 100) * (1 + r))
    return _floor_cents(limit)


def _floor_cents(value: Decimal) -> Decimal:
    return max(Decimal(0), value).quantize(CENT, rounding=ROUND_FLOOR)
