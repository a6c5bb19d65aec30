"""The gateway alone: a seller submits over HTTP; this module reads what the gateway publishes on
the submissions topic and plays the batch service (BatchAcknowledged on the status topic).

A seller relies on it for: every line of the list reaching the other services in order, in keyed
chunks of at most 100 (each analysable alone, spread over partitions), and the batch not being
lost when the broker drops it, i.e. re-published until the batch service says it has it all, and
then no more.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from av_shared.events import BatchAcknowledged, BatchChunkSubmitted, BatchSubmitted
from av_shared.identifiers import isbn13_check_digit, isbn13_to_isbn10
from av_shared.topics import BATCH_STATUS, BATCH_SUBMISSIONS
from tests.e2e.conftest import Seller, register
from tests.helpers import admin_fetch, isbn10s, items_for
from tests.integration.services.harness import (
    GATEWAY,
    Seen,
    ServiceHarness,
    of_kind,
    service_alone,
)

ACK_DEADLINE = 2.0
GATEWAY_ENV = {
    "ACK_DEADLINE_SECONDS": str(ACK_DEADLINE),
    "REPUBLISH_MAX_BACKOFF_SECONDS": str(ACK_DEADLINE),
    "RECONCILE_INTERVAL_SECONDS": "0.5",
    # Sign-in throttling: the third wrong password in a row locks the email for a minute.
    "SIGN_IN_FREE_FAILURES": "2",
    "SIGN_IN_LOCK_BASE_SECONDS": "60",
}
# After an acknowledgement, this long without a re-publication proves they stopped: a deadline,
# the longest backoff, a reconciler pass and a relay poll, with room to spare.
QUIET_SECONDS = 2 * ACK_DEADLINE + 1.5
# What the gateway publishes on the submissions topic: a batch's header, then its chunks.
Published = Seen[BatchSubmitted | BatchChunkSubmitted]
ISBN13_978 = "978-1-4920-5620-1"
ISBN13_979 = "979860218853" + isbn13_check_digit("979860218853")  # no ISBN-10, so no ASIN


@pytest.fixture(scope="module")
async def harness(state_dir: Path) -> AsyncIterator[ServiceHarness]:
    async with service_alone(state_dir, GATEWAY, GATEWAY_ENV, watch=[BATCH_SUBMISSIONS]) as running:
        yield running


@pytest.fixture
async def seller(harness: ServiceHarness) -> AsyncIterator[Seller]:
    async with httpx.AsyncClient(base_url=harness.url, timeout=30) as http:
        yield await register(http)


async def _submit(seller: Seller, items: list[dict[str, Any]]) -> tuple[uuid.UUID, uuid.UUID]:
    """(batch id, owner id) of a batch the gateway accepted."""
    accepted = await seller.submit(items, name="service test")
    me = (await seller.get("/api/v1/users/me")).json()
    return uuid.UUID(accepted["id"]), uuid.UUID(me["id"])


def _published(harness: ServiceHarness, batch_id: uuid.UUID) -> list[Published]:
    return [
        *harness.log.seen(BatchSubmitted, batch_id),
        *harness.log.seen(BatchChunkSubmitted, batch_id),
    ]


async def _published_whole(
    harness: ServiceHarness, batch_id: uuid.UUID, chunks: int, copies: int = 1
) -> list[Published]:
    """Until the header and every chunk were published `copies` times each."""

    def whole(seen: list[Published]) -> bool:
        counts = [sum(isinstance(s.event, BatchSubmitted) for s in seen)]
        counts += [
            sum(getattr(s.event, "chunk_no", None) == n for s in seen) for n in range(chunks)
        ]
        return min(counts) >= copies

    return await harness.eventually(
        lambda: _published(harness, batch_id), whole, f"{batch_id} published {copies} time(s)"
    )


async def _submission(harness: ServiceHarness, batch_id: uuid.UUID) -> Any:
    rows = await harness.fetch(
        "SELECT acknowledged_at, republish_count FROM gateway.submissions WHERE batch_id = $1",
        batch_id,
    )
    return rows[0]


async def test_a_submitted_batch_is_published_as_its_header_and_keyed_chunks(
    harness: ServiceHarness,
    seller: Seller,
) -> None:
    items = items_for(isbn10s(250, seed=301))
    items[1] = {"identifier": ISBN13_978, "buy_cost": 3.5, "condition": "new"}
    items[2] = {"identifier": ISBN13_979, "buy_cost": 0}
    batch_id, owner_id = await _submit(seller, items)

    seen = await _published_whole(harness, batch_id, chunks=3)
    [header] = {s.event.event_id: s for s in of_kind(seen, BatchSubmitted)}.values()
    assert header.key == str(batch_id)
    assert (header.event.owner_id, header.event.items_total, header.event.chunk_count) == (
        owner_id,
        250,
        3,
    )
    chunks = {s.event.event_id: s for s in of_kind(seen, BatchChunkSubmitted)}
    # A re-publication is the same event (same id): the consumers' inboxes drop it.
    assert sorted(s.event.chunk_no for s in chunks.values()) == [0, 1, 2]
    for chunk in chunks.values():
        assert chunk.key == f"{batch_id}:{chunk.event.chunk_no}"
        assert chunk.event.chunk_count == 3
        assert chunk.event.correlation_id == header.event.correlation_id
    lines = [
        i for c in sorted(chunks.values(), key=lambda s: s.event.chunk_no) for i in c.event.items
    ]
    assert [
        len(c.event.items) for c in sorted(chunks.values(), key=lambda s: s.event.chunk_no)
    ] == [100, 100, 50]
    assert [i.item_no for i in lines] == list(range(250))
    assert [i.identifier for i in lines[3:]] == [i["identifier"] for i in items[3:]]
    assert all(i.asin == i.identifier and i.condition == "used" for i in lines[3:])
    normalised = ISBN13_978.replace("-", "")
    assert (lines[1].identifier, lines[1].asin, lines[1].condition, lines[1].buy_cost) == (
        normalised,
        isbn13_to_isbn10(normalised),
        "new",
        Decimal("3.50"),
    )
    assert (lines[2].identifier, lines[2].asin) == (ISBN13_979, None)  # Keepa resolves it


async def test_a_batch_is_republished_until_acknowledged_and_then_no_more(
    harness: ServiceHarness,
    seller: Seller,
) -> None:
    """The broker may lose what was published (Tansu keeps its log in memory): until the batch
    service acknowledges the batch, the gateway sends it again after its deadline."""
    batch_id, owner_id = await _submit(seller, items_for(isbn10s(120, seed=302)))
    seen = await _published_whole(harness, batch_id, chunks=2, copies=2)
    assert len({s.event.event_id for s in seen}) == 3  # the same three events, again
    headers = [s for s in seen if isinstance(s.event, BatchSubmitted)]
    assert headers[1].at - headers[0].at >= ACK_DEADLINE - 0.5  # not before its deadline
    submission = await _submission(harness, batch_id)
    assert submission["acknowledged_at"] is None and submission["republish_count"] >= 1

    await harness.publish(
        BATCH_STATUS,
        BatchAcknowledged(
            batch_id=batch_id,
            owner_id=owner_id,
            chunks_received=2,
            correlation_id=f"batch-{batch_id}",
        ),
    )
    await harness.eventually(
        lambda: _submission(harness, batch_id),
        lambda row: row["acknowledged_at"] is not None,
        "acknowledged_at",
    )
    await harness.eventually(  # a re-publication decided just before the acknowledgement
        lambda: harness.value(
            "SELECT count(*) FROM gateway.outbox WHERE aggregate_id = $1 AND sent_at IS NULL",
            batch_id,
        ),
        lambda unsent: unsent == 0,
        "the outbox sent everything",
    )
    await asyncio.sleep(1)  # its records reach our reader
    published = len(_published(harness, batch_id))
    republished = (await _submission(harness, batch_id))["republish_count"]
    await asyncio.sleep(QUIET_SECONDS)
    assert len(_published(harness, batch_id)) == published
    assert (await _submission(harness, batch_id))["republish_count"] == republished


async def test_wrong_passwords_lock_the_email_whoever_sends_them_and_not_other_sellers(
    harness: ServiceHarness, seller: Seller
) -> None:
    """A guesser is slowed per account, not only per address: after the free wrong passwords,
    the email is locked (429, even with the right password); another seller signs in."""
    async with httpx.AsyncClient(base_url=harness.url, timeout=30) as http:
        wrong = {"username": seller.email, "password": "guess guess"}
        codes = [(await http.post("/api/v1/auth/token", data=wrong)).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        right = {"username": seller.email, "password": seller.password}
        locked = await http.post("/api/v1/auth/token", data=right)
        assert locked.status_code == 429, locked.text
        assert locked.headers["content-type"] == "application/problem+json"
        assert locked.json()["limit"] == "wrong_passwords_in_a_row"
        assert 1 <= int(locked.headers["retry-after"]) <= 60
        # An unknown email is answered the same way (the lock does not tell who has an account).
        nobody = {"username": f"nobody-{uuid.uuid4().hex}@example.com", "password": "guess"}
        for _ in range(3):
            await http.post("/api/v1/auth/token", data=nobody)
        assert (await http.post("/api/v1/auth/token", data=nobody)).status_code == 429
        other = await register(http)  # another account from the same address is not locked
        assert (await other.get("/api/v1/users/me")).status_code == 200


async def test_a_client_cannot_name_its_own_address_in_x_forwarded_for(
    harness: ServiceHarness,
) -> None:
    """FORWARDED_ALLOW_IPS is empty by default: no proxy is trusted, so a client on the same host
    that sends X-Forwarded-For is still counted by the address it connects from."""
    named = "198.51.100.77"
    async with httpx.AsyncClient(base_url=harness.url, timeout=30) as http:
        answer = await http.post(
            "/api/v1/auth/token",
            data={"username": "someone@example.com", "password": "guess guess"},
            headers={"X-Forwarded-For": named},
        )
    assert answer.status_code == 401
    subjects = {
        row["subject"]
        for row in await admin_fetch(
            harness.stack.admin_url, "SELECT subject FROM gateway.rate_limit_counters"
        )
    }
    assert f"ip:{named}" not in subjects
    assert "ip:127.0.0.1" in subjects
