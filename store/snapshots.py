"""Partition state snapshots and clock-skew flags (stream_snapshots, clock_skew_events).

Snapshots are read and written synchronously: a worker loads them inside its Kafka
consumer's assignment callback, before the partition's first record is fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from models.timeutil import to_datetime


@dataclass(frozen=True)
class Snapshot:
    partition: int
    next_offset: int
    state: bytes


def load_snapshots(database_url: str, group: str, topic: str,
                   partitions: Sequence[int]) -> dict[int, Snapshot]:
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        cur = conn.execute(
            "SELECT partition, next_offset, state FROM stream_snapshots"
            " WHERE consumer_group = %s AND topic = %s AND partition = ANY(%s)",
            (group, topic, list(partitions)))
        return {p: Snapshot(p, off, bytes(st)) for p, off, st in cur.fetchall()}


def save_snapshots(database_url: str, group: str, topic: str, worker: str,
                   snapshots: Sequence[Snapshot]) -> None:
    if not snapshots:
        return
    with psycopg.connect(database_url, connect_timeout=10) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO stream_snapshots (consumer_group, topic, partition, next_offset, state,"
            " worker) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET"
            " next_offset = excluded.next_offset, state = excluded.state,"
            " worker = excluded.worker, taken_at = now()",
            [(group, topic, s.partition, s.next_offset, s.state, worker) for s in snapshots])


async def flag_clock_skew(conn: Any, topic: str, rows: Sequence[tuple[str, int, int, int | None]]
                          ) -> None:
    """(key, ts, partition, watermark) of records too far ahead (idempotent)."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO clock_skew_events (topic, key, ts, partition, watermark)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(topic, key, to_datetime(ts), p, to_datetime(wm) if wm is not None else None)
             for key, ts, p, wm in rows])
