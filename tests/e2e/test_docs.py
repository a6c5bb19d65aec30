"""The running gateway serves its contracts: OpenAPI for the REST API, AsyncAPI for the events."""

from __future__ import annotations

import httpx

from av_shared.topics import ALL_TOPICS, BROKER_EPOCH, DEAD_LETTERS


async def test_asyncapi_document_names_every_topic_and_event(http: httpx.AsyncClient) -> None:
    document = (await http.get("/asyncapi.json")).json()
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {t.name for t in ALL_TOPICS if t not in (DEAD_LETTERS, BROKER_EPOCH)}
    schemas = document["components"]["schemas"]
    for event in (
        "BatchSubmitted",
        "BatchChunkSubmitted",
        "ChunkAnalysed",
        "BatchStatusChanged",
        "BatchCancelRequested",
        "ChunkRedispatched",
        "BatchAcknowledged",
    ):
        assert event in schemas
    page = await http.get("/asyncapi")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


async def test_openapi_and_health(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health")).json() == {"status": "ok"}
    ready = (await http.get("/ready")).json()
    assert ready["checks"]["database"] == "ok" and ready["checks"]["broker"] == "ok"
    document = (await http.get("/openapi.json")).json()
    paths = document["paths"]
    assert "/api/v1/batches/{batch_id}/status" in paths
    assert paths["/api/v1/batches"]["post"]["operationId"] == "submit_batch"
    schemas = document["components"]["schemas"]
    assert not [name for name in schemas if name.startswith("Body_") or "_" in name]
    # the served document states this deployment's limits (the stack runs the defaults)
    assert schemas["ItemIn"]["properties"]["buy_cost"]["maximum"] == 10_000
    assert schemas["BatchIn"]["properties"]["items"]["maxItems"] == 100_000
    metrics = (await http.get("/metrics")).text
    assert 'av_outbox_unsent{service="gateway"}' in metrics
