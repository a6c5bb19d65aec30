"""The market snapshot: everything the engine knows about one book's Amazon market.

Built from one Keepa product object by ``keepa_product.parse_keepa_product``. Unknown values are
None, never 0: a seller must be able to tell "no offers" from "we don't know". Money is Decimal
dollars. ``sources`` says, per field, where the value came from: "stats" (Keepa's computed
statistics), "csv" (the newest point of a history series), "offers" (the live marketplace
offers) or "product" (a top-level product field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

CONDITION_NAMES: Mapping[int, str] = MappingProxyType(
    {
        1: "new",
        2: "used_like_new",
        3: "used_very_good",
        4: "used_good",
        5: "used_acceptable",
    }
)
USED_CONDITIONS: tuple[int, ...] = (2, 3, 4, 5)


class MarketUsability(StrEnum):
    USABLE = "usable"
    NO_MARKET_DATA = "no_market_data"
    NOT_A_BOOK = "not_a_book"


class Fulfillment(StrEnum):
    FBA = "fba"
    FBM = "fbm"


@dataclass(frozen=True)
class LowestOffer:
    """The cheapest live offer (price + shipping) of one condition and fulfilment channel."""

    condition: int  # Keepa offer condition, 1 new .. 5 used acceptable
    fulfillment: Fulfillment
    price: Decimal
    shipping: Decimal | None  # None: Keepa -1, shipping unspecified
    seller_id: str | None
    is_amazon: bool
    seen_at: datetime | None  # time of the newest offerCSV entry
    is_shippable: bool = True  # False: listed but not orderable now (out of stock, pre-order)

    @property
    def condition_name(self) -> str:
        return CONDITION_NAMES.get(self.condition, f"condition_{self.condition}")

    @property
    def landed(self) -> Decimal:
        return self.price + (self.shipping or Decimal(0))


@dataclass(frozen=True)
class PeakWindow:
    """One textbook peak window a book has sold in, year after year."""

    name: str  # "aug-sep" | "january"
    years_peaked: int  # years whose window's rank was well below the rest of that year's
    peak_rank: int  # the median rank in past windows
    off_peak_rank: int  # the median rank outside them
    peak_price_new: Decimal | None  # the median new (buy box, else lowest) price in past windows
    peak_price_used: Decimal | None
    off_peak_price_new: Decimal | None
    off_peak_price_used: Decimal | None


@dataclass(frozen=True)
class SeasonProfile:
    years_observed: int
    windows: tuple[PeakWindow, ...]  # only the windows found to peak


def _no_sources() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class MarketSnapshot:
    asin: str
    usability: MarketUsability
    usability_reason: str | None = None
    title: str | None = None
    binding: str | None = None
    product_group: str | None = None
    root_category: int | None = None
    keepa_says_book: bool | None = None  # Keepa's category data; None: it has none
    last_update: datetime | None = None

    # Current prices. "with_shipping" prices are landed (price + shipping), as a buyer pays.
    amazon_price: Decimal | None = None
    # Lowest new, shipping excluded: Keepa's NEW as collected before 2026-02-16. From then on
    # Keepa's NEW includes shipping, and is lowest_new_with_shipping instead (keepa_product).
    new_price: Decimal | None = None
    used_price: Decimal | None = None  # lowest used, shipping excluded
    new_fba_price: Decimal | None = None  # lowest 3rd-party new FBA (Amazon excluded)
    new_fbm_with_shipping: Decimal | None = None
    buy_box_new_with_shipping: Decimal | None = None
    buy_box_used_with_shipping: Decimal | None = None
    used_like_new_with_shipping: Decimal | None = None
    used_very_good_with_shipping: Decimal | None = None
    used_good_with_shipping: Decimal | None = None
    used_acceptable_with_shipping: Decimal | None = None
    lowest_new_with_shipping: Decimal | None = None
    lowest_used_with_shipping: Decimal | None = None
    lowest_fba_used_with_shipping: Decimal | None = None
    lowest_offers: tuple[LowestOffer, ...] = ()

    # Offer counts (live offers).
    new_offer_count: int | None = None
    used_offer_count: int | None = None
    new_fba_offer_count: int | None = None
    new_fbm_offer_count: int | None = None
    used_fba_offer_count: int | None = None
    used_fbm_offer_count: int | None = None

    # Demand.
    sales_rank: int | None = None
    sales_rank_avg30: int | None = None
    sales_rank_avg90: int | None = None
    sales_rank_drops30: int | None = None
    sales_rank_drops90: int | None = None
    sales_rank_drops180: int | None = None
    monthly_sold: int | None = None  # Amazon's "N+ bought in past month"

    # Price history (Keepa's weighted means).
    avg90_amazon: Decimal | None = None
    avg90_new: Decimal | None = None
    avg90_used: Decimal | None = None
    avg90_buy_box_new: Decimal | None = None
    avg90_buy_box_used: Decimal | None = None
    price_spread90_new: Decimal | None = None  # (max - min) / average over 90 days
    price_spread90_used: Decimal | None = None
    # 30- and 180-day averages beside the 90-day ones: a copy priced from history takes the
    # lowest of them (pricing.py).
    avg30_new: Decimal | None = None
    avg30_used: Decimal | None = None
    avg30_buy_box_new: Decimal | None = None
    avg30_buy_box_used: Decimal | None = None
    avg180_new: Decimal | None = None
    avg180_used: Decimal | None = None
    avg180_buy_box_new: Decimal | None = None
    avg180_buy_box_used: Decimal | None = None

    # Package and Amazon's own fee data.
    package_weight_g: int | None = None
    package_length_mm: int | None = None
    package_width_mm: int | None = None
    package_height_mm: int | None = None
    keepa_pick_and_pack_fee: Decimal | None = None
    referral_fee_percentage: Decimal | None = None
    variable_closing_fee: Decimal | None = None

    # Risk inputs.
    amazon_on_listing: bool | None = None
    amazon_delayed: bool | None = None  # Amazon's offer exists but ships with a delay
    # Percent (0-100) of Keepa's stats window (the request's `stats` days: KEEPA_STATS_DAYS, 180
    # by default) in which Amazon held the new buy box (stats.buyBoxStats); None: Keepa sent no
    # buy box statistics (it sends them only with offers).
    amazon_buy_box_percent: Decimal | None = None
    is_hazmat: bool | None = None
    sales_rank_points: int | None = None  # history points in csv, a data-depth measure
    new_price_points: int | None = None
    used_price_points: int | None = None

    # Landed prices of the live, orderable FBA offers of each condition, lowest first (Amazon's
    # own new offer included): a rank band may sell against the n-th of them. None: Keepa sent
    # no offers.
    fba_offer_prices_new: tuple[Decimal, ...] | None = None
    fba_offer_prices_used: tuple[Decimal, ...] | None = None
    # Yearly peaks in the rank history (seasonality.py); None: no history, or none found.
    season: SeasonProfile | None = None

    sources: Mapping[str, str] = field(default_factory=_no_sources)

    @property
    def lowest_by_condition(self) -> Mapping[int, LowestOffer]:
        """The cheapest live offer (landed, FBA or FBM) of each condition present, 1-5."""
        result: dict[int, LowestOffer] = {}
        for offer in self.lowest_offers:
            best = result.get(offer.condition)
            if best is None or offer.landed < best.landed:
                result[offer.condition] = offer
        return MappingProxyType(dict(sorted(result.items())))

    def lowest_offer(
        self, condition: int, fulfillment: Fulfillment | None = None
    ) -> LowestOffer | None:
        """Cheapest live offer (landed) of a condition, optionally of one channel only."""
        matches = [
            o
            for o in self.lowest_offers
            if o.condition == condition and (fulfillment is None or o.fulfillment == fulfillment)
        ]
        return min(matches, key=lambda o: o.landed, default=None)
