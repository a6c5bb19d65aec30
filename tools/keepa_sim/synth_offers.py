"""Marketplace offers for a synthetic book, consistent with its lowest new/used prices."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from keepa_sim.keepa_time import MINUTES_PER_DAY
from keepa_sim.synth_book import USED_CONDITIONS, Book

AMAZON_SELLER_ID = "ATVPDKIKX0DER"
FBM_SHIPPING = 399  # cents; FBA and Amazon offers ship free
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_COMMENTS = {
    2: "Unread copy in perfect condition.",
    3: "Minimal wear to cover, clean pages.",
    4: "Readable copy. Some wear to cover; may contain limited notes or highlighting.",
    5: "Heavily read. Binding intact, pages may have markings.",
}


@dataclass(frozen=True)
class LiveOffer:
    condition: int
    price: int
    shipping: int
    is_fba: bool
    is_amazon: bool
    seller_id: str

    @property
    def landed(self) -> int:
        return self.price + self.shipping


def _seller_id(rng: random.Random) -> str:
    return "A" + "".join(rng.choice(_B36) for _ in range(rng.randint(12, 13)))


def _offer(rng: random.Random, condition: int, price: int, shipping: int | None) -> LiveOffer:
    if shipping is None:
        shipping = 0 if rng.random() < 0.4 else FBM_SHIPPING
    return LiveOffer(condition, price, shipping, shipping == 0, False, _seller_id(rng))


def live_offers(book: Book) -> list[LiveOffer]:
    """Every live offer, cheapest landed price first, conditions mixed, as Amazon lists them
    (so a request for 20 offers sees the cheap used ones a used-book reseller cares about)."""
    rng = random.Random(book.seed + 2)
    offers: list[LiveOffer] = []
    if book.amazon_price > 0:
        offers.append(LiveOffer(1, book.amazon_price, 0, True, True, AMAZON_SELLER_ID))
    for k in range(book.count_new - len(offers)):
        factor = 1.0 if k == 0 else rng.uniform(1.0, 1.6)
        offers.append(_offer(rng, 1, round(book.new_price * factor), None))
    for condition, (price, shipping) in book.used_by_condition.items():
        offers.append(_offer(rng, condition, price, shipping))
    present = list(book.used_by_condition) or list(USED_CONDITIONS)
    for _ in range(book.count_used - len(book.used_by_condition)):
        condition = rng.choice(present)
        floor = book.used_by_condition[condition][0]
        offers.append(_offer(rng, condition, round(floor * rng.uniform(1.0, 1.8)), None))
    return sorted(offers, key=lambda o: (o.landed, o.condition))


def _offer_csv(rng: random.Random, offer: LiveOffer, first_seen: int, last: int) -> list[int]:
    flat: list[int] = []
    steps = rng.randint(0, 2)
    times = sorted(rng.sample(range(first_seen, max(first_seen + steps + 1, last)), steps))
    for t in times:
        flat += [t, round(offer.price * rng.uniform(1.0, 1.3)), offer.shipping]
    return [*flat, last, offer.price, offer.shipping]


def _offer_object(
    rng: random.Random, offer_id: int, offer: LiveOffer, last_seen: int, first_seen: int
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "condition": offer.condition,
        "couponHistory": [first_seen, 0],
        "isAddonItem": False,
        "isAmazon": offer.is_amazon,
        "isFBA": offer.is_fba,
        "isMAP": False,
        "isPreorder": False,
        "isPrime": offer.is_fba,
        "isPrimeExcl": False,
        "isScam": False,
        "isShippable": True,
        "isWarehouseDeal": False,
        "lastSeen": last_seen,
        "lastStockUpdate": 0,
        "minOrderQty": 1,
        "offerCSV": _offer_csv(rng, offer, first_seen, last_seen),
        "offerId": offer_id,
        "sellerId": offer.seller_id,
        "shipsFromChina": False,
    }
    if offer.condition in _COMMENTS and rng.random() < 0.6:
        obj["conditionComment"] = _COMMENTS[offer.condition]
    return dict(sorted(obj.items()))


def offers_field(
    book: Book, live: list[LiveOffer], now: int, listed_since: int
) -> tuple[list[dict[str, Any]], list[int]]:
    """Keepa's `offers` (live and a few gone ones, in first-seen order) and `liveOffersOrder`."""
    rng = random.Random(book.seed + 3)
    gone = [
        _offer(rng, rng.choice((1, *USED_CONDITIONS)), rng.randint(300, 6000), None)
        for _ in range(rng.randint(0, 4))
    ]
    entries = [(o, True) for o in live] + [(o, False) for o in gone]
    rng.shuffle(entries)  # offers are listed as Keepa first saw them, not by price
    objects: list[dict[str, Any]] = []
    for offer_id, (offer, is_live) in enumerate(entries, start=1):
        first_seen = rng.randint(listed_since, now - 2 * MINUTES_PER_DAY)
        last_seen = now if is_live else rng.randint(first_seen + 1, now - MINUTES_PER_DAY)
        objects.append(_offer_object(rng, offer_id, offer, last_seen, first_seen))
    position = {id(o): i for i, (o, _) in enumerate(entries)}
    return objects, [position[id(o)] for o in live]
