"""Paging the lists (issue 11, item 9): keyset cursors (`after` / `next`) that hold while rows are
inserted between page reads, offsets capped with a clear 422, malformed cursors a 422 naming
`after`, counts of the caller's rows only, and deep pages read from an index (EXPLAIN)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql

from analysis_service.api.routes import _keyset, _owned
from analysis_service.db.tables import analyses
from av_shared.pagination import MAX_OFFSET_ROWS, capped_count
from devstack.stack import Stack
from tests.e2e.conftest import Seller
from tests.helpers import isbn10s, items_for

Between = Callable[[], Awaitable[None]]


async def walk(
    seller: Seller, path: str, params: dict[str, Any], between: Between | None = None
) -> list[dict[str, Any]]:
    """Every page from the first by `next`; `between` runs after each page that has a next."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(1000):
        answer = await seller.get(path, params={**params, **({"after": after} if after else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["items"]) <= int(params["size"])
        found += body["items"]
        after = body["next"]
        if after is None:
            return found
        assert body["items"], "a page with a next is never empty"
        if between is not None:
            await between()
    raise AssertionError("more than 1000 pages")


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in rows]


async def listed(seller: Seller, path: str, **params: Any) -> dict[str, Any]:
    answer = await seller.get(path, params={"size": 500, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_walking_analyses_by_cursor_returns_each_row_once_in_order_while_rows_arrive(
    seller: Seller, other_seller: Seller
) -> None:
    batch = await seller.submit(items_for(isbn10s(23, seed=31337)))
    theirs = await other_seller.submit(items_for(isbn10s(5, seed=31338)))
    assert (await seller.wait_terminal(batch["id"]))["status"] == "COMPLETED"
    assert (await other_seller.wait_terminal(theirs["id"]))["status"] == "COMPLETED"
    their_total = (await listed(other_seller, "/api/v1/analyses"))["total"]
    their_ids = set(ids((await listed(other_seller, "/api/v1/analyses"))["items"]))
    fresh = iter(isbn10s(60, seed=31339))

    async def one_more() -> None:  # an instant analysis: a new row, newer than every other
        made = await seller.post(
            "/api/v1/analyses", json={"identifier": next(fresh), "buy_cost": 2.5}
        )
        assert made.status_code == 201, made.text

    # Newest first: what arrives during the walk is before the cursor, never shown, never shifts.
    before = await listed(seller, "/api/v1/analyses", sort="-created")
    n = before["total"]
    assert n == len(before["items"]) >= 20 and before["total_is_exact"] is True
    assert before["next"] is None
    newest_first = await walk(seller, "/api/v1/analyses", {"size": 4}, between=one_more)
    assert ids(newest_first) == ids(before["items"])

    # Oldest first: every row once, in order, and what arrived meanwhile at the end.
    oldest_first = await walk(
        seller, "/api/v1/analyses", {"size": 5, "sort": "created"}, between=one_more
    )
    after = await listed(seller, "/api/v1/analyses", sort="created")
    assert ids(oldest_first) == ids(after["items"]), "each row exactly once, in order"
    assert len(oldest_first) > n + 5  # the first walk's rows and this walk's own
    assert ids(oldest_first)[:n] == ids(before["items"])[::-1]

    # By a key that may be missing (NULLS LAST), any direction, with the filters kept.
    for sort in ("-roi", "roi", "-profit", "velocity", "-velocity"):
        everything = await listed(seller, "/api/v1/analyses", sort=sort)
        assert everything["next"] is None
        assert ids(await walk(seller, "/api/v1/analyses", {"size": 3, "sort": sort})) == ids(
            everything["items"]
        ), sort
    for filters in ({"recommendation": "PASS"}, {"min_roi": 0}, {"batch_id": batch["id"]}):
        everything = await listed(seller, "/api/v1/analyses", **filters, sort="-roi")
        walked = await walk(seller, "/api/v1/analyses", {"size": 2, "sort": "-roi", **filters})
        assert ids(walked) == ids(everything["items"]), filters
    in_batch = await walk(
        seller, "/api/v1/analyses", {"size": 4, "sort": "item", "batch_id": batch["id"]}
    )
    by_item = await listed(seller, "/api/v1/analyses", sort="item", batch_id=batch["id"])
    assert ids(in_batch) == ids(by_item["items"]) and len(in_batch) == n
    assert [a["item_no"] for a in in_batch] == sorted(a["item_no"] for a in in_batch)

    # While keys change under it (rows arriving with any ROI), no row is shown twice and the
    # rows that were there all along keep their order.
    baseline = ids((await listed(seller, "/api/v1/analyses", sort="-roi"))["items"])
    walked_ids = ids(
        await walk(seller, "/api/v1/analyses", {"size": 3, "sort": "-roi"}, between=one_more)
    )
    assert len(walked_ids) == len(set(walked_ids))
    assert [i for i in walked_ids if i in baseline] == baseline

    # The other seller's rows never appear, and the rows added here never change their count.
    mine = set(ids(after["items"]))
    assert not mine & their_ids
    assert not set(walked_ids) & their_ids
    assert (await listed(other_seller, "/api/v1/analyses"))["total"] == their_total
    assert not set(ids(await walk(other_seller, "/api/v1/analyses", {"size": 2}))) & mine


async def test_walking_batches_and_lines_by_cursor_while_batches_arrive(
    seller: Seller, other_seller: Seller, stack: Stack
) -> None:
    for n in range(5):
        await seller.submit(items_for(isbn10s(3, seed=4000 + n)), name=f"walk {n}")
    await other_seller.submit(items_for(isbn10s(2, seed=4100)), name="theirs")
    deadline = asyncio.get_running_loop().time() + 120
    while (await listed(seller, "/api/v1/batches"))["total"] < 5:  # recorded by the batch service
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.2)
    before = await listed(seller, "/api/v1/batches")
    seeds = iter(range(4200, 4300))

    async def another_batch() -> None:
        await seller.submit(items_for(isbn10s(1, seed=next(seeds))), name="arrived meanwhile")

    walked = await walk(seller, "/api/v1/batches", {"size": 2}, between=another_batch)
    assert ids(walked) == ids(before["items"]), "newest first: each once, new ones not shifting"
    assert {b["name"] for b in walked} == {f"walk {n}" for n in range(5)}
    theirs = await listed(other_seller, "/api/v1/batches")
    assert theirs["total"] == 1 and theirs["total_is_exact"] is True
    assert not set(ids(theirs["items"])) & set(ids(walked))

    # A batch's lines, in order, by cursor as by offset.
    big = await seller.submit(items_for(isbn10s(17, seed=4400)), name="lines")
    lines_path = f"/api/v1/batches/{big['id']}/items"
    deadline = asyncio.get_running_loop().time() + 120
    while (await listed(seller, lines_path))["total"] < 17:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.2)
    lines = await walk(seller, lines_path, {"size": 5})
    assert [line["item_no"] for line in lines] == list(range(17))
    refused = await other_seller.get(lines_path, params={"size": 5})
    assert refused.status_code == 404


LISTS = ("/api/v1/analyses", "/api/v1/batches", "/api/v1/alerts", "/api/v1/config/history")


def assert_names(answer: httpx.Response, field: str, *words: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert [e["field"] for e in problem["errors"]] == [field], problem
    for word in words:
        assert word in problem["detail"], problem


async def test_an_offset_beyond_the_cap_is_a_422_naming_page_that_points_to_after(
    seller: Seller, http: httpx.AsyncClient
) -> None:
    deepest = MAX_OFFSET_ROWS // 500
    for path in LISTS:
        assert (await seller.get(path, params={"page": deepest, "size": 500})).status_code == 200
        assert_names(
            await seller.get(path, params={"page": deepest + 1, "size": 500}), "page", "after"
        )
        assert_names(await seller.get(path, params={"page": 1_000_000, "size": 500}), "page")
        assert_names(await seller.get(path, params={"page": MAX_OFFSET_ROWS + 1}), "page")
    cursor = _cursor(["-created", datetime.now(UTC).isoformat(), str(uuid.uuid4())])
    assert_names(
        await seller.get("/api/v1/batches", params={"page": 2, "after": cursor}), "page", "after"
    )

    # The schema states the cap and the cursor of every list, and what a page answers.
    document = (await http.get("/openapi.json")).json()
    paths = [*LISTS, "/api/v1/batches/{batch_id}/items", "/api/v1/webhooks/{webhook_id}/deliveries"]
    for path in [*paths, "/api/v1/admin/users"]:
        operation = document["paths"][path]["get"]
        params = {p["name"]: p for p in operation["parameters"]}
        assert params["page"]["schema"]["maximum"] == MAX_OFFSET_ROWS, path
        assert "after" in params, path
        assert "`after`" in operation["description"], path
    for name in ("BatchPage", "AnalysisPage", "AlertPage", "DeliveryPage", "UserPage"):
        properties = document["components"]["schemas"][name]["properties"]
        assert {"items", "total", "page", "size", "next", "total_is_exact"} <= set(properties)


def _cursor(plain: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).rstrip(b"=").decode()


async def test_a_malformed_cursor_is_a_422_naming_after(seller: Seller) -> None:
    await seller.submit(items_for(isbn10s(2, seed=4500)))
    an_id = str(uuid.uuid4())
    broken = [
        "garbage!",
        _cursor({"sort": "-created"}),  # type: ignore[arg-type]
        _cursor(["-created", "not a time", an_id]),
        _cursor(["-created", datetime.now(UTC).isoformat(), "not an id"]),
        _cursor(["roi", "1.5", an_id]),  # a cursor of another sort
        "A" * 600,
    ]
    for path in LISTS:
        for cursor in broken:
            assert_names(await seller.get(path, params={"after": cursor}), "after")
    assert_names(
        await seller.get(
            "/api/v1/analyses", params={"sort": "-roi", "after": _cursor(["-roi", 3, an_id])}
        ),
        "after",
    )
    made_for_roi = _cursor(["roi", "1.50", an_id])
    ok = await seller.get("/api/v1/analyses", params={"sort": "roi", "after": made_for_roi})
    assert ok.status_code == 200, ok.text
    assert_names(
        await seller.get("/api/v1/analyses", params={"sort": "-roi", "after": made_for_roi}),
        "after",
        "sort",
    )


def _sql(query: Select[Any]) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


async def _plan(conn: asyncpg.Connection, query: Select[Any]) -> str:
    rows = await conn.fetch("EXPLAIN (COSTS OFF) " + _sql(query))
    return "\n".join(r[0] for r in rows)


async def test_a_deep_cursor_page_and_the_count_read_an_index_not_every_row(stack: Stack) -> None:
    """20,000 analyses of one seller among 420,000 of 201 sellers: the page after a deep cursor,
    in each sort, is index ranges (no scan of the table, no sort of the seller's rows), and the
    count reads the seller's index and stops at COUNT_LIMIT + 1."""
    owner = uuid.uuid4()
    conn = await asyncpg.connect(stack.admin_url)
    try:
        await conn.execute(
            """
            INSERT INTO analysis.analyses (id, owner_id, identifier, buy_cost, condition,
                outcome, recommendation, profit, roi_percent, velocity_score, result, config,
                engine_version, processed_by, created_at)
            SELECT gen_random_uuid(),
                CASE WHEN n <= 20000 THEN $1
                     ELSE ('00000000-0000-4000-8000-' || lpad((n % 200)::text, 12, '0'))::uuid
                END,
                'x' || n, 1, 'used_good', 'analysed', 'PASS',
                CASE WHEN n % 10 = 0 THEN NULL ELSE n % 997 END,
                CASE WHEN n % 10 = 0 THEN NULL ELSE (n % 1999) / 7.0 END,
                CASE WHEN n % 10 = 0 THEN NULL ELSE n % 101 END,
                '{}'::jsonb, '{}'::jsonb, 'test', 'explain',
                now() - make_interval(secs => n % 20000)
            FROM generate_series(1, 420000) AS n
            """,
            owner,
        )
        await conn.execute("ANALYZE analysis.analyses")
        mine = _owned(owner)
        deep_id = uuid.UUID(int=2**127)
        halfway = datetime.now(UTC) - timedelta(seconds=10_000)
        plans: dict[str, str] = {}
        cursors: dict[str, list[Any]] = {
            "-created": [halfway, deep_id],
            "created": [halfway, deep_id],
            "-roi": [Decimal("100.5"), deep_id],
            "roi": [Decimal("100.5"), deep_id],
            "-profit": [Decimal("500"), deep_id],
            "velocity": [50, deep_id],
            "-velocity": [None, deep_id],  # deep in the rows without a key
        }
        for sort, cursor in cursors.items():
            plans[sort] = plan = await _plan(conn, _keyset(sort, cursor, mine, 51).limit(51))
            assert "Seq Scan" not in plan, plan
            assert "Index" in plan and "analyses_owner" in plan, plan
            if sort.lstrip("-") == "created" or cursor[0] is None:
                assert "Sort" not in plan, plan  # the index's own order
            else:  # the index's order within each part; the parts' few rows put together
                assert plan.count("->  Sort\n") == 1 and plan.count("Limit") == 3, plan
                assert plan.count(f"Index Scan{' Backward' if sort[0] == '-' else ''} using") == 2
                assert "Filter" not in plan, plan  # every condition an index range
        count = await _plan(conn, capped_count(select(analyses.c.id).where(mine)))
        plans["count"] = count
        assert "Seq Scan" not in count and "Limit" in count and "analyses_owner" in count, count
        for sort, plan in plans.items():
            print(f"--- {sort}\n{plan}")
    finally:
        await conn.execute("DELETE FROM analysis.analyses WHERE processed_by = 'explain'")
        await conn.close()
