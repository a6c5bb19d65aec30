"""Reading a batch again and again (a seller's status poll) is answered by the gateway from what
it last read, kept current by the batch's progress events: the answers still follow the batch to
its end, are the seller's alone, and carry what every answer carries."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import Seller
from tests.helpers import isbn10s, items_for

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


async def test_a_polled_batch_is_followed_to_its_end_and_is_the_sellers_alone(
    seller: Seller, other_seller: Seller
) -> None:
    batch = await seller.submit(items_for(isbn10s(40, seed=4242)))
    path = f"/api/v1/batches/{batch['id']}"
    seen: list[dict[str, object]] = []
    deadline = asyncio.get_running_loop().time() + 180
    while not seen or seen[-1]["status"] not in TERMINAL:
        assert asyncio.get_running_loop().time() < deadline, seen[-1:]
        answer = await seller.get(path)
        assert answer.status_code == 200, answer.text
        seen.append(answer.json())
        await asyncio.sleep(0.05)
    done = [int(b["items_processed"]) + int(b["items_failed"]) for b in seen]  # type: ignore[call-overload]
    assert done == sorted(done), "progress never goes back"
    final = seen[-1]
    assert final["status"] == "COMPLETED"
    assert done[-1] == final["items_total"] == 40
    assert final["finished_at"] is not None and final["eta_seconds"] is None

    # Once finished, every read is the same answer, with the headers of any answer.
    again = [await seller.get(path) for _ in range(3)]
    assert all(a.json() == final for a in again)
    for answer in again:
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert int(answer.headers["ratelimit-remaining"]) >= 0
    assert set(final) == {
        "id", "name", "status", "items_total", "items_processed", "items_failed",
        "created_at", "started_at", "finished_at", "eta_seconds", "queued_items",
    }  # fmt: skip

    # Kept for its owner only: another seller is told it does not exist, as before.
    refused = await other_seller.get(path)
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    # A misspelt query parameter is still the route's 422, not a kept answer.
    misspelt = await seller.get(path, params={"fields": "status"})
    assert misspelt.status_code == 422, misspelt.text


async def test_a_cancelled_batch_reads_cancelled_soon_after_the_cancel_applies(
    seller: Seller,
) -> None:
    # Books the simulator is slow to make up: the batch is still running when cancelled.
    batch = await seller.submit(items_for(isbn10s(400, seed=9191)))
    path = f"/api/v1/batches/{batch['id']}"
    assert (await seller.get(path)).status_code == 200  # a read kept by the gateway
    cancel = await seller.patch(f"{path}/status", json={"status": "CANCELLED"})
    if cancel.status_code == 409:  # it finished first: nothing to follow
        return
    assert cancel.status_code == 202, cancel.text
    final = await seller.wait_terminal(batch["id"], timeout=180)
    assert final["status"] == "CANCELLED"
    assert (await seller.get(path)).json()["status"] == "CANCELLED"
