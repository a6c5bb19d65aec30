"""Operator view: consumer lag, outbox backlog, dead letters (list and replay).

    python -m av_shared.ops lag [--partitions]   consumer lag per group and topic (or partition)
    python -m av_shared.ops status               per schema: outbox backlog, dead letters, and
                                                 what waits (unacknowledged submissions, chunks
                                                 awaiting re-dispatch, queued chunks)
    python -m av_shared.ops dead-letters [--schema S]   list dead letters
    python -m av_shared.ops replay SCHEMA ID     publish a dead letter again to its topic

Reads DATABASE_URL (a role that can read every service schema, e.g. the admin URL) and
KAFKA_BOOTSTRAP_SERVERS from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from .asyncapi import CHANNELS
from .db import raw_dsn
from .kafka_security import client_options
from .settings import CommonSettings
from .topics import ALL_TOPICS

SCHEMAS = ("gateway", "batch", "analysis")
GROUPS = ("gateway", "batch-service", "analysis-service")


async def consumer_lag(
    bootstrap: str, groups: tuple[str, ...] = GROUPS, **options: Any
) -> list[dict[str, Any]]:
    """Per group, topic and partition: committed offset, end offset and the lag between.

    Every partition of every topic a group reads counts, also one the group has not committed on
    yet (a broker restart lost the offsets, say): its lag runs from the partition's start.
    Committed offsets are read with a group-bound consumer that never subscribes (so it does not
    join the group): aiokafka's admin OffsetFetch cannot parse Tansu's answer, this path can.
    """

    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, **options)
    await probe.start()
    try:
        partitions = [
            TopicPartition(spec.name, p)
            for spec in ALL_TOPICS
            for p in sorted(probe.partitions_for_topic(spec.name) or [])
        ]
        ends = await probe.end_offsets(partitions) if partitions else {}
        starts = await probe.beginning_offsets(partitions) if partitions else {}
    finally:
        await probe.stop()
    rows: list[dict[str, Any]] = []
    for group in groups:
        read = {topic for topic, (_, readers) in CHANNELS.items() if group in readers}
        reader = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **options
        )
        await reader.start()
        try:
            for tp in partitions:
                committed = await reader.committed(tp)
                if committed is None and tp.topic not in read:
                    continue  # this group does not read this partition
                offset = starts[tp] if committed is None else committed
                end = ends[tp]
                rows.append(
                    {
                        "group": group,
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "committed": committed,
                        "end": end,
                        "lag": max(end - offset, 0),
                    }
                )
        finally:
            await reader.stop()
    return rows


def lag_per_topic(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-partition rows of `consumer_lag` summed per group and topic."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        total = totals.setdefault(
            (row["group"], row["topic"]),
            {"group": row["group"], "topic": row["topic"], "lag": 0, "partitions": 0},
        )
        total["lag"] += row["lag"]
        total["partitions"] += 1
    return list(totals.values())


# What waits, per schema: a slow batch shows these moving, a stuck one shows them still.
WAITING_SQL = {
    "gateway": {
        "submissions_awaiting_ack": (
            "SELECT count(*) FROM gateway.submissions WHERE acknowledged_at IS NULL"
        )
    },
    "batch": {
        "chunks_waiting": "SELECT count(*) FROM batch.batch_chunks WHERE status = 'WAITING'",
        "chunks_awaiting_redispatch": (
            "SELECT count(*) FROM batch.batch_chunks"
            " WHERE status = 'WAITING' AND deadline_at < now()"
        ),
    },
    "analysis": {
        "chunks_queued": "SELECT count(*) FROM analysis.work_chunks WHERE status = 'QUEUED'"
    },
}


async def backlog(conn: asyncpg.Connection, schema: str) -> dict[str, int]:
    outbox = await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL")
    letters = await conn.fetchval(f"SELECT count(*) FROM {schema}.dead_letters")
    found = {"outbox_unsent": int(outbox), "dead_letters": int(letters)}
    for name, sql in WAITING_SQL.get(schema, {}).items():
        found[name] = int(await conn.fetchval(sql))
    return found


async def dead_letters(conn: asyncpg.Connection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f'SELECT id, consumer_group, topic, partition, "offset", error, attempts, failed_at, '
        f"replayed_at FROM {schema}.dead_letters ORDER BY id"
    )
    return [dict(r) | {"schema": schema} for r in rows]


async def replay(
    conn: asyncpg.Connection, bootstrap: str, schema: str, letter_id: int, **options: Any
) -> str:
    row = await conn.fetchrow(f"SELECT * FROM {schema}.dead_letters WHERE id = $1", letter_id)
    if row is None:
        raise SystemExit(f"no dead letter {letter_id} in {schema}")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **options)
    await producer.start()
    try:
        key = row["partition_key"].encode() if row["partition_key"] else None
        await producer.send_and_wait(row["topic"], row["payload"].encode(), key=key)
    finally:
        await producer.stop()
    await conn.execute(
        f"UPDATE {schema}.dead_letters SET replayed_at = now() WHERE id = $1", letter_id
    )
    return str(row["topic"])


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m av_shared.ops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    lag = sub.add_parser("lag")
    lag.add_argument("--partitions", action="store_true", help="one line per partition")
    sub.add_parser("status")
    letters = sub.add_parser("dead-letters")
    letters.add_argument("--schema", choices=SCHEMAS)
    again = sub.add_parser("replay")
    again.add_argument("schema", choices=SCHEMAS)
    again.add_argument("id", type=int)
    args = parser.parse_args(argv)
    settings = CommonSettings()  # KAFKA_* as the services read them, security included
    bootstrap, options = settings.kafka_bootstrap_servers, client_options(settings)
    if args.command == "lag":
        rows = await consumer_lag(bootstrap, **options)
        _print(rows if args.partitions else lag_per_topic(rows))
        return
    conn = await asyncpg.connect(raw_dsn(os.environ["DATABASE_URL"]))
    try:
        if args.command == "status":
            _print([{"schema": s, **await backlog(conn, s)} for s in SCHEMAS])
        elif args.command == "dead-letters":
            found = [
                row
                for s in ([args.schema] if args.schema else SCHEMAS)
                for row in await dead_letters(conn, s)
            ]
            _print(found)
        else:
            topic = await replay(conn, bootstrap, args.schema, args.id, **options)
            print(f"replayed dead letter {args.id} to {topic}")
    finally:
        await conn.close()


def _print(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(json.dumps(row, default=str))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
