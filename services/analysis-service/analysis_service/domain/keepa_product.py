"""Parse one Keepa product object into a ``MarketSnapshot``.

Each field is taken from what the product has: Keepa's ``stats`` first, else the newest point of
the ``csv`` history, else the live ``offers``; ``sources`` records which. Offers are read from
their newest ``offerCSV`` entry (the list is oldest first), only live offers count (those in
``liveOffersOrder``; without it, those seen at the last offers update), and all five conditions
(new, used like new / very good / good / acceptable) are kept, FBA and FBM apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from av_shared.identifiers import is_valid_isbn10

from . import keepa_format as kf
from .keepa_format import KeepaProduct, cents_to_dollars, non_negative, positive
from .market import USED_CONDITIONS, Fulfillment, LowestOffer, MarketSnapshot, MarketUsability
from .offers import live_offers, lowest_offers

BOOKS_ROOT_CATEGORY = 283155  # amazon.com "Books" root node
NON_BOOK_BINDINGS = frozenset({"kindle edition", "audible audiobook", "kindle", "ebook"})
EBOOK_OR_DOWNLOAD_PRODUCT_TYPES = frozenset({1, 2})  # Keepa ProductType DOWNLOADABLE, EBOOK
SPREAD_QUANT = Decimal("0.0001")


class _Collector:
    """Fills snapshot fields from the first source that knows the value, noting the source."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sources: dict[str, str] = {}

    def first(self, name: str, *candidates: tuple[str, Callable[[], Any]]) -> Any:
        for source, read in candidates:
            value = read()
            if value is not None:
                self.values[name] = value
                self.sources[name] = source
                return value
        self.values[name] = None
        return None


def parse_keepa_product(product: Mapping[str, Any]) -> MarketSnapshot:
    p = KeepaProduct(product)
    raw = p.raw
    c = _Collector()
    asin = kf.text(raw.get("asin")) or ""
    offers = live_offers(raw, p.stats)
    best = lowest_offers(offers) if offers is not None else ()

    def stat_cents(array: str, index: int) -> Callable[[], Decimal | None]:
        return lambda: cents_to_dollars(positive(p.stat_at(array, index)))

    def csv_cents(index: int) -> Callable[[], Decimal | None]:
        return lambda: cents_to_dollars(positive(p.csv_latest(index)))

    def stat_count(index: int) -> Callable[[], int | None]:
        return lambda: non_negative(p.stat_at("current", index))

    def csv_count(index: int) -> Callable[[], int | None]:
        return lambda: non_negative(p.csv_latest(index))

    def offer_count(conditions: Sequence[int], channel: Fulfillment | None) -> Callable[[], Any]:
        def count() -> int | None:
            if offers is None:
                return None
            return sum(
                1
                for o in offers
                if o.condition in conditions and (channel is None or o.fulfillment == channel)
            )

        return count

    def offers_min(conditions: Sequence[int], channel: Fulfillment | None) -> Callable[[], Any]:
        def lowest() -> Decimal | None:
            landed = [
                o.landed
                for o in best
                if o.condition in conditions and (channel is None or o.fulfillment == channel)
            ]
            return min(landed, default=None) if offers is not None else None

        return lowest

    def price(name: str, index: int) -> Decimal | None:
        value: Decimal | None = c.first(
            name, ("stats", stat_cents("current", index)), ("csv", csv_cents(index))
        )
        return value

    price("amazon_price", kf.AMAZON)
    price("new_price", kf.NEW)
    price("used_price", kf.USED)
    price("new_fba_price", kf.NEW_FBA)
    price("new_fbm_with_shipping", kf.NEW_FBM_SHIPPING)
    used_by_condition = [
        price("used_like_new_with_shipping", kf.USED_NEW_SHIPPING),
        price("used_very_good_with_shipping", kf.USED_VERY_GOOD_SHIPPING),
        price("used_good_with_shipping", kf.USED_GOOD_SHIPPING),
        price("used_acceptable_with_shipping", kf.USED_ACCEPTABLE_SHIPPING),
    ]
    c.first(
        "buy_box_new_with_shipping",
        ("stats", _if_new_buy_box(p, stat_cents("current", kf.BUY_BOX_SHIPPING))),
        ("stats", _if_new_buy_box(p, lambda: _stats_buy_box(p, used=False))),
        ("csv", _if_new_buy_box(p, csv_cents(kf.BUY_BOX_SHIPPING))),
    )
    c.first(
        "buy_box_used_with_shipping",
        ("stats", stat_cents("current", kf.BUY_BOX_USED_SHIPPING)),
        ("stats", lambda: _stats_buy_box(p, used=True)),
        ("csv", csv_cents(kf.BUY_BOX_USED_SHIPPING)),
    )
    # Lowest landed new: the landed series (FBM with shipping, FBA and Amazon ship free);
    # without any, the plain NEW price, whose shipping is unknown (a conservative floor).
    landed_new = [c.values[k] for k in ("new_fbm_with_shipping", "new_fba_price", "amazon_price")]
    c.first(
        "lowest_new_with_shipping",
        (
            _source_of(c, ("new_fbm_with_shipping", "new_fba_price", "amazon_price")),
            lambda: _min(landed_new),
        ),
        ("offers", offers_min((1,), None)),
        (c.sources.get("new_price", "stats"), lambda: c.values["new_price"]),
    )
    c.first(
        "lowest_used_with_shipping",
        (_source_of(c, _USED_FIELDS), lambda: _min(used_by_condition)),
        ("offers", offers_min(USED_CONDITIONS, None)),
        (c.sources.get("used_price", "stats"), lambda: c.values["used_price"]),
    )
    c.first(
        "lowest_fba_used_with_shipping", ("offers", offers_min(USED_CONDITIONS, Fulfillment.FBA))
    )

    c.first(
        "new_offer_count",
        ("stats", stat_count(kf.COUNT_NEW)),
        ("csv", csv_count(kf.COUNT_NEW)),
        ("offers", offer_count((1,), None)),
    )
    c.first(
        "used_offer_count",
        ("stats", stat_count(kf.COUNT_USED)),
        ("csv", csv_count(kf.COUNT_USED)),
        ("offers", offer_count(USED_CONDITIONS, None)),
    )
    c.first(
        "new_fba_offer_count",
        ("stats", stat_count(kf.COUNT_NEW_FBA)),
        ("stats", lambda: non_negative(p.stat("offerCountFBA"))),  # live FBA offers, new
        ("csv", csv_count(kf.COUNT_NEW_FBA)),
        ("offers", offer_count((1,), Fulfillment.FBA)),
    )
    c.first(
        "new_fbm_offer_count",
        ("stats", stat_count(kf.COUNT_NEW_FBM)),
        ("stats", lambda: non_negative(p.stat("offerCountFBM"))),
        ("csv", csv_count(kf.COUNT_NEW_FBM)),
        ("offers", offer_count((1,), Fulfillment.FBM)),
    )
    c.first("used_fba_offer_count", ("offers", offer_count(USED_CONDITIONS, Fulfillment.FBA)))
    c.first("used_fbm_offer_count", ("offers", offer_count(USED_CONDITIONS, Fulfillment.FBM)))

    c.first(
        "sales_rank",
        ("stats", lambda: positive(p.stat_at("current", kf.SALES))),
        ("csv", lambda: positive(p.csv_latest(kf.SALES))),
    )
    c.first("sales_rank_avg30", ("stats", lambda: positive(p.stat_at("avg30", kf.SALES))))
    c.first("sales_rank_avg90", ("stats", lambda: positive(p.stat_at("avg90", kf.SALES))))
    for days in (30, 90, 180):
        c.first(f"sales_rank_drops{days}", ("stats", _stat_reader(p, f"salesRankDrops{days}")))
    c.first(
        "monthly_sold",
        ("product", lambda: positive(raw.get("monthlySold"))),
        ("product", lambda: _latest_monthly_sold(raw)),
    )

    c.first("avg90_amazon", ("stats", stat_cents("avg90", kf.AMAZON)))
    c.first("avg90_new", ("stats", stat_cents("avg90", kf.NEW)))
    c.first("avg90_used", ("stats", stat_cents("avg90", kf.USED)))
    c.first("avg90_buy_box_new", ("stats", stat_cents("avg90", kf.BUY_BOX_SHIPPING)))
    c.first("avg90_buy_box_used", ("stats", stat_cents("avg90", kf.BUY_BOX_USED_SHIPPING)))
    c.first("price_spread90_new", ("csv", lambda: _spread90(p, kf.NEW, c.values["avg90_new"])))
    c.first("price_spread90_used", ("csv", lambda: _spread90(p, kf.USED, c.values["avg90_used"])))

    for name, key in (
        ("package_weight_g", "packageWeight"),
        ("package_length_mm", "packageLength"),
        ("package_width_mm", "packageWidth"),
        ("package_height_mm", "packageHeight"),
    ):
        c.first(name, ("product", _positive_field(raw, key)))
    fba_fees = kf.as_mapping(raw.get("fbaFees"))
    c.first(
        "keepa_pick_and_pack_fee",
        (
            "product",
            lambda: cents_to_dollars(
                positive(fba_fees.get("pickAndPackFee")) if fba_fees else None
            ),
        ),
    )
    c.first("referral_fee_percentage", ("product", lambda: _percentage(raw)))
    c.first(
        "variable_closing_fee",
        ("product", lambda: cents_to_dollars(positive(raw.get("variableClosingFee")))),
    )
    c.first(
        "amazon_on_listing",
        (c.sources.get("amazon_price", "stats"), lambda: _amazon_price_known(c)),
        ("offers", lambda: True if offers and any(o.is_amazon for o in offers) else None),
        ("product", lambda: _amazon_availability(raw)),
        ("stats", lambda: False if p.stat_at("current", kf.AMAZON) == -1 else None),
    )
    c.first("is_hazmat", ("product", lambda: _hazmat(raw)))
    c.first("sales_rank_points", ("csv", lambda: p.point_count(kf.SALES)))
    c.first("new_price_points", ("csv", lambda: p.point_count(kf.NEW)))
    c.first("used_price_points", ("csv", lambda: p.point_count(kf.USED)))

    usability, reason = _usability(raw, asin, c.values)
    return MarketSnapshot(
        asin=asin,
        usability=usability,
        usability_reason=reason,
        title=kf.text(raw.get("title")),
        binding=kf.text(raw.get("binding")),
        product_group=kf.text(raw.get("productGroup")),
        root_category=positive(raw.get("rootCategory")),
        last_update=kf.keepa_time(raw.get("lastUpdate")),
        lowest_offers=best,
        sources=MappingProxyType(dict(sorted(c.sources.items()))),
        **c.values,
    )


_USED_FIELDS = (
    "used_like_new_with_shipping",
    "used_very_good_with_shipping",
    "used_good_with_shipping",
    "used_acceptable_with_shipping",
)


def _min(values: Sequence[Decimal | None]) -> Decimal | None:
    return min((v for v in values if v is not None), default=None)


def _source_of(c: _Collector, names: Sequence[str]) -> str:
    known = [c.sources[n] for n in names if n in c.sources]
    return "csv" if known and all(s == "csv" for s in known) else "stats"


def _positive_field(raw: Mapping[str, Any], key: str) -> Callable[[], int | None]:
    return lambda: positive(raw.get(key))


def _amazon_price_known(c: _Collector) -> bool | None:
    return True if c.values.get("amazon_price") is not None else None


def _stat_reader(p: KeepaProduct, name: str) -> Callable[[], int | None]:
    return lambda: non_negative(p.stat(name))


def _if_new_buy_box(
    p: KeepaProduct, read: Callable[[], Decimal | None]
) -> Callable[[], Decimal | None]:
    """The BUY_BOX_SHIPPING series follows whoever holds the buy box. When Keepa says a used
    offer holds it now (``buyBoxCondition`` 2-5, or ``buyBoxIsUsed``), it is not a new price."""

    def guarded() -> Decimal | None:
        condition = kf.as_int(p.stat("buyBoxCondition"))
        if (condition is not None and condition != 1) or (
            condition is None and p.stat("buyBoxIsUsed") is True
        ):
            return None
        return read()

    return guarded


def _stats_buy_box(p: KeepaProduct, *, used: bool) -> Decimal | None:
    """``stats.buyBoxPrice`` + shipping (or the used equivalents), set with the offers request."""
    if used:
        price, shipping = (
            positive(p.stat("buyBoxUsedPrice")),
            non_negative(p.stat("buyBoxUsedShipping")),
        )
    else:
        price, shipping = positive(p.stat("buyBoxPrice")), non_negative(p.stat("buyBoxShipping"))
    return None if price is None else cents_to_dollars(price + (shipping or 0))


def _latest_monthly_sold(raw: Mapping[str, Any]) -> int | None:
    history = kf.as_list(raw.get("monthlySoldHistory"))
    if not history or len(history) < 2:
        return None
    return positive(history[-1] if len(history) % 2 == 0 else None)


def _percentage(raw: Mapping[str, Any]) -> Decimal | None:
    value = raw.get("referralFeePercentage", raw.get("referralFeePercent"))
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return Decimal(str(value))


def _amazon_availability(raw: Mapping[str, Any]) -> bool | None:
    availability = kf.as_int(raw.get("availabilityAmazon"))
    if availability is None:
        return None
    return availability >= 0  # -1: no Amazon offer; 0 in stock, 1 future, 2/3 unknown/other


def _hazmat(raw: Mapping[str, Any]) -> bool | None:
    for key in ("hazardousMaterials", "hazardousMaterialType"):
        if key in raw and raw[key] is not None:
            value = raw[key]
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
    values = [v for minute, v in points if start < minute <= end and v is not None and v > 0]
    if not values:
        return None
    average = avg90 * 100 if avg90 is not None else Decimal(sum(values)) / len(values)
    return (Decimal(max(values) - min(values)) / average).quantize(SPREAD_QUANT)


def _book_evidence(raw: Mapping[str, Any]) -> tuple[bool | None, str]:
    """True: Keepa says book; False: Keepa says something else; None: Keepa doesn't say."""
    binding = (kf.text(raw.get("binding")) or "").lower()
    if kf.as_int(raw.get("productType")) in EBOOK_OR_DOWNLOAD_PRODUCT_TYPES:
        return False, "a digital product (Keepa productType ebook/downloadable)"
    if binding in NON_BOOK_BINDINGS:
        return False, f"a digital edition (binding {binding!r})"
    group = kf.text(raw.get("productGroup"))
    root = positive(raw.get("rootCategory"))
    kind = kf.text(raw.get("type"))
    display = kf.text(raw.get("websiteDisplayGroup")) or ""
    if (
        root == BOOKS_ROOT_CATEGORY
        or (group or "").lower() in ("book", "books")
        or "BOOK" in (kind or "").upper()
        or display.startswith("book_")
    ):
        return True, "book"
    if group is not None or root is not None or kind is not None:
        return False, f"not a book (product group {group!r}, root category {root})"
    return None, "Keepa has no category data"


_PRICE_FIELDS = (
    "amazon_price", "new_price", "used_price", "new_fba_price", "buy_box_new_with_shipping",
    "buy_box_used_with_shipping", "lowest_new_with_shipping", "lowest_used_with_shipping",
    "avg90_new", "avg90_used", "avg90_buy_box_new", "avg90_buy_box_used",
)  # fmt: skip


def _usability(
    raw: Mapping[str, Any], asin: str, values: Mapping[str, Any]
) -> tuple[MarketUsability, str | None]:
    is_book, why = _book_evidence(raw)
    if is_book is False:
        return MarketUsability.NOT_A_BOOK, f"Not a book: {why}."
    if is_book is None and not is_valid_isbn10(asin):
        # No category data and the ASIN is not an ISBN-10: nothing says this is a book.
        return MarketUsability.NOT_A_BOOK, (
            f"Not a book: Keepa has no book data for {asin or 'this product'} "
            "and its ASIN is not an ISBN-10."
        )
    if all(values.get(name) is None for name in _PRICE_FIELDS):
        return MarketUsability.NO_MARKET_DATA, (
            "No usable market data: Keepa has no current or 90-day price for this book "
            "(not tracked, or never offered)."
        )
    return MarketUsability.USABLE, None


__all__ = ["LowestOffer", "parse_keepa_product"]
