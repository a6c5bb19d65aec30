"""Recorded Keepa products, indexed by ASIN and by the codes they list."""

from __future__ import annotations

import gzip
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
    """A file holds a bare product, a whole envelope, or a list of products (or of envelopes).
    A product is served as Keepa would: its ASIN upper case."""
    if isinstance(document, dict):
        if isinstance(document.get("products"), list):
            return _products_in(document["products"])
        asin = document.get("asin")
        if isinstance(asin, str) and asin.strip():
            return [{**document, "asin": normalize_asin(asin)}]
    if isinstance(document, list):
        return [p for item in document for p in _products_in(item)]
    return []


def _read(path: Path) -> object:
    """JSON, gzip-compressed or not (Keepa answers gzip), with or without a byte-order mark."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw.decode("utf-8-sig"))


def _sample_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and p.name.lower().endswith((".json", ".json.gz", ".gz"))
    )


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
            # Serving only synthetic books by accident would pass every test that looks for
            # recorded ones as "missing": refuse instead.
            raise FileNotFoundError(f"Keepa samples folder {directory} does not exist")
        for path in _sample_files(directory):
            try:
                document = _read(path)
            except (OSError, ValueError, EOFError) as exc:
                log.warning("skipping %s: %s", path.name, exc)
                continue
            for product in _products_in(document):
                catalog.add(product)
        log.info("loaded %d recorded products from %s", len(catalog), directory)
        return catalog

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_asin.values())

    def add(self, product: Product) -> None:
        domain = product.get("domainId")
        domain = domain if isinstance(domain, int) and domain > 0 else 1
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
