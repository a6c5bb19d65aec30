"""From a parsed request to the products Keepa would return and the tokens it would charge."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from keepa_sim.catalog import Catalog, Product
from keepa_sim.codes import asin_for_code
from keepa_sim.keepa_time import MINUTES_PER_DAY
from keepa_sim.query import ProductQuery
from keepa_sim.series import trim_series
from keepa_sim.synth import SynthOptions, synth_product

# Token costs, from Keepa's /product documentation (keepa.com/#!api, "Request Products"):
BASE_COST = 1  # per requested product, found or not
OFFER_PAGE_COST = 6  # per found page of up to 10 offers; replaces the base token
OFFER_PAGE_SIZE = 10
NO_OFFERS_COST = 5  # offers requested, retrieval succeeded, but the product has no offers
BUYBOX_COST = 2
RATING_COST = 1  # "up to 1"; always charged here
LIVE_UPDATE_COST = 1  # update=0 forces a live refresh


@dataclass(frozen=True)
class Resolution:
    products: list[Product]
    tokens: int


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def product_cost(product: Product, query: ProductQuery) -> int:
    cost = BASE_COST
    if query.offers:
        offers = product.get("offers")
        if isinstance(offers, list):
            live = product.get("liveOffersOrder")
            found = min(len(live) if isinstance(live, list) else len(offers), query.offers)
            cost = OFFER_PAGE_COST * math.ceil(found / OFFER_PAGE_SIZE) if found else NO_OFFERS_COST
        # else: Keepa could not retrieve offers (untracked product): the base token only
    if query.buybox:
        cost += BUYBOX_COST
    if query.rating:
        cost += RATING_COST
    if query.update == 0:
        cost += LIVE_UPDATE_COST
    return cost


def _only_live(product: Product) -> None:
    offers, order = product.get("offers"), product.get("liveOffersOrder")
    if isinstance(offers, list) and isinstance(order, list):
        product["offers"] = [offers[i] for i in order if 0 <= i < len(offers)]
        product["liveOffersOrder"] = list(range(len(product["offers"])))


def _trim_history(product: Product, since: int) -> None:
    csv = product.get("csv")
    if isinstance(csv, list):
        product["csv"] = [c if c is None else trim_series(i, c, since) for i, c in enumerate(csv)]
    ranks = product.get("salesRanks")
    if isinstance(ranks, dict):
        product["salesRanks"] = {k: trim_series(3, v, since) for k, v in ranks.items()}


def shape(product: Product, query: ProductQuery, now: int) -> Product:
    """Apply the request's switches. Works on a shallow copy: recordings are shared."""
    out: dict[str, Any] = dict(product)
    if query.stats_days is None:
        out.pop("stats", None)
    if not query.offers and "offers" in out:
        out.pop("offers")
        out["liveOffersOrder"] = None
    elif query.only_live_offers:
        _only_live(out)
    if not query.history:
        out["csv"] = None
        out["salesRanks"] = None
    elif query.days:
        _trim_history(out, now - query.days * MINUTES_PER_DAY)
    return out


class Resolver:
    def __init__(self, catalog: Catalog, price_factors: dict[str, float] | None = None) -> None:
        self.catalog = catalog
        self.price_factors = {} if price_factors is None else price_factors

    def _product(self, asin: str, query: ProductQuery, now: int) -> Product:
        recorded = self.catalog.get(query.domain, asin, want_offers=query.offers > 0)
        if recorded is not None:
            return shape(recorded, query, now)
        options = SynthOptions(
            stats_days=query.stats_days or 180,
            offers=query.offers,
            buybox=query.buybox,
            rating=query.rating,
            price_factor=self.price_factors.get(asin, 1.0),
        )
        return shape(synth_product(asin, query.domain, now, options), query, now)

    def _asins_for_code(self, code: str, query: ProductQuery) -> list[str]:
        asins = self.catalog.asins_for_code(query.domain, code)
        if not asins:
            derived = asin_for_code(code)
            asins = [derived] if derived else []
        return asins[: query.code_limit] if query.code_limit else asins

    def resolve(self, query: ProductQuery, now: int) -> Resolution:
        unmatched = 0
        if query.asins:
            asins = _dedupe(list(query.asins))
        else:
            per_code = [self._asins_for_code(code, query) for code in _dedupe(list(query.codes))]
            unmatched = sum(1 for found in per_code if not found)
            asins = _dedupe([a for found in per_code for a in found])
        products = [self._product(asin, query, now) for asin in asins]
        # A code that matches nothing still costs its base token, like an unknown ASIN.
        tokens = sum(product_cost(p, query) for p in products) + unmatched * BASE_COST
        return Resolution(products, tokens)
