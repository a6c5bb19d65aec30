"""The descriptive fields of a synthetic product, with the key set of the recorded products."""

from __future__ import annotations

import random
import re
from typing import Any

from keepa_sim import series as s
from keepa_sim.synth_book import Book

_IMAGE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _image(rng: random.Random) -> str:
    return "".join(rng.choice(_IMAGE_CHARS) for _ in range(11)) + ".jpg"


def _slug(title: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "-".join(w for w in words if w.lower() not in {"the", "a", "an", "of"})[:60]


def _monthly_sold(book: Book, last_update: int) -> list[int] | None:
    # Amazon only shows "N bought in past month" from 50 a month on; Keepa records that badge.
    if book.drops[0] < 50:
        return None
    return [last_update - 30 * 1440, 50, last_update, 50 if book.drops[0] < 100 else 100]


def product_fields(
    book: Book, last_update: int, tracking_since: int, listed_since: int, domain: int, csv: s.Csv
) -> dict[str, Any]:
    rng = random.Random(book.seed + 4)
    genre_id, genre_name = book.genre
    image = _image(rng)
    length, width, height = book.dims_mm
    has_amazon = book.amazon_price > 0
    return {
        "asin": book.asin,
        "author": book.author,
        "availabilityAmazon": 0 if has_amazon else -1,
        "binding": book.binding,
        "brand": book.publisher,
        "buyBoxEligibleOfferCounts": [
            min(book.count_new, 9),
            min(book.count_new, 20),
            0,
            0,
            0,
            min(book.count_used, 20),
            0,
            0,
        ],
        "buyBoxSellerIdHistory": None,
        "categories": [genre_id * 100 + 1, genre_id],
        "categoryTree": [
            {"catId": s_id, "name": name}
            for s_id, name in ((283155, "Books"), (1000, "Subjects"), (genre_id, genre_name))
        ],
        "color": None,
        "competitivePriceThreshold": book.new_price if book.new_price > 0 else -1,
        "contributors": [[book.author, "author"]],
        "coupon": None,
        "couponHistory": None,
        "csv": csv,
        "description": f"{book.title} by {book.author}. Published by {book.publisher}.",
        "domainId": domain,
        "eanList": None,
        "ebayListingIds": None,
        "edition": None,
        "fbaFees": {"lastUpdate": last_update, "pickAndPackFee": book.pick_and_pack_fee},
        "features": None,
        "format": None,
        "formats": None,
        "frequentlyBoughtTogether": None,
        "g": rng.randint(1, 30000),
        "gtinList": None,
        "hasReviews": book.review_count > 0,
        "images": [{"l": image, "lH": 1500, "lW": 1000, "m": image, "mH": 500, "mW": 333}],
        "imagesCSV": image,
        "isAdultProduct": False,
        "isB2B": False,
        "isEligibleForSuperSaverShipping": True,
        "isEligibleForTradeIn": False,
        "isHeatSensitive": False,
        "isRedirectASIN": False,
        "isSNS": False,
        "itemHeight": max(5, height - 5),
        "itemLength": max(5, length - 10),
        "itemTypeKeyword": "book",
        "itemWeight": max(50, book.weight_g - 40),
        "itemWidth": max(5, width - 5),
        "languages": [["English", "Published"], ["English", "Original Language"], ["English"]],
        "lastEbayUpdate": 0,
        "lastPriceChange": last_update,
        "lastRatingUpdate": last_update,
        "lastSoldUpdate": last_update if book.drops[0] >= 50 else -1,
        "lastUpdate": last_update,
        "launchpad": False,
        "listedSince": listed_since,
        "liveOffersOrder": None,
        "manufacturer": book.publisher,
        "model": None,
        "monthlySoldHistory": _monthly_sold(book, last_update),
        "newPriceIsMAP": False,
        "numberOfItems": 1,
        "numberOfPages": book.pages,
        "offersSuccessful": False,
        "packageHeight": height,
        "packageLength": length,
        "packageQuantity": 0,
        "packageWeight": book.weight_g,
        "packageWidth": width,
        "parentAsin": None,
        "partNumber": None,
        "productGroup": "Book",
        "productType": 0,
        "promotions": None,
        "publicationDate": book.publication_date,
        "referralFeePercent": 15,
        "referralFeePercentage": 15.0,
        "releaseDate": book.publication_date,
        "rootCategory": 283155,
        "salesRankDisplayGroup": "book_display_on_website",
        "salesRankReference": 283155,
        "salesRankReferenceHistory": [tracking_since, 283155],
        "salesRanks": {"283155": csv[s.SALES]},
        "size": None,
        "title": book.title,
        "trackingSince": tracking_since,
        "type": "ABIS_BOOK",
        "upcList": None,
        "urlSlug": _slug(book.title),
        "variableClosingFee": 180,
        "variationCSV": None,
        "variations": None,
        "websiteDisplayGroup": "book_display_on_website",
        "websiteDisplayGroupName": "Book",
    }
