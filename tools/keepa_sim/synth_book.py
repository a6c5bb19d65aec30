"""The time-independent facts of a synthetic book, all derived from its ASIN.

Ranges are chosen so a batch holds a realistic mix: sales ranks from ~1e3 to ~3e6 (log-uniform),
used prices from $3 to $80, ~15% of books with no used offer at all, so that some books are worth
buying and many are not.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

_ADJECTIVES = (
    "Silent",
    "Hidden",
    "Last",
    "Broken",
    "Golden",
    "Quiet",
    "Wild",
    "Distant",
    "Practical",
    "Complete",
    "Modern",
    "Forgotten",
    "Little",
    "Secret",
    "Essential",
    "Invisible",
    "Radical",
)
_NOUNS = (
    "Garden",
    "River",
    "Algorithm",
    "Empire",
    "Kitchen",
    "Mind",
    "Ocean",
    "Machine",
    "Winter",
    "Library",
    "Frontier",
    "Habit",
    "Signal",
    "Mountain",
    "Market",
    "Lantern",
    "Atlas",
    "Harvest",
)
_SUBTITLES = (
    "A Novel",
    "A Memoir",
    "A Practical Guide",
    "An Introduction",
    "Stories",
    "A History",
    "Principles and Practice",
    "Poems",
    "A Field Guide",
    "Lessons from a Life",
)
_FIRST = ("Anna", "James", "Maria", "David", "Elena", "Samuel", "Grace", "Tomás", "Priya", "Owen")
_LAST = ("Whitfield", "Okafor", "Lindqvist", "Moreau", "Castillo", "Nakamura", "Brennan", "Adler")
_PUBLISHERS = (
    "Penguin Press",
    "Vintage",
    "Harper",
    "Scribner",
    "O'Reilly Media",
    "Wiley",
    "Norton",
    "Oxford University Press",
    "Little, Brown",
    "Knopf",
)
_GENRES = (
    (4736, "Self-Help"),
    (17, "Literature & Fiction"),
    (5, "Computers & Technology"),
    (9, "History"),
    (75, "Science & Math"),
    (3, "Business & Money"),
    (6, "Cookbooks"),
)
_LIST_PRICES = (
    999,
    1299,
    1499,
    1699,
    1799,
    1999,
    2499,
    2799,
    2999,
    3499,
    3999,
    4999,
    5999,
    7999,
    8999,
    12999,
)
# Used conditions as Keepa numbers them: 2 like new, 3 very good, 4 good, 5 acceptable.
USED_CONDITIONS = (2, 3, 4, 5)
_CONDITION_PREMIUM = {2: 1.25, 3: 1.12, 4: 1.0, 5: 0.92}


@dataclass(frozen=True)
class Book:
    asin: str
    seed: int
    title: str
    author: str
    publisher: str
    genre: tuple[int, str]
    binding: str
    pages: int
    publication_date: int  # YYYYMMDD
    rank: int
    list_price: int
    new_price: int  # cents; -1 when nobody sells it new
    used_price: int  # cents, lowest used, shipping excluded; -1 when there is no used offer
    used_by_condition: dict[int, tuple[int, int]]  # condition -> (lowest price, its shipping)
    amazon_price: int  # -1 when Amazon does not sell it
    count_new: int
    count_used: int
    drops: tuple[int, int, int, int]  # salesRankDrops30/90/180/365
    rating: int  # Keepa stores 4.6 stars as 46
    review_count: int
    weight_g: int
    dims_mm: tuple[int, int, int]  # length >= width >= height, as Keepa orders package sides
    pick_and_pack_fee: int


def seed_for(asin: str, domain: int) -> int:
    digest = hashlib.sha256(f"{domain}:{asin}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _pick_and_pack_fee(weight_g: int) -> int:
    # Tiered like Amazon's FBA fee table for standard-size media, in cents.
    for limit, fee in ((227, 306), (340, 315), (454, 324), (680, 371), (907, 402), (1361, 446)):
        if weight_g <= limit:
            return fee
    return 505


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:  # normal approximation; Knuth's product underflows for large means
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _drops(rng: random.Random, rank: int) -> tuple[int, int, int, int]:
    # Rank drops ~ sales: ~100 a month at rank 1e3, ~6 at 1e5, under 1 past ~2e6.
    monthly = 6300 * rank**-0.6
    d30 = _poisson(rng, monthly)
    d90 = d30 + _poisson(rng, 2 * monthly)
    d180 = d90 + _poisson(rng, 3 * monthly)
    d365 = d180 + _poisson(rng, 6.2 * monthly)
    return d30, d90, d180, d365


def _used_by_condition(rng: random.Random, used_price: int) -> dict[int, tuple[int, int]]:
    present = [c for c in USED_CONDITIONS if rng.random() < 0.7] or [rng.choice(USED_CONDITIONS)]
    cheapest = rng.choice(present)  # the overall lowest used price sits in one condition
    offers: dict[int, tuple[int, int]] = {}
    for condition in present:
        markup = _CONDITION_PREMIUM[condition] + rng.uniform(0.02, 0.3)
        premium = 1.0 if condition == cheapest else markup
        shipping = 0 if rng.random() < 0.35 else 399  # FBA offers ship free
        offers[condition] = (max(used_price, round(used_price * premium)), shipping)
    return offers


def book_for(asin: str, domain: int) -> Book:
    seed = seed_for(asin, domain)
    rng = random.Random(seed)
    rank = round(_log_uniform(rng, 1_000, 3_000_000))
    list_price = rng.choice(_LIST_PRICES)
    has_used = rng.random() >= 0.15
    used_price = round(_log_uniform(rng, 300, 8000)) if has_used else -1
    new_price = -1
    if rng.random() < 0.93:
        floor = used_price + 100 if used_price > 0 else 0
        new_price = max(floor, round(list_price * rng.uniform(0.55, 1.0)))
    amazon_price = round(list_price * rng.uniform(0.6, 0.95)) if rng.random() < 0.35 else -1
    popularity = max(1.0, min(80.0, 60 * (10_000 / rank) ** 0.35))
    used_by_condition = _used_by_condition(rng, used_price) if has_used else {}
    hardcover = rng.random() < 0.35
    published = rng.randint(1995, 2025) * 10_000 + rng.randint(1, 12) * 100 + rng.randint(1, 28)
    weight = rng.randint(400, 1500) if hardcover else rng.randint(150, 700)
    dims = sorted((rng.randint(180, 280), rng.randint(110, 220), rng.randint(10, 60)), reverse=True)
    return Book(
        asin=asin,
        seed=seed,
        title=f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}: {rng.choice(_SUBTITLES)}",
        author=f"{rng.choice(_LAST)}, {rng.choice(_FIRST)}",
        publisher=rng.choice(_PUBLISHERS),
        genre=rng.choice(_GENRES),
        # Keepa's 2025 recordings spell bindings in lower case ("hardcover").
        binding="hardcover" if hardcover else "paperback",
        pages=rng.randint(96, 880),
        publication_date=published,
        rank=rank,
        list_price=list_price,
        new_price=new_price,
        used_price=used_price,
        used_by_condition=used_by_condition,
        amazon_price=amazon_price,
        count_new=0 if new_price < 0 else max(1, round(popularity * rng.uniform(0.2, 0.8))),
        # every used condition that has a lowest price has at least that one offer
        count_used=max(len(used_by_condition), has_used * round(popularity * rng.uniform(0.3, 1))),
        drops=_drops(rng, rank),
        rating=rng.randint(35, 49),
        review_count=max(0, round(popularity**1.6 * rng.uniform(0.5, 3))),
        weight_g=weight,
        dims_mm=(dims[0], dims[1], dims[2]),
        pick_and_pack_fee=_pick_and_pack_fee(weight),
    )
