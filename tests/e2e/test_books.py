"""A book's history through the whole stack: analyse a book, then read the book, its history and
its chart (PNG and SVG) through the gateway, without another Keepa token.

The book is the recorded *Anxious Generation* the simulator serves (its envelope, as requested
without offers), so the series and sales can be checked against the recording itself."""

from __future__ import annotations

import io
import json
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from PIL import Image

from av_shared.identifiers import isbn10_to_isbn13
from devstack.stack import Stack
from keepa_sim import default_samples_dir
from tests.e2e.conftest import Seller

pytestmark = pytest.mark.e2e
BOOK = "0593655036"
RECORDED = json.loads((default_samples_dir() / "envelope-0593655036.json").read_text())
PRODUCT = RECORDED["products"][0]


async def keepa_requests_for(stack: Stack, asin: str) -> int:
    async with httpx.AsyncClient(base_url=stack.keepa_base_url, timeout=10) as sim:
        stats = (await sim.get("/_sim/stats")).json()
    return sum(1 for r in stats["requests"] if asin in r["asins"] or asin in r["codes"])


async def analyse(stack: Stack, seller: Seller, identifier: str = BOOK) -> dict[str, Any]:
    response = await seller.post(
        "/api/v1/analyses", json={"identifier": identifier, "buy_cost": 3.5}
    )
    assert response.status_code == 201, (response.text, stack.log_tail("analysis-0", 60))
    return response.json()  # type: ignore[no-any-return]


async def test_analysed_book_has_history_trends_and_charts_at_no_token(
    stack: Stack, seller: Seller, other_seller: Seller
) -> None:
    analysis = await analyse(stack, seller)
    assert analysis["asin"] == BOOK
    assert analysis["chart_url"].startswith(f"/api/v1/books/{BOOK}/chart.png?")
    fetched = await keepa_requests_for(stack, BOOK)
    assert fetched >= 1  # this stack fetched it (here or for an earlier test): it is cached

    book = await seller.get(f"/api/v1/books/{isbn10_to_isbn13(BOOK)}")  # any form of the ISBN
    assert book.status_code == 200, book.text
    body = book.json()
    assert (body["asin"], body["isbn13"], body["isbn10"]) == (BOOK, "9780593655030", BOOK)
    assert body["title"] == PRODUCT["title"]
    assert body["latest"]["sales_rank"] == PRODUCT["stats"]["current"][3]
    assert body["as_of"].startswith("2025-10-")  # Keepa's lastUpdate of the recording
    for series in ("new", "used", "sales_rank"):
        for window in ("last_30_days", "last_90_days"):
            found = body["trends"][series][window]
            assert found["direction"] in ("rising", "falling", "flat"), (series, found)
            assert found["days_with_value"] > 0 and found["change_percent"] is not None
    assert body["trends"]["buy_box"]["last_30_days"]["direction"] == "unknown"  # not recorded
    assert book.headers["cache-control"].startswith("private, max-age=")

    history = await seller.get(f"/api/v1/books/{BOOK}/history", params={"days": 30})
    assert history.status_code == 200, history.text
    recent = history.json()
    # The sales marked are the rank drops Keepa itself counted in those 30 days.
    assert len(recent["rank_drops"]) == PRODUCT["stats"]["salesRankDrops30"]
    newest = recent["series"]["sales_rank"][-1]
    assert newest["value"] == PRODUCT["csv"][3][-1]
    used = [p["value"] for p in recent["series"]["used"] if p["value"] is not None]
    assert used and all(1 < v < 100 for v in used)  # dollars, not cents
    year = (await seller.get(f"/api/v1/books/{BOOK}/history")).json()
    assert year["days"] == 365 and len(year["rank_drops"]) > len(recent["rank_drops"])

    png = await seller.get(f"/api/v1/books/{BOOK}/chart.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (1000, 500)
    etag = png.headers["etag"]
    again = await seller.get(f"/api/v1/books/{BOOK}/chart.png", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag

    svg = await seller.get(f"/api/v1/books/{BOOK}/chart.svg", params={"days": 90})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    ids = {e.attrib["id"] for e in ET.fromstring(svg.content).iter() if "id" in e.attrib}
    assert {"series-new", "series-used", "series-sales_rank", "rank-drops"} <= ids

    # A second analysis and every read above: not one more Keepa request for the book.
    await analyse(stack, seller)
    assert await keepa_requests_for(stack, BOOK) == fetched

    # Another seller never analysed it: 404, saying how to get it.
    unknown = await other_seller.get(f"/api/v1/books/{BOOK}")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "analyse it" in unknown.json()["detail"]


async def test_bad_identifier_names_the_field(seller: Seller) -> None:
    response = await seller.get("/api/v1/books/0593655037/chart.svg")  # wrong check digit
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "identifier"
    too_far = await seller.get(f"/api/v1/books/{BOOK}/history", params={"days": 5000})
    assert too_far.status_code == 422


async def test_chart_url_loads_without_authorization_and_refuses_tampering(
    stack: Stack, seller: Seller, http: httpx.AsyncClient
) -> None:
    """An analysis's `chart_url` is usable as an <img src>: signed for its seller, no header."""
    analysis = await analyse(stack, seller)
    url = analysis["chart_url"]
    png = await http.get(url)  # the anonymous client: no Authorization, no API key
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (1000, 500)
    again = await seller.get(f"/api/v1/analyses/{analysis['id']}")
    assert again.json()["chart_url"].startswith(f"/api/v1/books/{BOOK}/chart.png?")

    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert set(query) == {"owner", "exp", "sig"}
    assert int(query["exp"]) - time.time() <= 15 * 60 + 5

    def altered(path: str = parts.path, **changes: str) -> str:
        return f"{path}?{urlencode({**query, **changes})}"

    flipped = query["sig"][:-1] + ("0" if query["sig"][-1] != "0" else "1")
    refused = [
        altered(sig=flipped),  # the signature
        altered(exp=str(int(query["exp"]) + 3600)),  # a longer life
        altered(exp=str(int(time.time()) - 1)),  # expired (and so not what was signed)
        altered(path=parts.path.replace("chart.png", "chart.svg")),  # another chart
        altered(owner=str(uuid.uuid4())),  # another seller
        f"{parts.path}?{urlencode({'sig': query['sig']})}",  # parts left out
    ]
    for bad in refused:
        answer = await http.get(bad)
        assert answer.status_code in (401, 403), (bad, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    # Without a signature and without credentials: as any other route, a 401.
    assert (await http.get(parts.path)).status_code == 401
