"""The real Keepa client against the simulator: tokens, waiting, retries, giving up."""

from __future__ import annotations

import logging
import time

import pytest
from keepa_harness import API_KEY, ClientFactory, RunningSim

from analysis_service.adapters.keepa_client import (
    KeepaClient,
    KeepaRequestRejected,
    KeepaUnavailable,
    TokenStatus,
)

BOOKS = ["0316769487", "0593655036", "0143127748", "0062316117", "B0ABCDEFGH"]


async def test_fetch_returns_products_in_order_and_reports_tokens(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    seen: list[TokenStatus] = []

    async def on_tokens(status: TokenStatus) -> None:
        seen.append(status)

    client = make_client(on_tokens=on_tokens)
    response = await client.fetch_products(BOOKS)
    assert [p["asin"] for p in response.products] == BOOKS
    assert response.tokens.tokens_consumed == 5
    assert response.tokens.tokens_left == 1195 and response.tokens.refill_rate == 1200
    assert response.tokens.timestamp_ms > 0
    assert seen == [response.tokens] and client.last_tokens == response.tokens


async def test_duplicates_are_requested_once(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    response = await make_client().fetch_products(
        ["0316769487", "0316769487 ", "b0abcdefgh", "B0ABCDEFGH", "0593655036"]
    )
    assert [p["asin"] for p in response.products] == ["0316769487", "B0ABCDEFGH", "0593655036"]
    requests = (await keepa_sim.stats())["requests"]
    assert [r["asins"] for r in requests] == [["0316769487", "B0ABCDEFGH", "0593655036"]]


async def test_batch_limits_and_bad_identifiers_never_reach_keepa(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    plain, with_offers = make_client(), make_client(offers=20)
    assert plain.max_batch_size() == KeepaClient.MAX_ASINS_PER_REQUEST == 100
    assert with_offers.max_batch_size() == KeepaClient.MAX_ASINS_WITH_OFFERS == 20
    with pytest.raises(ValueError, match="limit"):
        await plain.fetch_products([f"B0{i:08d}" for i in range(101)])
    with pytest.raises(ValueError, match="limit"):
        await with_offers.fetch_products([f"B0{i:08d}" for i in range(21)])
    with pytest.raises(ValueError, match="invalid"):
        await plain.fetch_products(["0316769487", "978-0316"])
    assert (await keepa_sim.stats())["requests"] == []
    ok = await plain.fetch_products([f"B0{i:08d}" for i in range(100)])
    assert len(ok.products) == 100


def test_token_cost_per_product_follows_the_parameters() -> None:
    def cost(**options: object) -> int:
        return KeepaClient(api_key="k", **options).tokens_per_product()  # type: ignore[arg-type]

    assert cost() == 1
    assert cost(offers=20) == 12  # 2 pages of 10 offers at 6 tokens, no base token
    assert cost(offers=100) == 60
    assert cost(buybox=True, rating=True) == 4
    assert cost(update=0) == 2


async def test_code_lookup_finds_books_by_isbn13(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    response = await make_client().lookup_codes(["9780593655030", "9791234567896"])
    assert [p["eanList"] for p in response.products] == [["9780593655030"], ["9791234567896"]]
    assert response.products[1]["asin"].startswith("B0")


async def test_client_waits_for_the_refill_on_429_and_finishes(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    # 5 tokens left, 40 needed, 20 tokens per real second: ~1.75 s of waiting.
    await keepa_sim.control("tokens", {"tokens_left": 5, "refill_rate": 20, "time_scale": 60})
    client = make_client()
    asins = [f"B0{i:08d}" for i in range(40)]
    started = time.monotonic()
    response = await client.fetch_products(asins)
    elapsed = time.monotonic() - started
    assert len(response.products) == 40
    assert 1.5 < elapsed < 6
    statuses = [r["status"] for r in (await keepa_sim.stats())["requests"]]
    assert statuses[0] == 429 and statuses[-1] == 200
    assert len(statuses) <= 3  # one wait for the whole deficit, not one retry per token


async def test_429_wait_beyond_the_limit_gives_up(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    await keepa_sim.control("tokens", {"tokens_left": 0, "refill_rate": 1, "time_scale": 1})
    client = make_client(max_token_wait_s=2)
    started = time.monotonic()
    with pytest.raises(KeepaUnavailable) as raised:
        await client.fetch_products(BOOKS)
    assert raised.value.reason == "token wait exceeded"
    assert time.monotonic() - started < 1  # known up front: a 5-minute wait is not slept
    assert client.last_tokens is not None and client.last_tokens.tokens_left == 0


async def test_client_retries_5xx_and_succeeds(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    await keepa_sim.control("faults", {"status": 503, "count": 2})
    await keepa_sim.control("faults", {"status": 500, "count": 1})
    response = await make_client(max_retries=3).fetch_products(BOOKS)
    assert len(response.products) == 5
    statuses = [r["status"] for r in (await keepa_sim.stats())["requests"]]
    assert statuses == [503, 503, 500, 200]


async def test_client_gives_up_after_max_retries(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    await keepa_sim.control("faults", {"status": 503, "count": 10})
    with pytest.raises(KeepaUnavailable, match="gave up after 3 attempts"):
        await make_client(max_retries=2).fetch_products(BOOKS)
    assert len((await keepa_sim.stats())["requests"]) == 3


async def test_timeouts_are_retried(keepa_sim: RunningSim, make_client: ClientFactory) -> None:
    await keepa_sim.control("faults", {"delay_ms": 1500, "count": 1})
    response = await make_client(read_timeout_s=0.5).fetch_products(BOOKS)
    assert len(response.products) == 5
    await keepa_sim.control("faults", {"delay_ms": 1500, "count": 5})
    with pytest.raises(KeepaUnavailable, match="ReadTimeout"):
        await make_client(read_timeout_s=0.3, max_retries=1).fetch_products(BOOKS)


async def test_unreachable_keepa_is_unavailable(make_client: ClientFactory) -> None:
    client = make_client(base_url="http://127.0.0.1:9", max_retries=2, connect_timeout_s=0.5)
    with pytest.raises(KeepaUnavailable, match="ConnectError"):
        await client.fetch_products(BOOKS)


async def test_rejected_requests_are_not_retried(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    await keepa_sim.control("faults", {"status": 400, "count": 3})
    with pytest.raises(KeepaRequestRejected) as raised:
        await make_client().fetch_products(BOOKS)
    assert raised.value.status_code == 400
    assert len((await keepa_sim.stats())["requests"]) == 1


async def test_api_key_never_appears_in_logs(
    keepa_sim: RunningSim, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    await keepa_sim.control("faults", {"status": 503, "count": 1})
    # httpx's own level too: a service's logging setup (run by other tests) quiets it.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="httpx"):
        await make_client().fetch_products(BOOKS)
    assert "HTTP Request" in caplog.text  # httpx did log the request line ...
    assert API_KEY not in caplog.text  # ... without the key
    assert API_KEY not in repr(make_client())


async def test_an_answer_larger_than_its_products_can_be_is_not_read_whole(
    keepa_sim: RunningSim, make_client: ClientFactory
) -> None:
    """The body is read decompressed up to a cap per product asked for (8 MiB by default): a
    server or a gzip bomb cannot make the service hold more. Here the cap is set below what a
    real product takes, so every try is cut off and the request gives up."""
    client = make_client(max_retries=1, max_response_bytes_per_product=1_000)
    with pytest.raises(KeepaUnavailable, match="ResponseTooLarge: answer larger than 5000 bytes"):
        await client.fetch_products(BOOKS)
    assert len((await keepa_sim.stats())["requests"]) == 2  # tried, retried once, gave up
    default = await make_client().fetch_products(BOOKS)  # the default cap reads them all
    assert len(default.products) == len(BOOKS)
