"""Parse one Keepa product object into a ``MarketSnapshot``.

Each field is taken from what the product has: Keepa's ``stats`` first, else the newest point of
the ``csv`` history, else the live ``offers``; ``sources`` records which. Offers are read from
their newest ``offerCSV`` entry (the list is oldest first), only live offers count (those in
``liveOffersOrder``; without it, those seen at the last offers update), and all five conditions
(new, used like new / very good / good / acceptable) are kept, FBA and FBM apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from . import keepa_format as kf
from .book_detection import keepa_says_book, root_category, usability
from .keepa_format import KeepaProduct, cents_to_dollars, non_negative, positive
from .market import USED_CONDITIONS, Fulfillment, LowestOffer, MarketSnapshot
from .offers import live_offers, lowest_offers
from .rank_drops import count_sales
from .seasonality import season_profile

SPREAD_QUANT = Decimal("0.0001")
BUY_BOX_SHARE_QUANT = Decimal("0.01")
NEW = (1,)
USED = USED_CONDITIONS
Read = Callable[[], Any]


def parse_keepa_product(
    product: Mapping[str, Any], *, as_of: datetime | None = None
) -> MarketSnapshot:
    """Never raises on well-formed but odd data: anything unknown becomes None.

    ``as_of``: when Keepa answered (the envelope's ``timestamp``), the end of the windows the
    rank drops are counted over when ``stats`` has no counts; the product's ``lastUpdate`` when
    not given."""
    builder = _SnapshotBuilder(product if isinstance(product, Mapping) else {}, as_of)
    builder.prices()
    builder.offer_counts()
    builder.demand()
    builder.history()
    builder.package_and_fees()
    builder.risk_inputs()
    builder.offer_ladders()
    builder.season()
    return builder.snapshot()


class _SnapshotBuilder:
    def __init__(self, product: Mapping[str, Any], as_of: datetime | None) -> None:
        self.p = KeepaProduct(product)
        self.as_of = as_of
        self.raw = self.p.raw
        self.values: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.offers: list[LowestOffer] | None = live_offers(self.raw, self.p.stats)
        self.best = lowest_offers(self.offers) if self.offers is not None else ()

    def first(self, name: str, *candidates: tuple[str, Read]) -> Any:
        """Set ``name`` from the first source that knows it, and note the source."""
        for source, read in candidates:
            value = read()
            if value is not None:
                self.values[name], self.sources[name] = value, source
                return value
        self.values[name] = None
        return None

    # --- readers -----------------------------------------------------------------------------

    def stat_cents(self, array: str, index: int) -> Read:
        return lambda: cents_to_dollars(positive(self.p.stat_at(array, index)))

    def csv_cents(self, index: int) -> Read:
        return lambda: cents_to_dollars(positive(self.p.csv_latest(index)))

    def stat_count(self, index: int) -> Read:
        return lambda: non_negative(self.p.stat_at("current", index))

    def csv_count(self, index: int) -> Read:
        return lambda: non_negative(self.p.csv_latest(index))

    def offer_count(self, conditions: Sequence[int], channel: Fulfillment | None) -> Read:
        def count() -> int | None:
            if self.offers is None:
                return None
            return sum(1 for o in self.offers if _matches(o, conditions, channel))

        return count

    def channel_count(self, conditions: Sequence[int], channel: Fulfillment, total: str) -> Read:
        """Offers of one channel, counted only from a complete list: Keepa returns at most the
        requested number of offers, so when fewer live offers came than Keepa counts in all
        (``total``), the channel's count is unknown, not the part that came."""

        def count() -> int | None:
            seen = self.offer_count(conditions, None)()
            expected = self.values.get(total)
            if seen is None or (expected is not None and seen < expected):
                return None
            result: int | None = self.offer_count(conditions, channel)()
            return result

        return count

    def offers_lowest(self, conditions: Sequence[int], channel: Fulfillment | None) -> Read:
        def lowest() -> Decimal | None:
            if self.offers is None:
                return None
            return min(
                (o.landed for o in self.best if _matches(o, conditions, channel)), default=None
            )

        return lowest

    def rank_history_sales(self, days: int) -> Read:
        """Rank drops counted from ``csv[3]`` as Keepa counts them (see rank_drops)."""

        def count() -> int | None:
            points = self.p.checked_points(kf.SALES)
            end = _history_end(self.raw, self.as_of, points)
            return (
                None
                if points is None or end is None
                else count_sales(points, end_minute=end, days=days)
            )

        return count

    def product_field(self, key: str) -> Read:
        return lambda: positive(self.raw.get(key))

    def price_sources(self, index: int) -> tuple[tuple[str, Read], ...]:
        return ("stats", self.stat_cents("current", index)), ("csv", self.csv_cents(index))

    def price(self, name: str, index: int) -> Decimal | None:
        value: Decimal | None = self.first(name, *self.price_sources(index))
        return value

    def lowest_of(self, names: Sequence[str]) -> tuple[str, Read]:
        """The lowest of fields already set, with the source of the field it came from."""
        known = [(self.values[n], self.sources[n]) for n in names if self.values.get(n) is not None]
        lowest = min(known, key=lambda pair: pair[0], default=None)
        return ("stats", lambda: None) if lowest is None else (lowest[1], lambda: lowest[0])

    # --- sections ------------------------------------------------------------------------------

    def prices(self) -> None:
        self.price("amazon_price", kf.AMAZON)
        # Keepa's NEW is the lowest new price without its shipping, or, collected from 2026-02-16,
        # with it: then it is no new_price but the lowest landed new (below).
        new_is_landed = self.p.new_is_landed() is True
        self.first("new_price", *(() if new_is_landed else self.price_sources(kf.NEW)))
        self.price("used_price", kf.USED)
        self.price("new_fba_price", kf.NEW_FBA)
        self.price("new_fbm_with_shipping", kf.NEW_FBM_SHIPPING)
        for name, index in _USED_SERIES:
            self.price(name, index)
        new_buy_box = _if_new_buy_box(self.p)
        self.first(
            "buy_box_new_with_shipping",
            ("stats", new_buy_box(self.stat_cents("current", kf.BUY_BOX_SHIPPING))),
            ("stats", new_buy_box(lambda: _stats_buy_box(self.p, used=False))),
            ("csv", new_buy_box(self.csv_cents(kf.BUY_BOX_SHIPPING))),
            ("stats", new_buy_box(self._amazon_holds_buy_box)),
        )
        self.first(
            "buy_box_used_with_shipping",
            ("stats", self.stat_cents("current", kf.BUY_BOX_USED_SHIPPING)),
            ("stats", lambda: _stats_buy_box(self.p, used=True)),
            ("csv", self.csv_cents(kf.BUY_BOX_USED_SHIPPING)),
        )
        # Lowest landed new: Keepa's NEW once it includes shipping (every channel, Amazon too).
        # Before that, the landed series cover every channel (FBM with shipping; FBA and Amazon
        # ship free), but only once the FBM one is there: without it (Keepa sends it with the
        # offers parameter) a cheaper FBM offer may exist, and the NEW price then lacks its
        # shipping. Then it stays unknown; pricing says so when it falls back to NEW.
        landed_series = ("new_fbm_with_shipping", "new_fba_price", "amazon_price")
        has_fbm_series = self.values.get("new_fbm_with_shipping") is not None
        self.first(
            "lowest_new_with_shipping",
            *(self.price_sources(kf.NEW) if new_is_landed else ()),
            self.lowest_of(landed_series) if has_fbm_series else ("stats", lambda: None),
            ("offers", self.offers_lowest(NEW, None)),
        )
        self.first(
            "lowest_used_with_shipping",
            self.lowest_of([name for name, _ in _USED_SERIES]),
            ("offers", self.offers_lowest(USED_CONDITIONS, None)),
        )
        self.first(
            "lowest_fba_used_with_shipping",
            ("offers", self.offers_lowest(USED_CONDITIONS, Fulfillment.FBA)),
        )

    def _amazon_holds_buy_box(self) -> Decimal | None:
        """Without the offers parameter Keepa sends no buy box price, but still says who holds
        it; when that is Amazon, the buy box is Amazon's own price (free shipping)."""
        holder = self.p.stat("buyBoxSellerId")
        if self.p.stat("buyBoxIsAmazon") is True or holder == kf.AMAZON_SELLER_ID:
            price: Decimal | None = self.values.get("amazon_price")
            return price
        return None

    def offer_counts(self) -> None:
        fba, fbm = Fulfillment.FBA, Fulfillment.FBM
        self.first(
            "new_offer_count",
            ("stats", self.stat_count(kf.COUNT_NEW)),
            ("csv", self.csv_count(kf.COUNT_NEW)),
            ("offers", self.offer_count(NEW, None)),
        )
        self.first(
            "used_offer_count",
            ("stats", self.stat_count(kf.COUNT_USED)),
            ("csv", self.csv_count(kf.COUNT_USED)),
            ("offers", self.offer_count(USED_CONDITIONS, None)),
        )
        for name, index, stat, channel in (
            ("new_fba_offer_count", kf.COUNT_NEW_FBA, "offerCountFBA", fba),
            ("new_fbm_offer_count", kf.COUNT_NEW_FBM, "offerCountFBM", fbm),
        ):
            self.first(
                name,
                ("stats", self.stat_count(index)),
                ("stats", _stat_count(self.p, stat)),  # live new offers of that channel
                ("csv", self.csv_count(index)),
                ("offers", self.channel_count(NEW, channel, "new_offer_count")),
            )
        for name, channel in (("used_fba_offer_count", fba), ("used_fbm_offer_count", fbm)):
            self.first(
                name, ("offers", self.channel_count(USED_CONDITIONS, channel, "used_offer_count"))
            )

    def demand(self) -> None:
        p = self.p
        self.first(
            "sales_rank",
            ("stats", lambda: positive(p.stat_at("current", kf.SALES))),
            ("csv", lambda: positive(p.csv_latest(kf.SALES))),
            ("csv", lambda: _reference_rank(self.raw)),
        )
        self.first("sales_rank_avg30", ("stats", lambda: positive(p.stat_at("avg30", kf.SALES))))
        self.first("sales_rank_avg90", ("stats", lambda: positive(p.stat_at("avg90", kf.SALES))))
        for days in (30, 90, 180):
            self.first(
                f"sales_rank_drops{days}",
                ("stats", _stat_count(p, f"salesRankDrops{days}")),
                ("csv", self.rank_history_sales(days)),
            )
        self.first(
            "monthly_sold",
            ("product", self.product_field("monthlySold")),
            ("product", lambda: _latest_monthly_sold(self.raw)),
        )

    def history(self) -> None:
        for name, index in (
            ("avg90_amazon", kf.AMAZON),
            ("avg90_new", kf.NEW),
            ("avg90_used", kf.USED),
            ("avg90_buy_box_new", kf.BUY_BOX_SHIPPING),
            ("avg90_buy_box_used", kf.BUY_BOX_USED_SHIPPING),
        ):
            self.first(name, ("stats", self.stat_cents("avg90", index)))
        for days in (30, 180):
            for name, index in (
                ("new", kf.NEW),
                ("used", kf.USED),
                ("buy_box_new", kf.BUY_BOX_SHIPPING),
                ("buy_box_used", kf.BUY_BOX_USED_SHIPPING),
            ):
                self.first(f"avg{days}_{name}", ("stats", self.stat_cents(f"avg{days}", index)))
        new_avg, used_avg = self.values["avg90_new"], self.values["avg90_used"]
        self.first("price_spread90_new", ("csv", lambda: _spread90(self.p, kf.NEW, new_avg)))
        self.first("price_spread90_used", ("csv", lambda: _spread90(self.p, kf.USED, used_avg)))
        self.first("sales_rank_points", ("csv", lambda: self.p.point_count(kf.SALES)))
        self.first("new_price_points", ("csv", lambda: self.p.point_count(kf.NEW)))
        self.first("used_price_points", ("csv", lambda: self.p.point_count(kf.USED)))

    def package_and_fees(self) -> None:
        for name, key in (
            ("package_weight_g", "packageWeight"),
            ("package_length_mm", "packageLength"),
            ("package_width_mm", "packageWidth"),
            ("package_height_mm", "packageHeight"),
        ):
            self.first(name, ("product", self.product_field(key)))
        fba_fees = kf.as_mapping(self.raw.get("fbaFees")) or {}
        pick_and_pack = cents_to_dollars(positive(fba_fees.get("pickAndPackFee")))
        self.first("keepa_pick_and_pack_fee", ("product", lambda: pick_and_pack))
        self.first("referral_fee_percentage", ("product", lambda: _percentage(self.raw)))
        closing = cents_to_dollars(positive(self.raw.get("variableClosingFee")))
        self.first("variable_closing_fee", ("product", lambda: closing))

    def risk_inputs(self) -> None:
        amazon_price_known = self.values.get("amazon_price") is not None
        self.first(
            "amazon_on_listing",
            (
                self.sources.get("amazon_price", "stats"),
                lambda: True if amazon_price_known else None,
            ),
            ("offers", lambda: True if any(o.is_amazon for o in self.offers or ()) else None),
            ("product", lambda: _amazon_availability(self.raw)),
            ("stats", lambda: False if self.p.stat_at("current", kf.AMAZON) == -1 else None),
            ("csv", lambda: False if self.p.csv_latest(kf.AMAZON) == -1 else None),
        )
        self.first("amazon_delayed", ("product", lambda: _amazon_delayed(self.raw)))
        share = _amazon_buy_box_percent(self.p.stat("buyBoxStats"))
        self.first("amazon_buy_box_percent", ("stats", lambda: share))
        self.first("is_hazmat", ("product", lambda: _hazmat(self.raw)))

    def offer_ladders(self) -> None:
        """Every live, orderable FBA offer's landed price by condition, lowest first."""
        self.first("fba_offer_prices_new", ("offers", lambda: self._fba_ladder(NEW)))
        self.first("fba_offer_prices_used", ("offers", lambda: self._fba_ladder(USED)))

    def _fba_ladder(self, conditions: Sequence[int]) -> tuple[Decimal, ...] | None:
        if self.offers is None:
            return None
        fba = (
            o for o in self.offers if o.is_shippable and _matches(o, conditions, Fulfillment.FBA)
        )
        return tuple(sorted(o.landed for o in fba))

    def season(self) -> None:
        p = self.p
        found = season_profile(
            p.checked_points(kf.SALES) or (),
            p.checked_points(kf.BUY_BOX_SHIPPING) or p.checked_points(kf.NEW) or (),
            p.checked_points(kf.BUY_BOX_USED_SHIPPING) or p.checked_points(kf.USED) or (),
        )
        self.first("season", ("csv", lambda: found))

    def snapshot(self) -> MarketSnapshot:
        asin = (kf.text(self.raw.get("asin")) or "").upper()  # Keepa's ASINs are upper case
        market_usability, reason = usability(self.raw, asin, self.values)
        return MarketSnapshot(
            asin=asin,
            usability=market_usability,
            usability_reason=reason,
            title=kf.text(self.raw.get("title")),
            binding=kf.text(self.raw.get("binding")),
            product_group=kf.text(self.raw.get("productGroup")),
            root_category=root_category(self.raw),
            keepa_says_book=keepa_says_book(self.raw),
            last_update=kf.keepa_time(self.raw.get("lastUpdate")),
            lowest_offers=self.best,
            sources=MappingProxyType(dict(sorted(self.sources.items()))),
            **self.values,
        )


_USED_SERIES = (
    ("used_like_new_with_shipping", kf.USED_NEW_SHIPPING),
    ("used_very_good_with_shipping", kf.USED_VERY_GOOD_SHIPPING),
    ("used_good_with_shipping", kf.USED_GOOD_SHIPPING),
    ("used_acceptable_with_shipping", kf.USED_ACCEPTABLE_SHIPPING),
)


def _matches(offer: LowestOffer, conditions: Sequence[int], channel: Fulfillment | None) -> bool:
    return offer.condition in conditions and (channel is None or offer.fulfillment == channel)


def _stat_count(p: KeepaProduct, name: str) -> Read:
    return lambda: non_negative(p.stat(name))


def _if_new_buy_box(p: KeepaProduct) -> Callable[[Read], Read]:
    """The BUY_BOX_SHIPPING series follows whoever holds the buy box. When Keepa says a used
    offer holds it now (``buyBoxCondition`` 2-5, or 6-10 refurbished/collectible, or
    ``buyBoxIsUsed``), it is not a new price. ``buyBoxCondition`` null, -1, -2 or 0 (unknown,
    as without the offers parameter) says nothing."""
    condition = kf.as_int(p.stat("buyBoxCondition"))
    if condition is not None and condition >= 1:
        held_by_used = condition != 1
    else:
        held_by_used = p.stat("buyBoxIsUsed") is True
    return lambda read: (lambda: None) if held_by_used else read


def _stats_buy_box(p: KeepaProduct, *, used: bool) -> Decimal | None:
    """``stats.buyBoxPrice`` + shipping (or the used ones), set with the offers request."""
    prefix = "buyBoxUsed" if used else "buyBox"
    price = positive(p.stat(f"{prefix}Price"))
    shipping = non_negative(p.stat(f"{prefix}Shipping"))
    return None if price is None else cents_to_dollars(price + (shipping or 0))


def _history_end(
    raw: Mapping[str, Any], as_of: datetime | None, points: Sequence[tuple[int, Any]] | None
) -> int | None:
    """The Keepa minute the counting windows end at: Keepa's answer, else the product's last
    update, else just after the newest point."""
    if as_of is not None:
        return math.ceil(kf.datetime_to_keepa_minutes(as_of))
    last_update = positive(raw.get("lastUpdate"))
    if last_update is not None:
        return last_update
    return points[-1][0] + 1 if points else None


def _reference_rank(raw: Mapping[str, Any]) -> int | None:
    """Newest point of ``salesRanks[salesRankReference]``: the main rank's own history, which
    Keepa also sends when ``csv`` lacks the SALES series."""
    ranks = kf.as_mapping(raw.get("salesRanks"))
    reference = kf.positive_id(raw.get("salesRankReference"))
    if ranks is None or reference is None:
        return None
    series = ranks.get(str(reference))  # JSON object keys are strings
    points = kf.time_series(series, 2) if isinstance(series, list) else None
    return positive(points[-1][1]) if points else None


def _latest_monthly_sold(raw: Mapping[str, Any]) -> int | None:
    """Last value of ``monthlySoldHistory`` ([time, value, ...]); -1 there means unknown now."""
    history = kf.as_list(raw.get("monthlySoldHistory"))
    points = kf.time_series(history, 2) if history is not None else None
    return positive(points[-1][1]) if points else None


def _percentage(raw: Mapping[str, Any]) -> Decimal | None:
    """``referralFeePercentage`` (14.97), else the older whole-number ``referralFeePercent``."""
    for key in ("referralFeePercentage", "referralFeePercent"):
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value) and 0 < value <= 100:
            return Decimal(str(value))
    return None


# availabilityAmazon (Product.AvailabilityType): -1 no Amazon offer; an Amazon offer that is
# 0 in stock, 1 pre-order, 2 of unknown availability, 3 back-order, 4 delayed (it ships later,
# by availabilityAmazonDelay's hours). Anything else is not Keepa's.
AMAZON_OFFER_AVAILABILITY = frozenset({0, 1, 2, 3, 4})
AMAZON_DELAYED = 4


def _amazon_availability(raw: Mapping[str, Any]) -> bool | None:
    availability = kf.as_int(raw.get("availabilityAmazon"))
    if availability == -1:
        return False
    return True if availability in AMAZON_OFFER_AVAILABILITY else None


def _amazon_delayed(raw: Mapping[str, Any]) -> bool | None:
    """Amazon's offer is on the listing but ships late: still Amazon competing for the sale
    (``amazon_on_listing``), flagged apart so the seller sees why its price may be missing."""
    availability = kf.as_int(raw.get("availabilityAmazon"))
    if availability == AMAZON_DELAYED:
        return True
    return False if availability == -1 or availability in AMAZON_OFFER_AVAILABILITY else None


def _amazon_buy_box_percent(buy_box_stats: Any) -> Decimal | None:
    """Amazon's ``percentageWon`` in ``stats.buyBoxStats`` (seller id -> share of the stats
    window, 0-100, for each seller that held the new buy box), to 0.01 %.

    The map lists every holder in the window, so a map without Amazon means Amazon never held
    it (0). No map, or an empty one (Keepa sends it only with the offers parameter): unknown."""
    holders = kf.as_mapping(buy_box_stats)
    if not holders:
        return None
    entry = kf.as_mapping(holders.get(kf.AMAZON_SELLER_ID))
    if entry is None:
        return Decimal("0.00")
    won = entry.get("percentageWon")
    if isinstance(won, bool) or not isinstance(won, int | float) or not math.isfinite(won):
        return None
    share = min(max(Decimal(repr(float(won))), Decimal(0)), Decimal(100))
    return share.quantize(BUY_BOX_SHARE_QUANT)


def _hazmat(raw: Mapping[str, Any]) -> bool | None:
    for key in ("hazardousMaterials", "hazardousMaterialType"):
        value = raw.get(key)
        if isinstance(value, bool):
            return value
        if value is not None:
            return bool(value) if isinstance(value, list | tuple | str | Mapping) else True
    return None


def _spread90(p: KeepaProduct, index: int, avg90: Decimal | None) -> Decimal | None:
    """(max - min) / 90-day average of the prices registered in the 90 days up to the product's
    last update (as Keepa's ``stats.minInInterval``/``maxInInterval`` for a 90-day interval)."""
    points = p.csv_points(index)
    if not points:
        return None
    end = positive(p.raw.get("lastUpdate")) or max(minute for minute, _ in points)
    start = end - int(timedelta(days=90).total_seconds() // 60)
    if index == kf.NEW and start < kf.NEW_LANDED_FROM_MINUTE <= end:
        # NEW without shipping before 2026-02-16, with it since: compare like with like, and
        # Keepa's 90-day average mixes both.
        start, avg90 = kf.NEW_LANDED_FROM_MINUTE - 1, None
    values = [v for minute, v in points if start < minute <= end and v is not None and v > 0]
    if not values:
        return None
    average = avg90 * 100 if avg90 is not None else Decimal(sum(values)) / len(values)
    return (Decimal(max(values) - min(values)) / average).quantize(SPREAD_QUANT)


__all__ = ["parse_keepa_product"]
