"""Recorded Keepa products, indexed by ASIN and by the codes they list."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from keepa_sim.codes import normalize_asin

log = logging.getLogger(__name__)

Product = dict[str, Any]
CODE_FIELDS = ("eanList", "upcList", "gtinList")


def _products_in(document: object) -> list[Product]:
    """A file holds a bare product, a whole envelope, or a list of products."""
    if isinstance(document, dict):
        if isinstance(document.get("products"), list):
            return [p for p in document["products"] if isinstance(p, dict)]
        if isinstance(document.get("asin"), str):
            return [document]
    if isinstance(document, list):
        return [p for p in document if isinstance(p, dict) and isinstance(p.get("asin"), str)]
    return []


def has_offers(product: Product) -> bool:
    return isinstance(product.get("offers"), list)


class Catalog:
    def __init__(self, products: Iterable[Product] = ()) -> None:
        # Several recordings of one ASIN may exist (e.g. with and without offers).
        self._by_asin: dict[tuple[int, str], list[Product]] = {}
        self._by_code: dict[tuple[int, str], list[str]] = {}
        for product in products:
            self.add(product)

    @classmethod
    def from_dir(cls, directory: Path) -> Catalog:
        catalog = cls()
        if not directory.is_dir():
            log.warning("samples dir %s does not exist; every product will be synthetic", directory)
            return catalog
        for path in sorted(directory.glob("*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("skipping %s: %s", path.name, exc)
                continue
            for product in _products_in(document):
                catalog.add(product)
        log.info("loaded %d recorded products from %s", len(catalog), directory)
        return catalog

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_asin.values())

    def add(self, product: Product) -> None:
        domain = int(product.get("domainId") or 1)
        asin = normalize_asin(str(product["asin"]))
        self._by_asin.setdefault((domain, asin), []).append(product)
        for field in CODE_FIELDS:
            for code in product.get(field) or []:
                for key in {str(code), str(code).lstrip("0")}:
                    asins = self._by_code.setdefault((domain, key), [])
                    if asin not in asins:
                        asins.append(asin)

    def get(self, domain: int, asin: str, *, want_offers: bool) -> Product | None:
        """The recording that best matches the request: with offers if they were asked for."""
        variants = self._by_asin.get((domain, asin))
        if not variants:
            return None
        preferred = [v for v in variants if has_offers(v) == want_offers]
        return (preferred or variants)[-1]

    def asins_for_code(self, domain: int, code: str) -> list[str]:
        found = self._by_code.get((domain, code)) or self._by_code.get((domain, code.lstrip("0")))
        return list(found or [])
