"""Operator view: consumer lag, outbox backlog, dead letters (list and replay).

    python -m av_shared.ops lag                  consumer lag per group, topic, partition
    python -m av_shared.ops status               outbox backlog and dead letters per schema
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
from aiokafka.admin import AIOKafkaAdminClient

from .db import raw_dsn
from .topics import ALL_TOPICS

SCHEMAS = ("gateway", "batch", "analysis")
GROUPS = ("gateway", "batch-service", "analysis-service")


async def consumer_lag(bootstrap: str, groups: tuple[str, ...] = GROUPS) -> list[dict[str, Any]]:
    """Per group, topic and partition: committed offset, end offset and the lag between."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        partitions = [TopicPartition(spec.name, p) for spec in ALL_TOPICS
                      for p in sorted(consumer.partitions_for_topic(spec.name) or [])]
        ends = await consumer.end_offsets(partitions) if partitions else {}
        rows: list[dict[str, Any]] = []
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            for tp, meta in committed.items():
                end = ends.get(tp)
                if end is None:
                    continue
                offset = max(meta.offset, 0)
                rows.append({"group": group, "topic": tp.topic, "partition": tp.partition,
                             "committed": offset, "end": end, "lag": max(end - offset, 0)})
        return rows
    finally:
        await consumer.stop()
        await admin.close()


async def backlog(conn: asyncpg.Connection, schema: str) -> dict[str, int]:
    outbox = await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL")
    letters = await conn.fetchval(f"SELECT count(*) FROM {schema}.dead_letters")
    return {"outbox_unsent": int(outbox), "dead_letters": int(letters)}


async def dead_letters(conn: asyncpg.Connection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT id, consumer_group, topic, partition, \"offset\", error, attempts, failed_at, "
        f"replayed_at FROM {schema}.dead_letters ORDER BY id")
    return [dict(r) | {"schema": schema} for r in rows]


async def replay(conn: asyncpg.Connection, bootstrap: str, schema: str, letter_id: int) -> str:
    row = await conn.fetchrow(f"SELECT * FROM {schema}.dead_letters WHERE id = $1", letter_id)
    if row is None:
        raise SystemExit(f"no dead letter {letter_id} in {schema}")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        key = row["partition_key"].encode() if row["partition_key"] else None
        await producer.send_and_wait(row["topic"], row["payload"].encode(), key=key)
    finally:
        await producer.stop()
    await conn.execute(f"UPDATE {schema}.dead_letters SET replayed_at = now() WHERE id = $1",
                       letter_id)
    return str(row["topic"])


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m av_shared.ops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("lag")
    sub.add_parser("status")
    letters = sub.add_parser("dead-letters")
    letters.add_argument("--schema", choices=SCHEMAS)
    again = sub.add_parser("replay")
    again.add_argument("schema", choices=SCHEMAS)
    again.add_argument("id", type=int)
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    if args.command == "lag":
        _print(await consumer_lag(bootstrap))
        return
    conn = await asyncpg.connect(raw_dsn(os.environ["DATABASE_URL"]))
    try:
        if args.command == "status":
            _print([{"schema": s, **await backlog(conn, s)} for s in SCHEMAS])
        elif args.command == "dead-letters":
            found = [row for s in ([args.schema] if args.schema else SCHEMAS)
                     for row in await dead_letters(conn, s)]
            _print(found)
        else:
            topic = await replay(conn, bootstrap, args.schema, args.id)
            print(f"replayed dead letter {args.id} to {topic}")
    finally:
        await conn.close()


def _print(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(json.dumps(row, default=str))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
