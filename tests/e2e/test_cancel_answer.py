"""PATCH /api/v1/batches/{id}/status answers what is true: the cancel is requested (applied
asynchronously by the batch service), the batch's status when the request was accepted, and
where to follow it."""

from __future__ import annotations

from tests.e2e.conftest import Seller
from tests.helpers import isbn10s, items_for


async def test_cancel_answers_the_request_not_a_stale_status(seller: Seller) -> None:
    batch = await seller.submit(items_for(isbn10s(2000, seed=31)), name="to cancel")
    cancel = await seller.patch(
        f"/api/v1/batches/{batch['id']}/status", json={"status": "CANCELLED"}
    )
    assert cancel.status_code == 202, cancel.text
    assert cancel.headers["location"] == f"/api/v1/batches/{batch['id']}"
    answer = cancel.json()
    assert answer["requested_status"] == "CANCELLED"
    assert answer["id"] == batch["id"] and answer["status"] in ("PENDING", "PROCESSING")
    done = await seller.wait_terminal(batch["id"])
    assert done["status"] in ("CANCELLED", "COMPLETED")  # unless it finished first
    again = await seller.patch(
        f"/api/v1/batches/{batch['id']}/status", json={"status": "CANCELLED"}
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
