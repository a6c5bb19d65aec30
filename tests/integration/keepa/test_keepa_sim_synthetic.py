"""Synthetic books: deterministic per ASIN, marked, shaped like the recordings, varied."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from keepa_harness import API_KEY, RunningSim

from keepa_sim import SimConfig, create_app
from keepa_sim.codes import isbn10_check
from keepa_sim.keepa_time import to_keepa_minute

Clock = Callable[[], float]


async def _fetch(clock: Clock, samples_dir: Path, **params: Any) -> dict[str, Any]:
    """One request to a fresh in-process simulator whose clock is frozen."""
    app = create_app(SimConfig(samples_dir=samples_dir, clock=clock))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        response = await http.get("/product", params={"key": API_KEY, "domain": 1, **params})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _isbn10s(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    bodies = ["".join(rng.choice("0123456789") for _ in range(9)) for _ in range(n)]
    return [b + isbn10_check(b) for b in bodies]


async def test_same_asin_same_product_across_servers(fixed_clock: Clock, samples_dir: Path) -> None:
    params = {"asin": "0316769487,B0C9F37G28", "stats": 180, "offers": 20, "rating": 1}
    first = await _fetch(fixed_clock, samples_dir, **params)
    second = await _fetch(fixed_clock, samples_dir, **params)
    assert first["products"] == second["products"]
    assert all(p["synthetic"] is True for p in first["products"])


async def test_values_do_not_depend_on_the_clock(fixed_clock: Clock, samples_dir: Path) -> None:
    now = await _fetch(fixed_clock, samples_dir, asin="0316769487", stats=180)
    week_later = fixed_clock() + 7 * 86400
    later = await _fetch(lambda: week_later, samples_dir, asin="0316769487", stats=180)
    a, b = now["products"][0], later["products"][0]
    assert a["stats"]["current"] == b["stats"]["current"]
    assert a["title"] == b["title"] and a["packageWeight"] == b["packageWeight"]
    assert b["lastUpdate"] - a["lastUpdate"] == 7 * 1440  # times follow the server's clock


async def test_synthetic_book_has_the_recorded_shape(
    fixed_clock: Clock, samples_dir: Path, recorded: Callable[[str], dict[str, Any]]
) -> None:
    sample = recorded("envelope-0593655036.json")["products"][0]
    product = (await _fetch(fixed_clock, samples_dir, asin="0316769487", stats=180))["products"][0]
    assert set(product) == set(sample) | {"synthetic"}
    assert set(product["stats"]) >= {
        "current",
        "avg30",
        "avg90",
        "avg180",
        "salesRankDrops30",
        "salesRankDrops90",
        "salesRankDrops180",
        "salesRankDrops365",
        "buyBoxPrice",
    }
    assert len(product["csv"]) == len(sample["csv"])
    for key in ("current", "avg", "avg30", "avg90", "avg180", "avg365", "min", "max"):
        assert len(product["stats"][key]) == len(sample["stats"][key]), key
    assert product["productGroup"] == "Book" and product["rootCategory"] == 283155
    assert product["binding"] in {"paperback", "hardcover"}
    assert product["eanList"] == ["9780316769488"]
    assert product["fbaFees"]["pickAndPackFee"] > 0 and product["referralFeePercentage"] == 15
    now = to_keepa_minute(fixed_clock())
    assert now - 60 <= product["lastUpdate"] <= now
    for index in (1, 2, 3, 11, 12):  # NEW, USED, SALES, COUNT_NEW, COUNT_USED: [t, v, ...]
        series = product["csv"][index]
        assert len(series) >= 4 and len(series) % 2 == 0
        assert series[-1] == product["stats"]["current"][index]
        assert series[::2] == sorted(series[::2]) and series[-2] <= product["lastUpdate"]
    # Like the recording without offers: no buy box history, buy box price "not requested".
    assert product["csv"][18] is None and product["stats"]["buyBoxPrice"] == -2


async def test_offers_bring_buy_box_and_offer_objects(
    fixed_clock: Clock, samples_dir: Path
) -> None:
    asins = ",".join(_isbn10s(20))
    body = await _fetch(fixed_clock, samples_dir, asin=asins, stats=90, offers=20)
    with_offers = [p for p in body["products"] if p["liveOffersOrder"]]
    assert len(with_offers) >= 15
    for product in with_offers:
        live = [product["offers"][i] for i in product["liveOffersOrder"]]
        assert 0 < len(live) <= 20
        for offer in live:
            csv = offer["offerCSV"]
            assert len(csv) % 3 == 0 and 1 <= offer["condition"] <= 5
            assert isinstance(offer["isFBA"], bool) and isinstance(offer["isAmazon"], bool)
        stats = product["stats"]
        assert stats["buyBoxPrice"] != -2 and stats["retrievedOfferCount"] == len(live)
        bb_history = product["csv"][18]
        assert bb_history is not None and len(bb_history) % 3 == 0
        used = [o for o in live if o["condition"] > 1]
        if used:  # USED is the lowest used price; with every offer retrieved, it is one of them
            cheapest = min(o["offerCSV"][-2] for o in used)
            assert cheapest >= stats["current"][2] > 0
            assert len(live) == 20 or cheapest == stats["current"][2]
    pages = [-(-len(p["liveOffersOrder"]) // 10) for p in with_offers]
    assert body["tokensConsumed"] == 6 * sum(pages) + 5 * (len(body["products"]) - len(with_offers))


async def test_prices_and_ranks_spread_over_realistic_ranges(
    fixed_clock: Clock, samples_dir: Path
) -> None:
    products = []
    for chunk in range(3):
        asins = _isbn10s(100, seed=chunk)
        body = await _fetch(fixed_clock, samples_dir, asin=",".join(asins), stats=180)
        products += body["products"]
    ranks = [p["stats"]["current"][3] for p in products]
    used = [p["stats"]["current"][2] for p in products]
    assert 1_000 <= min(ranks) < 5_000 and 1_000_000 < max(ranks) <= 3_000_000
    assert 10_000 < statistics.median(ranks) < 200_000
    priced = [u for u in used if u > 0]
    assert min(priced) >= 300 and max(priced) <= 8_000 and min(priced) < 500 < 5_000 < max(priced)
    assert 0.05 < used.count(-1) / len(used) < 0.3  # some books have no used offer at all
    drops = [p["stats"]["salesRankDrops30"] for p in products]
    assert min(drops) == 0 and max(drops) >= 50


async def test_978_code_maps_to_isbn10_and_979_to_a_stable_b0_asin(keepa_sim: RunningSim) -> None:
    body = (await keepa_sim.product(code="9780316769488,9791234567896", stats=30)).json()
    isbn10, b0 = body["products"]
    assert isbn10["asin"] == "0316769487" and isbn10["eanList"] == ["9780316769488"]
    assert b0["asin"].startswith("B0") and len(b0["asin"]) == 10
    assert b0["eanList"] == ["9791234567896"] and b0["synthetic"] is True
    again = (await keepa_sim.product(asin=b0["asin"], stats=30)).json()["products"][0]
    assert again["eanList"] == ["9791234567896"]  # the derived ASIN remembers its code
    assert again["stats"]["current"] == b0["stats"]["current"]


async def test_code_matching_nothing_returns_no_product(keepa_sim: RunningSim) -> None:
    body = (await keepa_sim.product(code="4006381333931")).json()  # an EAN, not a book
    assert body["products"] == [] and body["tokensConsumed"] == 1
