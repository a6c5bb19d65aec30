"""Live marketplace offers from a Keepa product's ``offers`` list.

Keepa keeps every offer it has ever seen, so most entries are history. The live ones are those
listed in ``liveOffersOrder``; without it, those seen at the last offers update. Each offer's
current price and shipping are the newest (last) triple of its ``offerCSV``
(``[keepa_minute, price, shipping, ...]``, oldest first). The reference system read the first
(oldest) triple and dropped "used - like new"; both mistakes are avoided here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from . import keepa_format as kf
from .market import CONDITION_NAMES, Fulfillment, LowestOffer


def live_offers(
    product: Mapping[str, Any], stats: Mapping[str, Any] | None
) -> list[LowestOffer] | None:
    """Current offers of conditions 1-5; None when the product came without ``offers`` or Keepa
    says it could not fetch them (``offersSuccessful: false``: an empty list then means
    "unknown", not "no offers")."""
    offers = kf.as_list(product.get("offers"))
    if offers is None or product.get("offersSuccessful") is False:
        return None
    entries = [o for o in offers if isinstance(o, Mapping)]
    live = _live_entries(offers, product.get("liveOffersOrder"), stats, entries)
    result = [offer for offer in (_current(entry) for entry in live) if offer is not None]
    return result


def _live_entries(
    offers: Sequence[Any],
    order: Any,
    stats: Mapping[str, Any] | None,
    entries: list[Mapping[str, Any]],
) -> list[Mapping[str, Any]]:
    indices = kf.as_list(order)
    if indices is not None:
        seen: set[int] = set()
        live: list[Mapping[str, Any]] = []
        for raw_index in indices:
            index = kf.as_int(raw_index)
            if index is None or index in seen or not 0 <= index < len(offers):
                continue
            seen.add(index)
            if isinstance(offers[index], Mapping):
                live.append(offers[index])
        return live
    last_update = kf.positive(stats.get("lastOffersUpdate")) if stats is not None else None
    if last_update is None:
        last_update = max((kf.as_int(e.get("lastSeen")) or 0 for e in entries), default=0)
    return [e for e in entries if (kf.as_int(e.get("lastSeen")) or 0) >= last_update]


def _current(entry: Mapping[str, Any]) -> LowestOffer | None:
    condition = kf.as_int(entry.get("condition"))
    if condition is None or condition not in CONDITION_NAMES or entry.get("isScam") is True:
        return None
    history = kf.as_list(entry.get("offerCSV"))
    # Whole triples with never decreasing times, else the newest triple cannot be told apart.
    if history is None or not kf.time_series(history, 3):
        return None
    minute, price, shipping = (kf.keepa_int(v) for v in history[-3:])
    if price is None or price <= 0:  # -2: price could not be determined
        return None
    return LowestOffer(
        condition=condition,
        fulfillment=Fulfillment.FBA if _is_fba(entry) else Fulfillment.FBM,
        price=(Decimal(price) / 100).quantize(kf.CENT),
        shipping=None if shipping is None or shipping < 0 else kf.cents_to_dollars(shipping),
        seller_id=kf.text(entry.get("sellerId")),
        is_amazon=entry.get("isAmazon") is True,
        seen_at=None if minute is None else kf.keepa_time(minute),
        is_shippable=entry.get("isShippable") is not False,
    )


def _is_fba(entry: Mapping[str, Any]) -> bool:
    """``isFBA``; older offer objects lack it, and Keepa documents ``isPrime`` as the FBA sign."""
    flag = entry.get("isFBA")
    return flag if isinstance(flag, bool) else entry.get("isPrime") is True


def lowest_offers(offers: Sequence[LowestOffer]) -> tuple[LowestOffer, ...]:
    """The cheapest (landed) orderable live offer for each condition and channel, new first."""
    best: dict[tuple[int, Fulfillment], LowestOffer] = {}
    for offer in (o for o in offers if o.is_shippable):
        key = (offer.condition, offer.fulfillment)
        if key not in best or offer.landed < best[key].landed:
            best[key] = offer
    return tuple(
        best[key] for key in sorted(best, key=lambda k: (k[0], k[1] is not Fulfillment.FBA))
    )
