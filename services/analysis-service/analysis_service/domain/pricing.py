"""What the book would sell for, and the profit arithmetic around the buy cost.

Sale price for the item's condition, from a current offer of that condition, first available of:
1. the buy box (landed: price + shipping);
2. the lowest FBA offer (an FBA seller competes with these);
3. the lowest offer plus its shipping;
4. the lowest offer's price when its shipping is unknown (Keepa sends the landed series and the
   offers only with its offers parameter): a floor, recorded as such;
5. (new) Amazon's own price: Amazon selling it is a current new offer too, even when Keepa has
   no buy box or third-party price (engine 2026.12.1 fell back to the 90-day average).
An FBA seller's sale price is the item price: Prime shipping is free to the buyer.

A used copy's price is then held down by what buyers pay elsewhere:
- without a used buy box, by the used buy box's recent average (the lower of its 30- and 90-day
  averages): one offer above what used copies have been selling for is not a sale price (basis
  ``avg30_buy_box_used``/``avg90_buy_box_used``);
- always, by the landed price of a new copy (the lowest of the new buy box, Amazon, the lowest
  new offer with its shipping, the lowest FBA new offer): no one buys a used copy for more than
  a new one (basis ``capped_at_new``).
A new copy's price is held down by Amazon's own price when Amazon sells it (rule
``new_at_most_amazon``, basis ``amazon_new``): a third-party new offer above Amazon's does not
sell, buyers take Amazon's copy (engine 2026.12.3 could price a new copy above it).
Each cap that lowers the price is recorded (``SalePrice.caps``) and shown among the reasons.

A rank band (bands.py) may sell against another price than the buy box, tried before the order
above: ``lowest_fba`` (the condition's lowest FBA offer), ``nth_lowest_fba`` (its n-th lowest FBA
offer; with fewer, the highest one offered, as ScoutIQ), ``used_buy_box`` (a used copy: the used
buy box; a new copy: the new one). When the market lacks it, the order above applies and
``SalePrice.band_fallback`` names the price that was missing. Caps apply after either.

No current offer of the condition (none of the above, or Keepa counts 0 offers of it): the copy
is priced from history (``from_history``) at the lowest of the condition's 30-, 90- and 180-day
averages, the buy box's if Keepa has any, else the lowest price's: an average says what copies
sold for, not that one sells now, so the engine takes the most conservative and never says BUY.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal

from .fees import CENT
from .market import Fulfillment, MarketSnapshot

CAPPED_AT_NEW = "capped_at_new"
NEW_AT_MOST_AMAZON = "new_at_most_amazon"
USED_AT_MOST_NEW = "used_at_most_new"
USED_AT_MOST_RECENT_BUY_BOX = "used_at_most_recent_buy_box"


@dataclass(frozen=True)
class PriceFigure:
    amount: Decimal
    basis: str  # which Keepa figure: "buy_box_new", "avg90_buy_box_used", ...


@dataclass(frozen=True)
class PriceCap:
    """A cap that lowered the sale price: ``replaced`` was the price, ``limit`` held it down."""

    rule: str  # USED_AT_MOST_NEW | USED_AT_MOST_RECENT_BUY_BOX | NEW_AT_MOST_AMAZON
    limit: PriceFigure
    replaced: PriceFigure


@dataclass(frozen=True)
class SalePrice:
    amount: Decimal
    basis: str
    from_history: bool = False  # no current offer of the condition: an average
    caps: tuple[PriceCap, ...] = ()
    history: tuple[PriceFigure, ...] = ()  # the averages compared, when from_history
    band_fallback: str | None = None  # the band's price the market lacked (then the usual order)


def choose_sale_price(
    market: MarketSnapshot, *, used: bool, sell_against: str = "buy_box", fba_offer_slot: int = 1
) -> SalePrice | None:
    current = current_offer_price(market, used=used)
    fallback = None
    if current is not None and sell_against != "buy_box":
        preferred = band_price(market, used=used, sell_against=sell_against, slot=fba_offer_slot)
        current, fallback = (preferred, None) if preferred else (current, sell_against)
    if current is not None:
        sale: SalePrice | None = SalePrice(current.amount, current.basis, band_fallback=fallback)
    else:
        sale = _from_history(market, used=used)
    if sale is None:
        return None
    if not used:
        return _cap(sale, NEW_AT_MOST_AMAZON, amazon_new_price(market))
    if not sale.from_history and sale.basis != "buy_box_used":
        sale = _cap(sale, USED_AT_MOST_RECENT_BUY_BOX, recent_used_buy_box(market))
    return _cap(sale, USED_AT_MOST_NEW, new_landed_price(market), basis=CAPPED_AT_NEW)


def current_offer_price(market: MarketSnapshot, *, used: bool) -> PriceFigure | None:
    """The condition's price from a current offer; None when nothing of it is offered now."""
    count = market.used_offer_count if used else market.new_offer_count
    if count == 0:  # Keepa counts no offer of the condition: any price left is not current
        return None
    return _lowest_first(_used_offers(market) if used else _new_offers(market))


def band_price(
    market: MarketSnapshot, *, used: bool, sell_against: str, slot: int
) -> PriceFigure | None:
    """The price a rank band sells against, when the market has it now."""
    kind = "used" if used else "new"
    ladder = (market.fba_offer_prices_used if used else market.fba_offer_prices_new) or ()
    if sell_against == "lowest_fba":
        lowest = (
            (market.lowest_fba_used_with_shipping, ladder[0] if ladder else None)
            if used
            else (market.new_fba_price, ladder[0] if ladder else None)
        )
        return _lowest_first((amount, f"lowest_fba_{kind}") for amount in lowest)
    if sell_against == "nth_lowest_fba":
        if not ladder:
            return None
        n = min(slot, len(ladder))
        return PriceFigure(ladder[n - 1], f"fba_offer_{n}_{kind}")
    if sell_against == "used_buy_box":
        amount = market.buy_box_used_with_shipping if used else market.buy_box_new_with_shipping
        return _lowest_first(((amount, f"buy_box_{kind}"),))
    return None


def new_landed_price(market: MarketSnapshot) -> PriceFigure | None:
    """What a buyer pays for a new copy now, the cheapest way; None when none is offered."""
    if market.new_offer_count == 0:
        return None
    offer = market.lowest_offer(1)
    figures = _known(
        (
            (market.buy_box_new_with_shipping, "buy_box_new"),
            (market.amazon_price, "amazon_new"),
            (market.lowest_new_with_shipping, "lowest_new_with_shipping"),
            (market.new_fba_price, "lowest_fba_new"),
            (offer.landed if offer else None, "lowest_new_offer"),
        )
    )
    return min(figures, key=lambda f: f.amount, default=None)


def amazon_new_price(market: MarketSnapshot) -> PriceFigure | None:
    """Amazon's own new price, when Amazon sells the book now; None, as for new's landed price,
    when Keepa counts no new offer (the price left is not current)."""
    if market.new_offer_count == 0:
        return None
    return _lowest_first(((market.amazon_price, "amazon_new"),))


def recent_used_buy_box(market: MarketSnapshot) -> PriceFigure | None:
    figures = _known(
        (
            (market.avg30_buy_box_used, "avg30_buy_box_used"),
            (market.avg90_buy_box_used, "avg90_buy_box_used"),
        )
    )
    return min(figures, key=lambda f: f.amount, default=None)


def historical_figures(market: MarketSnapshot, *, used: bool) -> tuple[PriceFigure, ...]:
    """The condition's 30/90/180-day averages: the buy box's (what an FBA copy sells at) when
    Keepa has any, else the lowest price's."""
    m = market
    buy_box, lowest = (
        (
            (m.avg30_buy_box_used, m.avg90_buy_box_used, m.avg180_buy_box_used),
            (m.avg30_used, m.avg90_used, m.avg180_used),
        )
        if used
        else (
            (m.avg30_buy_box_new, m.avg90_buy_box_new, m.avg180_buy_box_new),
            (m.avg30_new, m.avg90_new, m.avg180_new),
        )
    )
    kind = "used" if used else "new"
    for series, averages in ((f"buy_box_{kind}", buy_box), (kind, lowest)):
        figures = _known(zip(averages, (f"avg{d}_{series}" for d in (30, 90, 180)), strict=True))
        if figures:
            return figures
    return ()


_FIGURE_NAMES = {
    "buy_box_new": "the new buy box",
    "buy_box_used": "the used buy box",
    "amazon_new": "Amazon's own price",
    "lowest_new_with_shipping": "the lowest new offer with its shipping",
    "lowest_new_offer": "the lowest new offer",
    "lowest_fba_new": "the lowest FBA new offer",
    "lowest_fba_used": "the lowest FBA used offer",
    "lowest_offer_plus_shipping": "the lowest offer with its shipping",
    "lowest_offer_excl_shipping": "the lowest offer, its shipping unknown",
    CAPPED_AT_NEW: "what a new copy costs",
}


def describe(basis: str) -> str:
    """A price basis in the seller's words: "avg30_buy_box_used" -> "the used buy box's 30-day
    average"."""
    if basis in _FIGURE_NAMES:
        return _FIGURE_NAMES[basis]
    if basis.startswith("fba_offer_"):
        n, _, kind = basis.removeprefix("fba_offer_").partition("_")
        return f"the {kind} FBA offer #{n} from the lowest"
    days, _, series = basis.removeprefix("avg").partition("_")
    if days.isdigit() and series:
        kind = series.removeprefix("buy_box_")
        what = f"{kind} buy box" if series.startswith("buy_box_") else f"lowest {kind} price"
        return f"the {what}'s {days}-day average"
    return basis


def _used_offers(market: MarketSnapshot) -> tuple[tuple[Decimal | None, str], ...]:
    return (
        (market.buy_box_used_with_shipping, "buy_box_used"),
        (market.lowest_fba_used_with_shipping, "lowest_fba_used"),
        (market.lowest_used_with_shipping, "lowest_offer_plus_shipping"),
        (market.used_price, "lowest_offer_excl_shipping"),
    )


def _new_offers(market: MarketSnapshot) -> tuple[tuple[Decimal | None, str], ...]:
    fba_offer = market.lowest_offer(1, Fulfillment.FBA)
    return (
        (market.buy_box_new_with_shipping, "buy_box_new"),
        (market.new_fba_price, "lowest_fba_new"),
        (fba_offer.landed if fba_offer else None, "lowest_fba_new"),
        (market.lowest_new_with_shipping, "lowest_offer_plus_shipping"),
        (market.new_price, "lowest_offer_excl_shipping"),
        (market.amazon_price, "amazon_new"),
    )


def _from_history(market: MarketSnapshot, *, used: bool) -> SalePrice | None:
    figures = historical_figures(market, used=used)
    lowest = min(figures, key=lambda f: f.amount, default=None)
    if lowest is None:
        return None
    return SalePrice(lowest.amount, lowest.basis, from_history=True, history=figures)


def _cap(
    sale: SalePrice, rule: str, limit: PriceFigure | None, *, basis: str | None = None
) -> SalePrice:
    """``sale`` held down to ``limit`` (priced on ``basis``, else the limit's own), the cap
    recorded; unchanged when within it."""
    if limit is None or sale.amount <= limit.amount:
        return sale
    cap = PriceCap(rule, limit, PriceFigure(sale.amount, sale.basis))
    return replace(sale, amount=limit.amount, basis=basis or limit.basis, caps=(*sale.caps, cap))


def _lowest_first(candidates: Iterable[tuple[Decimal | None, str]]) -> PriceFigure | None:
    """The first known candidate (they are in order of preference)."""
    return next(iter(_known(candidates)), None)


def _known(candidates: Iterable[tuple[Decimal | None, str]]) -> tuple[PriceFigure, ...]:
    return tuple(PriceFigure(a, b) for a, b in candidates if a is not None and a > 0)


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
