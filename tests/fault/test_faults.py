"""Issue 6: nothing lost, nothing done twice, under crashes, broker loss, database restarts and
poison events. One stack for the module (see conftest); each test its own batch of 2,000 books or
more.

The SIGKILL tests come last. Tansu's group coordinator (the local broker, not Kafka) handles a
member that died without leaving poorly: the next rebalance of that group can take from 20
seconds to several minutes, e.g. when every instance of the service is restarted later. The
system copes (work already queued goes on, consumers join when the broker lets them, readiness
says "joining" meanwhile), but a test after them would wait for that. The broker restart clears
the broker's group state, so it runs before them too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from analysis_service.adapters.token_budget import BATCH_TURN_LOCK
from av_shared.settings import CommonSettings
from av_shared.topics import (
    BATCH_COMMANDS,
    BATCH_STATUS,
    BATCH_SUBMISSIONS,
    CHUNK_DISPATCH,
    CHUNK_RESULTS,
    DEAD_LETTERS,
)
from devstack.stack import Stack
from devstack.supervisor import ManagedProcess
from tests.e2e.conftest import Seller
from tests.helpers import isbn10s, items_for

from .conftest import SERVICES, FaultBatch, Probe, one_fault_bound

pytestmark = pytest.mark.fault


async def test_poison_events_are_dead_lettered_and_the_batch_completes(
    stack: Stack, seller: Seller, probe: Probe
) -> None:
    batch = await FaultBatch(seller, probe, seed=603).submit()
    await probe.wait_analysed(batch.id, 200)
    # One malformed event on every consumed topic, each malformed differently. Every consumer
    # group that reads the topic dead-letters it once.
    marker = uuid.uuid4().hex
    poison = {
        BATCH_SUBMISSIONS.name: (b"{not json " + marker.encode(), 2),  # batch + analysis
        BATCH_COMMANDS.name: (
            json.dumps({"event_type": "batch.exploded", "marker": marker}).encode(),
            1,
        ),
        BATCH_STATUS.name: (
            json.dumps(
                {"event_type": "batch.acknowledged", "batch_id": "x", "marker": marker}
            ).encode(),
            2,
        ),  # gateway + analysis
        CHUNK_DISPATCH.name: (
            json.dumps(
                {"event_type": "chunk.redispatched", "schema_version": 99, "marker": marker}
            ).encode(),
            1,
        ),
        CHUNK_RESULTS.name: (b"\xff\xfe" + marker.encode(), 1),
    }
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    try:
        for topic, (value, _) in poison.items():
            await producer.send_and_wait(topic, value, key=marker.encode())
    finally:
        await producer.stop()
    planted = sum(groups for _, groups in poison.values())
    await batch.assert_exactly_once(planted_dead_letters=planted)
    letters = await probe.fetch(
        "SELECT consumer_group, topic, attempts, error FROM batch.dead_letters "
        "WHERE payload LIKE $1 UNION ALL "
        "SELECT consumer_group, topic, attempts, error FROM analysis.dead_letters "
        "WHERE payload LIKE $1 UNION ALL "
        "SELECT consumer_group, topic, attempts, error FROM gateway.dead_letters "
        "WHERE payload LIKE $1",
        f"%{marker}%",
    )
    assert Counter(r["topic"] for r in letters) == {t: n for t, (_, n) in poison.items()}
    attempts = CommonSettings().consumer_max_attempts  # the default, as in `make run`
    assert all(r["attempts"] == attempts and r["error"] for r in letters)
    # ...and on the dead-letter topic, with the original topic, partition and offset.
    on_topic = await _dead_letter_topic(stack, marker, planted)
    assert Counter(letter["topic"] for letter in on_topic) == Counter(r["topic"] for r in letters)
    assert all({"partition", "offset", "attempts", "error"} <= set(letter) for letter in on_topic)


async def test_dead_letter_replay_by_the_operator_command(stack: Stack, probe: Probe) -> None:
    """`python -m av_shared.ops replay` publishes a dead letter to its topic again: the consumer
    sees it again (still malformed, so it is dead-lettered again, at its new offset)."""
    marker = uuid.uuid4().hex
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            BATCH_COMMANDS.name, b"[" + marker.encode(), key=marker.encode()
        )
    finally:
        await producer.stop()
    sql = (
        'SELECT id, "offset", replayed_at FROM batch.dead_letters WHERE payload LIKE $1 ORDER BY id'
    )
    await _wait_for(lambda: probe.fetch(sql, f"%{marker}%"), lambda rows: len(rows) == 1)
    [first] = await probe.fetch(sql, f"%{marker}%")
    listed = await _ops(stack, "dead-letters", "--schema", "batch")
    assert any(json.loads(line)["id"] == first["id"] for line in listed.splitlines())
    out = await _ops(stack, "replay", "batch", str(first["id"]))
    assert f"replayed dead letter {first['id']}" in out
    rows = await _wait_for(lambda: probe.fetch(sql, f"%{marker}%"), lambda rows: len(rows) == 2)
    assert rows[0]["replayed_at"] is not None and rows[1]["offset"] > rows[0]["offset"]


async def test_a_lost_acknowledgement_is_sent_again(
    stack: Stack, seller: Seller, probe: Probe
) -> None:
    """The gateway re-publishes a batch until it is acknowledged; when the acknowledgement was
    lost (the broker lost it), the batch service acknowledges the re-published batch again, and
    nothing is analysed twice."""
    batch = await FaultBatch(seller, probe, seed=608, items=150).submit()
    await batch.assert_exactly_once()
    sql = (
        "SELECT acknowledged_at, republish_count, finished_at FROM gateway.submissions "
        "WHERE batch_id = $1"
    )
    # The gateway hears of the finish on its own (BatchStatusChanged): wait for that first, or
    # it would mark the batch finished again after the simulated loss below.
    await _wait_for(
        lambda: probe.fetch(sql, uuid.UUID(batch.id)),
        lambda rows: rows[0]["finished_at"] is not None,
        timeout=30,
    )
    # As if the acknowledgement had been lost while the batch was running (a finished batch is
    # known to the batch service: the gateway does not re-publish it), long enough ago for its
    # ACK_DEADLINE_SECONDS to have passed: the default deadline stays, the clock is moved.
    await probe.value(
        "UPDATE gateway.submissions SET acknowledged_at = NULL, "
        "next_republish_at = NULL, finished_at = NULL, final_status = NULL, "
        "created_at = created_at - interval '1 hour' "
        "WHERE batch_id = $1",
        uuid.UUID(batch.id),
    )
    [row] = await _wait_for(
        lambda: probe.fetch(sql, uuid.UUID(batch.id)),
        lambda rows: rows[0]["acknowledged_at"] is not None,
        timeout=30,
    )
    assert row["republish_count"] >= 1
    await batch.assert_exactly_once()


async def test_a_service_that_missed_a_broker_log_loss_reconciles_at_once(
    stack: Stack, seller: Seller, probe: Probe
) -> None:
    """A service whose recorded broker epoch is not the broker's (it was down while the broker
    lost its log, or ran through it) reconciles within seconds, not at its deadlines (10 min for
    a chunk, 1 min for an acknowledgement, as in `make run`): the batch service asks again for
    every open chunk, the gateway publishes every unacknowledged batch again."""
    async with _keepa_tokens_run_out(stack):  # the chunks stay open meanwhile
        batch = await FaultBatch(seller, probe, seed=612, items=300).submit()
        batch_id = uuid.UUID(batch.id)
        acked = "SELECT acknowledged_at IS NOT NULL FROM gateway.submissions WHERE batch_id = $1"
        await _wait_for(lambda: probe.value(acked, batch_id), lambda done: done, timeout=60)
        dispatches = await _chunk_dispatches(stack, batch.id)
        await probe.value("UPDATE batch.broker_epoch SET epoch = 'an-older-broker'")
        await probe.value(
            "UPDATE gateway.submissions SET acknowledged_at = NULL WHERE batch_id = $1", batch_id
        )
        await probe.value("UPDATE gateway.broker_epoch SET epoch = 'an-older-broker'")
        await _wait_for(
            lambda: _chunk_dispatches(stack, batch.id),
            lambda found: found - dispatches >= 3,
            timeout=60,
        )  # all 3 chunks
        await _wait_for(lambda: probe.value(acked, batch_id), lambda done: done, timeout=60)
        republished = await probe.value(
            "SELECT republish_count FROM gateway.submissions WHERE batch_id = $1", batch_id
        )
        assert republished >= 1
    await batch.assert_exactly_once()


async def test_operator_view_shows_lag_backlog_and_dead_letters(stack: Stack) -> None:
    """Every service's /metrics has its consumer lag per group and topic, outbox backlog and dead
    letters; `ops status` and `ops lag` show the same from outside."""
    urls = {
        "gateway": stack.gateway_url,
        "batch-service": stack.batch_url,
        "analysis-service": stack.analysis_url(0),
    }
    async with httpx.AsyncClient(timeout=10) as http:
        for service, url in urls.items():
            text = (await http.get(url + "/metrics")).text
            assert f'av_outbox_unsent{{service="{service}"}}' in text
            assert f'av_dead_letters{{service="{service}"}}' in text
            assert f'av_consumer_lag{{service="{service}",group="{service}",topic=' in text
    status = [json.loads(line) for line in (await _ops(stack, "status")).splitlines()]
    assert {row["schema"] for row in status} == {"gateway", "batch", "analysis"}
    assert all("outbox_unsent" in row and "dead_letters" in row for row in status)
    assert any("chunks_awaiting_redispatch" in row for row in status)
    lag = [json.loads(line) for line in (await _ops(stack, "lag")).splitlines()]
    assert {(row["group"], row["topic"]) for row in lag} >= {
        ("batch-service", CHUNK_RESULTS.name),
        ("analysis-service", CHUNK_DISPATCH.name),
        ("gateway", BATCH_STATUS.name),
    }


async def test_sigterm_every_service_then_start_them_again(
    stack: Stack, seller: Seller, probe: Probe, fault_free_seconds: float
) -> None:
    requests_before = len(await _keepa_requests(stack))
    batch = await FaultBatch(seller, probe, seed=604).submit()
    await probe.wait_analysed(batch.id, 500)
    codes = await asyncio.gather(*(stack.processes[name].stop() for name in SERVICES))
    assert codes == [0] * len(SERVICES), dict(zip(SERVICES, codes, strict=True))
    await asyncio.gather(*(stack.start(name) for name in SERVICES))
    await batch.assert_exactly_once(within=one_fault_bound(fault_free_seconds))
    # No work done twice: every book of the batch was asked of Keepa once, and stored once.
    asked = Counter(
        asin
        for request in (await _keepa_requests(stack))[requests_before:]
        for asin in request.get("asins", [])
    )
    assert set(asked) == set(batch.identifiers)
    assert max(asked.values()) == 1, [a for a, n in asked.items() if n > 1][:5]
    snapshots = await probe.value(
        "SELECT count(*) FROM analysis.market_snapshots WHERE asin = ANY($1::text[])",
        batch.identifiers,
    )
    assert snapshots == len(batch.identifiers)


async def test_restart_postgresql(
    stack: Stack, seller: Seller, probe: Probe, fault_free_seconds: float
) -> None:
    batch = await FaultBatch(seller, probe, seed=605).submit()
    await probe.wait_analysed(batch.id, 500)
    await stack.processes["postgres"].stop()  # fast shutdown: every connection is cut
    # Meanwhile the API says "retry" (503 + Retry-After), not "internal error", and accepts
    # nothing: a submission refused now leaves no trace once the database is back.
    refused = await seller.post(
        "/api/v1/batches",
        json={"name": "while the database is down", "items": items_for(isbn10s(3, seed=615))},
    )
    status = await seller.get(f"/api/v1/batches/{batch.id}")
    for answer in (refused, status):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) > 0
    await stack.start("postgres")
    await batch.assert_exactly_once(within=one_fault_bound(fault_free_seconds))
    assert (
        await probe.value(
            "SELECT count(*) FROM gateway.submissions WHERE name = $1", "while the database is down"
        )
        == 0
    )


async def test_kill_and_restart_the_broker(
    stack: Stack, seller: Seller, probe: Probe, fault_free_seconds: float
) -> None:
    """SIGKILL of the broker; the supervisor restarts it with an empty log (memory storage):
    every record, committed offset and consumer group is gone."""
    batch = await FaultBatch(seller, probe, seed=606).submit()
    await probe.wait_analysed(batch.id, 500)
    await _crash(stack, "broker")
    await batch.assert_exactly_once(within=one_fault_bound(fault_free_seconds))
    # The stack still works afterwards: a new batch goes through.
    after = await FaultBatch(seller, probe, seed=607, items=200).submit()
    await after.assert_exactly_once()


async def test_sigkill_the_gateway(
    stack: Stack, seller: Seller, probe: Probe, fault_free_seconds: float
) -> None:
    batch = await FaultBatch(seller, probe, seed=609).submit()
    await probe.wait_analysed(batch.id, 500)
    await _crash(stack, "gateway")
    await batch.assert_exactly_once(within=one_fault_bound(fault_free_seconds))


async def test_sigkill_the_batch_service(
    stack: Stack, seller: Seller, probe: Probe, fault_free_seconds: float
) -> None:
    batch = await FaultBatch(seller, probe, seed=602).submit()
    await probe.wait_analysed(batch.id, 500)
    await _crash(stack, "batch-service")
    await batch.assert_exactly_once(within=one_fault_bound(fault_free_seconds))


async def test_sigkill_an_analysis_instance(
    stack: Stack, seller: Seller, probe: Probe, fault_free_seconds: float
) -> None:
    """SIGKILL while it holds chunks: its leases lapse (no heartbeat) and the other instance
    takes them; the supervisor restarts it meanwhile, as `make run` does."""
    batch = await FaultBatch(seller, probe, seed=610).submit()
    await probe.wait_analysed(batch.id, 300)
    await _wait_for(lambda: _leased_by(probe, batch.id, "analysis-0"), lambda n: n > 0)
    await _crash(stack, "analysis-0")
    await batch.assert_exactly_once(within=one_fault_bound(fault_free_seconds))


async def test_sigkill_an_analysis_instance_twice(
    stack: Stack, seller: Seller, probe: Probe
) -> None:
    batch = await FaultBatch(seller, probe, seed=601, items=6_000).submit()
    await probe.wait_analysed(batch.id, 300)
    instance = stack.processes["analysis-0"]
    # SIGKILL while it holds chunks: they are retaken by the other instance when the lease ends.
    await _wait_for(lambda: _leased_by(probe, batch.id, "analysis-0"), lambda n: n > 0)
    await instance.kill()
    # Keepa runs dry meanwhile, so the batch is still mid-way when the instance is back: without
    # that, the other instance may finish all 6,000 items before the restarted one has joined.
    async with _keepa_tokens_run_out(stack):
        await stack.start("analysis-0")
        # Kill it again once it is back and holds chunks of this batch.
        await stack.wait_ready()
        await _wait_for(lambda: _leased_by(probe, batch.id, "analysis-0"), lambda n: n > 0)
        assert await probe.analysed(batch.id) < 6_000
        await instance.kill()
    await stack.start("analysis-0")
    await batch.assert_exactly_once()


async def test_the_supervisor_restarts_a_process_that_dies(stack: Stack) -> None:
    """`make run`'s restart policy: a component that dies is started again (with backoff, the
    restart logged), without anyone asking."""
    gateway = stack.processes["gateway"]
    before, pid = gateway.restarts, gateway.pid
    gateway.signal(signal.SIGKILL)  # a crash: not `kill()`, which also stops supervision
    await _wait_for(lambda: _restarted(gateway, before), lambda done: done, timeout=30)
    assert gateway.pid not in (None, pid)
    async with httpx.AsyncClient(timeout=5) as http:
        await _wait_for(
            lambda: _status(http, stack.gateway_url + "/health"),
            lambda code: code == 200,
            timeout=30,
        )


async def test_three_faults_in_one_batch(
    stack: Stack, seller: Seller, probe: Probe, fault_free_seconds: float
) -> None:
    """SIGKILL of an analysis instance at about 25%, of the broker (log lost) at about 60%, of
    the batch service at about 70%, each restarted by the supervisor: COMPLETED within three
    times the fault-free time plus 60 s, nothing lost or done twice."""
    batch = await FaultBatch(seller, probe, seed=611).submit()
    total = len(batch.identifiers)
    await probe.wait_analysed(batch.id, total // 4)
    await _crash(stack, "analysis-0")
    await probe.wait_analysed(batch.id, total * 6 // 10)
    await _crash(stack, "broker")
    await probe.wait_analysed(batch.id, total * 7 // 10)
    await _crash(stack, "batch-service")
    await batch.assert_exactly_once(within=3 * fault_free_seconds + 60)


# -- helpers ------------------------------------------------------------------------------------


async def _crash(stack: Stack, name: str) -> None:
    """SIGKILL (the whole process group) and let the supervisor restart it, as in `make run`."""
    process = stack.processes[name]
    before, pid = process.restarts, process.pid
    process.signal(signal.SIGKILL)
    await _wait_for(lambda: _restarted(process, before), lambda done: done, timeout=60)
    assert process.pid != pid


# -- helpers ------------------------------------------------------------------------------------


# Generous bounds for conditions on a busy machine; a healthy run takes seconds.
async def _wait_for(read, accept, timeout: float = 360):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await read()
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"still {value!r} after {timeout}s")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def _keepa_tokens_run_out(stack: Stack) -> AsyncIterator[None]:
    """Batch work waits for Keepa tokens: each worker holds its claimed chunk (leased) and waits
    in the line for tokens. The test holds the line's lock, as the first worker waiting for a
    refill would, until the block ends."""
    conn = await asyncpg.connect(stack.admin_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", BATCH_TURN_LOCK)
        yield
    finally:
        await conn.close()


async def _restarted(process: ManagedProcess, before: int) -> bool:
    return process.restarts > before and process.pid is not None


async def _status(http: httpx.AsyncClient, url: str) -> int:
    try:
        return (await http.get(url)).status_code
    except httpx.TransportError:
        return 0


async def _leased_by(probe: Probe, batch_id: str, instance: str) -> int:
    return int(
        await probe.value(
            "SELECT count(*) FROM analysis.work_chunks WHERE batch_id = $1 AND lease_owner = $2 "
            "AND status = 'QUEUED' AND lease_until > now()",
            uuid.UUID(batch_id),
            instance,
        )
    )


async def _keepa_requests(stack: Stack) -> list[dict]:  # type: ignore[type-arg]
    async with httpx.AsyncClient(base_url=stack.keepa_base_url, timeout=10) as http:
        return list((await http.get("/_sim/stats")).json()["requests"])


async def _chunk_dispatches(stack: Stack, batch_id: str) -> int:
    """ChunkRedispatched events of the batch on the chunk-dispatch topic so far."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    found = 0
    try:
        await consumer.topics()  # metadata
        partitions = [
            TopicPartition(CHUNK_DISPATCH.name, p)
            for p in consumer.partitions_for_topic(CHUNK_DISPATCH.name) or []
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += sum(1 for r in records if batch_id.encode() in (r.value or b""))
    finally:
        await consumer.stop()
    return found


async def _dead_letter_topic(stack: Stack, marker: str, expected: int) -> list[dict]:  # type: ignore[type-arg]
    consumer = AIOKafkaConsumer(
        DEAD_LETTERS.name,
        bootstrap_servers=stack.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict] = []  # type: ignore[type-arg]
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while len(found) < expected and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    letter = json.loads(record.value)
                    if marker in letter.get("payload", ""):
                        found.append(letter)
    finally:
        await consumer.stop()
    return found


async def _ops(stack: Stack, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": stack.admin_url,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "av_shared.ops",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()
