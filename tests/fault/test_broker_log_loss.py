"""A broker that loses its log (Tansu's memory storage, restarted) leaves a consumer positioned
past the end of the new, shorter log: Tansu answers such fetches with nothing (Kafka would say
OFFSET_OUT_OF_RANGE), so without help the consumer would skip every new record until the log
grew past its old position. The runtime's consumer watch reads such a partition from its start."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError

from av_shared.runtime import _positions, _rewind_beyond_end
from devstack.stack import Stack, StackConfig

pytestmark = pytest.mark.fault


@pytest.fixture(scope="module")
async def broker(state_dir: Path) -> AsyncIterator[Stack]:
    stack = Stack(
        StackConfig(
            state_dir=state_dir / f"broker-{uuid.uuid4().hex[:6]}", conventional_ports=False
        )
    )
    try:
        await stack._start(stack.broker_spec())
        yield stack
    finally:
        await stack.stop()


async def _fill(bootstrap: str, topic: str, records: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        with contextlib.suppress(KafkaError):
            await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(records):
            await producer.send_and_wait(topic, b"%d" % n, partition=0)
    finally:
        await producer.stop()


async def test_a_position_past_the_end_of_a_lost_log_is_read_from_the_start(broker: Stack) -> None:
    topic, tp = "t.lost-log", TopicPartition("t.lost-log", 0)
    await _fill(broker.bootstrap, topic, 50)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id="g.lost-log",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        seen = 0
        while seen < 50:
            seen += sum(len(r) for r in (await consumer.getmany(timeout_ms=1000)).values())
        await consumer.commit()
        await broker.processes["broker"].kill()
        await broker.start("broker")  # empty: the topic is created again, with 3 new records
        await _fill(broker.bootstrap, topic, 3)
        for _ in range(3):  # a handler finishing late commits its old position once rejoined
            with contextlib.suppress(CommitFailedError, KafkaError):
                await consumer.commit()
            await asyncio.sleep(0.5)
        assert not await consumer.getmany(timeout_ms=1500)  # stuck at 50: Tansu says nothing
        assert (await consumer.position(tp), consumer.highwater(tp)) == (50, 3)
        await _rewind_beyond_end("g.lost-log", consumer, await _positions(consumer))
        got: list[bytes] = []
        for _ in range(10):
            got += [r.value for rs in (await consumer.getmany(timeout_ms=500)).values() for r in rs]
            if len(got) >= 3:
                break
        assert got == [b"0", b"1", b"2"]
    finally:
        await consumer.stop()
