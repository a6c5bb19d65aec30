"""A plausible Keepa product object for an ASIN the simulator has no recording of.

Values come from the ASIN alone; times are laid out backwards from the server's clock, so the
same ASIN always has the same prices and ranks but a fresh `lastUpdate`. Which fields are
filled follows Keepa: buy box history and per-condition used series only with `offers` (or
`buybox`), ratings only with `rating` or `offers`, exactly as in the recordings.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Any

from keepa_sim import series as s
from keepa_sim.codes import ean_for_asin
from keepa_sim.keepa_time import MINUTES_PER_DAY
from keepa_sim.synth_book import Book, book_for
from keepa_sim.synth_fields import product_fields
from keepa_sim.synth_offers import AMAZON_SELLER_ID, LiveOffer, live_offers, offers_field

BOOKS_ROOT = 283155


@dataclass(frozen=True)
class SynthOptions:
    stats_days: int = 180
    offers: int = 0  # requested offer count; 0 = none
    buybox: bool = False
    rating: bool = False
    price_factor: float = 1.0  # every price of the book times this (POST /_sim/prices)


def _scaled(book: Book, factor: float) -> Book:
    def times(cents: int) -> int:
        return cents if cents < 0 else round(cents * factor)

    return replace(
        book,
        list_price=times(book.list_price),
        new_price=times(book.new_price),
        used_price=times(book.used_price),
        amazon_price=times(book.amazon_price),
        used_by_condition={c: (times(p), s) for c, (p, s) in book.used_by_condition.items()},
    )


def _times(rng: random.Random, start: int, end: int, n: int) -> list[int]:
    """n strictly increasing Keepa minutes in [start, end], ending at `end`."""
    n = max(1, min(n, end - start))
    return [*sorted(rng.sample(range(start, end), n - 1)), end]


def _walk(
    rng: random.Random, times: list[int], current: int, base: int, spread: float, gaps: bool
) -> list[int]:
    flat: list[int] = []
    for k, t in enumerate(times):
        if k == len(times) - 1:
            value = current
        elif gaps and rng.random() < 0.06:
            value = -1  # a stretch without any offer (prices only; ranks and counts have none)
        else:
            value = max(1, round(base * math.exp(rng.gauss(0, spread))))
        flat += [t, value]
    return flat


def _triplets(pairs: list[int], shipping: int) -> list[int]:
    """[t, price, ...] -> [t, price, shipping, ...]; no offer (-1) has no shipping either."""
    out: list[int] = []
    for i in range(0, len(pairs), 2):
        price = pairs[i + 1]
        out += [pairs[i], price, shipping if price >= 0 else -1]
    return out


class _Timeline:
    def __init__(self, book: Book, now: int) -> None:
        rng = random.Random(book.seed + 1)
        self.rng = rng
        self.last_update = now - rng.randint(1, 55)
        self.tracking_since = now - rng.randint(400, 4000) * MINUTES_PER_DAY
        self.listed_since = self.tracking_since - rng.randint(0, 30) * MINUTES_PER_DAY

    def series(
        self, current: int, base: int, spread: float, n: int, gaps: bool = True
    ) -> list[int]:
        start = max(self.tracking_since, self.last_update - 730 * MINUTES_PER_DAY)
        end = self.last_update - self.rng.randint(0, 600)
        return _walk(self.rng, _times(self.rng, start, end, n), current, base, spread, gaps)


def _csv(book: Book, tl: _Timeline, opts: SynthOptions, live: list[LiveOffer]) -> s.Csv:
    # Every series is drawn in a fixed order, so request options never change the values.
    fallback = max(300, book.list_price // 3)
    amazon = tl.series(book.amazon_price, book.amazon_price, 0.05, 12)
    new = tl.series(book.new_price, book.new_price if book.new_price > 0 else fallback, 0.2, 25)
    used = tl.series(book.used_price, book.used_price if book.used_price > 0 else fallback, 0.3, 40)
    rank = tl.series(book.rank, book.rank, 0.6, 80, gaps=False)
    count_new = tl.series(book.count_new, max(1, book.count_new), 0.3, 20, gaps=False)
    count_used = tl.series(book.count_used, max(1, book.count_used), 0.3, 20, gaps=False)
    rating = tl.series(book.rating, book.rating, 0.02, 6, gaps=False)
    reviews = tl.series(book.review_count, max(1, book.review_count), 0.2, 10, gaps=False)
    used_by_cond = {
        c: tl.series(p, p, 0.2, 15) for c, (p, _) in sorted(book.used_by_condition.items())
    }
    csv: s.Csv = [None] * s.CSV_LENGTH
    csv[s.AMAZON] = amazon if book.amazon_price > 0 else None
    csv[s.NEW] = new
    csv[s.USED] = used
    csv[s.SALES] = rank
    csv[s.LISTPRICE] = [tl.listed_since, book.list_price]
    csv[s.COUNT_NEW] = count_new
    csv[s.COUNT_USED] = count_used
    if opts.rating or opts.offers:
        csv[s.RATING] = rating
        csv[s.COUNT_REVIEWS] = reviews
    if opts.offers or opts.buybox:
        bb_new = _buy_box(live, used=False)
        bb_used = _buy_box(live, used=True)
        # Buy box history follows the lowest prices, ending at today's winner.
        csv[s.BUY_BOX_SHIPPING] = [*_triplets(new[:-2], 0), new[-2], *_landing(bb_new)]
        csv[s.BUY_BOX_USED_SHIPPING] = [*_triplets(used[:-2], 0), used[-2], *_landing(bb_used)]
    if opts.offers:
        for condition, pairs in used_by_cond.items():
            shipping = book.used_by_condition[condition][1]
            csv[s.USED_NEW_SHIPPING + condition - 2] = _triplets(pairs, shipping)
        fba_new = [o.price for o in live if o.condition == 1 and o.is_fba]
        csv[s.NEW_FBA] = [tl.last_update, min(fba_new) if fba_new else -1]
    return csv


def _landing(offer: LiveOffer | None) -> tuple[int, int]:
    return (offer.price, offer.shipping) if offer else (-1, -1)


def _buy_box(live: list[LiveOffer], *, used: bool) -> LiveOffer | None:
    pool = [o for o in live if (o.condition != 1) == used]
    if not used and any(o.is_amazon for o in pool):
        return next(o for o in pool if o.is_amazon)  # Amazon wins the new buy box when it sells
    return min(pool, key=lambda o: o.landed) if pool else None


def _buy_box_stats(live: list[LiveOffer], opts: SynthOptions, amazon_sells: bool) -> dict[str, Any]:
    if not (opts.offers or opts.buybox):
        # What Keepa sends without offers/buybox (see the recorded envelope): -2 = not requested.
        return {
            "buyBoxPrice": -2,
            "buyBoxShipping": -2,
            "buyBoxIsAmazon": amazon_sells,
            "buyBoxSellerId": AMAZON_SELLER_ID if amazon_sells else None,
        }
    new, used = _buy_box(live, used=False), _buy_box(live, used=True)
    return {
        "buyBoxPrice": new.price if new else -1,
        "buyBoxShipping": new.shipping if new else -1,
        "buyBoxIsAmazon": bool(new and new.is_amazon),
        "buyBoxIsFBA": bool(new and new.is_fba),
        "buyBoxCondition": 1 if new else None,
        "buyBoxIsUsed": False,
        "buyBoxSellerId": new.seller_id if new else None,
        "buyBoxUsedPrice": used.price if used else -1,
        "buyBoxUsedShipping": used.shipping if used else -1,
        "buyBoxUsedCondition": used.condition if used else None,
        "buyBoxUsedIsFBA": bool(used and used.is_fba),
        "buyBoxUsedSellerId": used.seller_id if used else None,
    }


def _stats(
    book: Book, csv: s.Csv, tl: _Timeline, opts: SynthOptions, live: list[LiveOffer] | None
) -> dict[str, Any]:
    stats: dict[str, Any] = s.history_stats(csv, tl.last_update, opts.stats_days)
    d30, d90, d180, d365 = book.drops
    stats |= {
        "buyBoxAvailabilityMessage": "In Stock" if book.count_new else None,
        "deltaPercent90_monthlySold": 0,
        "lastOffersUpdate": tl.last_update,
        "lightningDealInfo": None,
        "outOfStockCountAmazon30": 0,
        "outOfStockCountAmazon90": 0,
        "salesRankDrops30": d30,
        "salesRankDrops90": d90,
        "salesRankDrops180": d180,
        "salesRankDrops365": d365,
        "totalOfferCount": book.count_new + book.count_used,
        "tradeInPrice": -2,
        "offerCountFBA": -2,
        "offerCountFBM": -2,
        "retrievedOfferCount": -2,
    }
    stats |= _buy_box_stats(live or [], opts, book.amazon_price > 0)
    if live is not None:
        new = [o for o in live if o.condition == 1]
        stats |= {
            "offerCountFBA": sum(o.is_fba for o in new),
            "offerCountFBM": sum(not o.is_fba for o in new),
            "retrievedOfferCount": len(live),
            "isAddonItem": False,
        }
    return dict(sorted(stats.items()))


def synth_product(asin: str, domain: int, now: int, opts: SynthOptions) -> dict[str, Any]:
    """The product object; `now` is the server's current Keepa minute."""
    book = book_for(asin, domain)
    if opts.price_factor != 1.0:
        book = _scaled(book, opts.price_factor)
    tl = _Timeline(book, now)
    live = live_offers(book)[: opts.offers] if opts.offers else []  # made only when asked for
    csv = _csv(book, tl, opts, live)
    product = product_fields(book, tl.last_update, tl.tracking_since, tl.listed_since, domain, csv)
    product["stats"] = _stats(book, csv, tl, opts, live if opts.offers else None)
    if opts.offers:
        offers, order = offers_field(book, live, tl.last_update, tl.listed_since)
        product["offers"], product["liveOffersOrder"] = offers, order
        product["offersSuccessful"] = True
    ean = ean_for_asin(asin)
    product["eanList"] = [ean] if ean else None
    product["gtinList"] = ["0" + ean] if ean else None
    product["partNumber"] = ean
    product["synthetic"] = True
    return dict(sorted(product.items()))
