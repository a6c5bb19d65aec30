"""Is this Keepa product a physical book, and is there market data to price it?

Keepa's category data decides when it has any: the Books root category (283155), product group
"Book", Amazon type ABIS_BOOK or the book display group say book; ebooks, Kindle and Audible
editions and any other category say not a book. An untracked product has no category data at all
(``productType`` 4, everything -1): then an ISBN-10 ASIN is a book (every ISBN is one) and any
other ASIN is not, since nothing says it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from av_shared.identifiers import is_valid_isbn10, is_valid_isbn13, normalize_identifier

from . import keepa_format as kf
from .market import MarketSnapshot, MarketUsability

BOOKS_ROOT_CATEGORY = 283155  # amazon.com "Books" root node
BOOK_TYPES = frozenset({"ABIS_BOOK", "BOOK", "BOOKS", "BOOKS_1973_AND_LATER"})
NON_BOOK_BINDINGS = frozenset({"kindle edition", "audible audiobook", "kindle", "ebook"})
EBOOK_OR_DOWNLOAD_PRODUCT_TYPES = frozenset({1, 2})  # Keepa ProductType DOWNLOADABLE, EBOOK


def root_category(raw: Mapping[str, Any]) -> int | None:
    """``rootCategory`` (0 when unknown), else the first (root) node of ``categoryTree``."""
    root = kf.positive_id(raw.get("rootCategory"))
    if root is not None:
        return root
    tree = kf.as_list(raw.get("categoryTree"))
    first = kf.as_mapping(tree[0]) if tree else None
    return kf.positive_id(first.get("catId")) if first is not None else None


def _book_evidence(raw: Mapping[str, Any]) -> tuple[bool | None, str]:
    """True: Keepa says book; False: Keepa says something else; None: Keepa doesn't say."""
    binding = (kf.text(raw.get("binding")) or "").lower()
    if kf.as_int(raw.get("productType")) in EBOOK_OR_DOWNLOAD_PRODUCT_TYPES:
        return False, "a digital product (Keepa productType ebook/downloadable)"
    if binding in NON_BOOK_BINDINGS:
        return False, f"a digital edition (binding {binding!r})"
    group = kf.text(raw.get("productGroup"))
    root = root_category(raw)
    kind = kf.text(raw.get("type"))
    display = kf.text(raw.get("websiteDisplayGroup")) or ""
    if "ebook" in (group or "").lower() or "kindle" in binding:
        return False, f"a digital edition (product group {group!r}, binding {binding!r})"
    if (
        root == BOOKS_ROOT_CATEGORY
        or (group or "").lower() in ("book", "books")
        or (kind or "").upper() in BOOK_TYPES
        or display.startswith("book_")
    ):
        return True, "book"
    if group is not None or root is not None or kind is not None:
        return False, f"Keepa lists it as product group {group!r}, root category {root}"
    return None, "Keepa has no category data"


_PRICE_FIELDS = (
    "amazon_price", "new_price", "used_price", "new_fba_price", "buy_box_new_with_shipping",
    "buy_box_used_with_shipping", "lowest_new_with_shipping", "lowest_used_with_shipping",
    "avg90_new", "avg90_used", "avg90_buy_box_new", "avg90_buy_box_used", "avg30_new",
    "avg30_used", "avg30_buy_box_new", "avg30_buy_box_used", "avg180_new", "avg180_used",
    "avg180_buy_box_new", "avg180_buy_box_used",
)  # fmt: skip


def usability(
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


def keepa_says_book(raw: Mapping[str, Any]) -> bool | None:
    """What Keepa's category data says: a book, not one, or nothing (None: it has none)."""
    return _book_evidence(raw)[0]


def as_typed_isbn(market: MarketSnapshot, identifier: str) -> MarketSnapshot:
    """The seller typed an ISBN, so the product is a book even where Keepa's category data is
    missing (a 979 ISBN-13 resolves to a B0 ASIN, which alone reads as "not a book"); the prices
    then decide between "analysable" and "no market data". Keepa saying "not a book" stands."""
    typed = normalize_identifier(identifier)
    if (
        market.usability is not MarketUsability.NOT_A_BOOK
        or market.keepa_says_book is not None
        or not (is_valid_isbn10(typed) or is_valid_isbn13(typed))
    ):
        return market
    if all(getattr(market, name) is None for name in _PRICE_FIELDS):
        return replace(
            market,
            usability=MarketUsability.NO_MARKET_DATA,
            usability_reason=(f"No usable market data: Keepa has no price for ISBN {identifier}."),
        )
    return replace(market, usability=MarketUsability.USABLE, usability_reason=None)
