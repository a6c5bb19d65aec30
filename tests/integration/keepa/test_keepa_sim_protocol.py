"""The simulator answers `/product` the way Keepa does, over a real TCP socket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keepa_harness import RunningSim

Recorded = Callable[[str], dict[str, Any]]
ENVELOPE_FILE = "envelope-0593655036.json"


async def test_envelope_has_the_recorded_keys_and_types(
    keepa_sim: RunningSim, recorded: Recorded
) -> None:
    sample = recorded(ENVELOPE_FILE)
    body = (await keepa_sim.product(asin="0593655036", stats=180)).json()
    assert set(body) == set(sample)
    for key in set(sample) - {"products"}:
        assert type(body[key]) is type(sample[key]), key
    assert list(body) == sorted(body)  # Keepa sends keys alphabetically


async def test_recorded_product_is_served_verbatim_by_asin(
    keepa_sim: RunningSim, recorded: Recorded
) -> None:
    sample = recorded(ENVELOPE_FILE)["products"][0]
    response = await keepa_sim.product(asin="0593655036", stats=180, history=1)
    assert response.status_code == 200
    assert response.json()["products"] == [sample]


async def test_recorded_product_is_found_by_its_isbn13(
    keepa_sim: RunningSim, recorded: Recorded
) -> None:
    sample = recorded(ENVELOPE_FILE)["products"][0]
    body = (await keepa_sim.product(code="9780593655030", stats=180)).json()
    assert body["products"] == [sample]
    assert body["tokensConsumed"] == 1


async def test_offers_recording_is_served_when_offers_are_requested(
    keepa_sim: RunningSim, recorded: Recorded
) -> None:
    sample = recorded("product-0593655036-offers.json")
    body = (await keepa_sim.product(asin="0593655036", stats=180, offers=20)).json()
    assert body["products"] == [sample]
    # 41 live offers, 20 requested: 2 pages of 10 at 6 tokens, instead of the base token.
    assert body["tokensConsumed"] == 12


async def test_untracked_and_non_book_recordings_come_back_unchanged(
    keepa_sim: RunningSim, recorded: Recorded
) -> None:
    untracked = recorded("product-1492056200-untracked.json")
    nonbook = recorded("envelope-B08N5WRWNW-nonbook.json")["products"][0]
    body = (await keepa_sim.product(asin="1492056200,B08N5WRWNW", stats=180)).json()
    assert body["products"] == [untracked, nonbook]
    assert body["tokensConsumed"] == 2  # products without data still cost their token


async def test_products_come_in_request_order_with_synthetic_ones_marked(
    keepa_sim: RunningSim,
) -> None:
    asins = ["0316769487", "0593655036", "B0ABCDEFGH", "1492056200"]
    body = (await keepa_sim.product(asin=",".join(asins), stats=90)).json()
    assert [p["asin"] for p in body["products"]] == asins
    assert [p.get("synthetic", False) for p in body["products"]] == [True, False, True, False]


async def test_switches_shape_the_product(keepa_sim: RunningSim) -> None:
    plain = (await keepa_sim.product(asin="0593655036")).json()["products"][0]
    assert "stats" not in plain  # no `stats` parameter, no stats object
    no_history = (await keepa_sim.product(asin="0593655036", history=0)).json()["products"][0]
    assert no_history["csv"] is None
    trimmed = (await keepa_sim.product(asin="0593655036", days=30)).json()["products"][0]
    assert 0 < len(trimmed["csv"][3]) < len(plain["csv"][3])
    live = await keepa_sim.product(asin="0593655036", offers=20, **{"only-live-offers": 1})
    product = live.json()["products"][0]
    assert len(product["offers"]) == len(product["liveOffersOrder"]) == 41


async def test_more_than_100_asins_is_rejected(keepa_sim: RunningSim) -> None:
    asins = ",".join(f"B0{i:08d}" for i in range(101))
    response = await keepa_sim.product(asin=asins)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["type"] == "tooManyItems" and "products" not in body
    assert body["tokensConsumed"] == 0


async def test_more_than_20_asins_with_offers_is_rejected(keepa_sim: RunningSim) -> None:
    asins = ",".join(f"B0{i:08d}" for i in range(21))
    assert (await keepa_sim.product(asin=asins, offers=20)).status_code == 400
    assert (await keepa_sim.product(asin=asins[: 11 * 20 - 1])).status_code == 200


async def test_bad_requests_are_rejected_without_charge(keepa_sim: RunningSim) -> None:
    assert (await keepa_sim.product(asin="0593655036", domain=7)).status_code == 400
    assert (await keepa_sim.product(asin="not-an-asin!")).status_code == 400
    assert (await keepa_sim.product(asin="0593655036", code="9780593655030")).status_code == 400
    assert (await keepa_sim.product(asin="0593655036", offers=5)).status_code == 400
    stats = await keepa_sim.stats()
    assert [r["tokens_consumed"] for r in stats["requests"]] == [0, 0, 0, 0]


async def test_missing_or_empty_key_is_unauthorized(keepa_sim: RunningSim) -> None:
    missing = await keepa_sim.http.get("/product", params={"domain": 1, "asin": "0593655036"})
    empty = await keepa_sim.product(key="", asin="0593655036")
    for response in (missing, empty):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalidAccessKey"
        assert "tokensLeft" not in response.json()


async def test_token_endpoint_reports_the_bucket(keepa_sim: RunningSim) -> None:
    body = (await keepa_sim.http.get("/token", params={"key": "k"})).json()
    assert body["tokensConsumed"] == 0 and body["tokensLeft"] == 1200
