"""What ``fieldflow bench streams`` (and ``bench e2e``) measure: rows stored, publish ->
stored latencies (in SQL), work orders and their latency from ``events.workorders``."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.fleet import Fleet

WO_TOPIC = "events.workorders"


def stored_count(database_url: str, table: str, column: str, ids: list[str]) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {table} WHERE {column} = ANY(%s)", (ids,)
        ).fetchone()
    return int(row[0]) if row else 0


def drain(count: Callable[[], int], expected: int, stall_s: float) -> int:
    """Wait until ``count()`` reaches ``expected`` or does not move for ``stall_s``."""
    last, last_change = -1, time.monotonic()
    while True:
        n = count()
        if n >= expected:
            return n
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            return n
        time.sleep(1.0)


READINGS_SENT = "(metrics->>'sent_ms')::float8"  # publish time carried in the reading
POSITIONS_SENT = "extract(epoch FROM ts)::float8 * 1000"  # a phone's ts is its publish time


@dataclass(frozen=True)
class Source:
    """Rows of one run in one telemetry table, and how to get their publish time."""

    table: str  # readings | positions (fixed names, never user input)
    column: str
    ids: list[str]
    sent_expr: str


def store_latencies(database_url: str, sources: list[Source], t0: float) -> dict[str, Any]:
    """Latency publish -> stored over the sources' rows (in SQL), and stored per second."""
    import psycopg

    parts, params = [], []
    for src in sources:
        parts.append(
            "SELECT extract(epoch FROM stored_at)::float8 * 1000 AS stored_ms,"
            f" {src.sent_expr} AS sent_ms FROM {src.table} WHERE {src.column} = ANY(%s)"
        )
        params.append(src.ids)
    sql = " UNION ALL ".join(parts)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP"
            " (ORDER BY stored_ms - sent_ms), max(stored_ms - sent_ms), min(sent_ms),"
            f" max(stored_ms) FROM ({sql}) l",
            params,
        ).fetchone()
        per_s = conn.execute(
            f"SELECT floor((stored_ms - %s) / 1000)::int, count(*) FROM ({sql}) l"
            " GROUP BY 1 ORDER BY 1",
            [t0 * 1000, *params],
        ).fetchall()
        # the tail by the second a message was sent: is it spread out or one stall?
        p99_per_s = conn.execute(
            f"SELECT floor((sent_ms - %s) / 1000)::int, percentile_disc(0.99) WITHIN GROUP"
            f" (ORDER BY stored_ms - sent_ms) FROM ({sql}) l GROUP BY 1 ORDER BY 1",
            [t0 * 1000, *params],
        ).fetchall()
        sample = [
            r[0]
            for r in conn.execute(
                f"SELECT stored_ms - sent_ms FROM ({sql}) l ORDER BY random() LIMIT 5000", params
            )
        ]
    assert row is not None
    count, pcts, worst, first_sent, last_stored = row
    pcts = pcts or [math.nan] * 3
    seconds = max((s for s, _ in per_s), default=-1) + 1
    counts: dict[int, int] = dict(per_s)
    return {
        "count": int(count),
        "p50_ms": round(float(pcts[0]), 1),
        "p95_ms": round(float(pcts[1]), 1),
        "p99_ms": round(float(pcts[2]), 1),
        "max_ms": round(float(worst), 1) if worst is not None else math.nan,
        "first_sent_ms": first_sent,
        "last_stored_ms": last_stored,
        "per_second": [int(counts.get(s, 0)) for s in range(max(0, seconds))],
        "p99_ms_per_second": tail_per_second(p99_per_s),
        "sample_ms": [round(float(v), 1) for v in sample],
    }


def tail_per_second(rows: list[tuple[int, float]]) -> list[float]:
    """p99 latency of the messages sent in each second of the run, from second 0 (a
    second with no message, or before the run: left out / NaN)."""
    by_s = {s: v for s, v in rows if s >= 0}
    return [round(float(by_s[s]), 1) if s in by_s else math.nan
            for s in range(max(by_s, default=-1) + 1)]


def worst_seconds(p99_per_s: list[float], n: int = 5) -> list[tuple[int, float]]:
    """The ``n`` seconds with the highest p99, worst first."""
    ranked = sorted(((s, v) for s, v in enumerate(p99_per_s) if not math.isnan(v)),
                    key=lambda sv: -sv[1])
    return ranked[:n]


def tail_line(worst: list[tuple[int, float]]) -> str:
    return "  worst seconds (by send time), p99 ms: " + ", ".join(
        f"s{sec} {v:,.0f}" for sec, v in worst)


def plot_tail(ax: Any, p99_per_s: list[float]) -> None:
    ax.plot(p99_per_s, marker=".")
    ax.set_xlabel("second of the run (sent)")
    ax.set_ylabel("publish -> stored p99 (ms)")
    ax.set_title("the tail over time")


def kafka_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """High watermark of every partition of ``topic`` (where this run's events will start)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
    finally:
        consumer.close()


ALERT_TOPIC = "events.alerts"


def first_event_latencies(
    bootstrap: str, topic: str, start: dict[int, int], sent_ms: dict[str, float],
    key: Callable[[dict[str, Any]], str | None],
) -> dict[str, float]:
    """``key(event)`` -> ms from ``sent_ms[key]`` to the Kafka timestamp of its first event
    on ``topic`` after the offsets ``start`` (events whose key is None are skipped)."""
    from confluent_kafka import Consumer, TopicPartition

    end = kafka_offsets(bootstrap, topic)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, o) for p, o in start.items()])
    out: dict[str, float] = {}
    todo = {p for p in start if end.get(p, 0) > start[p]}
    deadline = time.monotonic() + 30
    try:
        while todo and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is not None:
                    continue
                part, offset, value = msg.partition(), msg.offset(), msg.value()
                if part is None or offset is None or value is None:
                    continue
                if offset >= end[part] - 1:
                    todo.discard(part)
                k = key(json.loads(value))
                if k is not None and k in sent_ms and k not in out:
                    out[k] = msg.timestamp()[1] - sent_ms[k]
    finally:
        consumer.close()
    return out


def workorder_latencies(
    bootstrap: str, start: dict[int, int], fleet: Fleet, fault_sent_ms: dict[str, float]
) -> dict[str, float]:
    """Asset -> ms from the first hot reading's publish to its order's ``new`` event."""
    sent = {fleet.assets[d]: ms for d, ms in fault_sent_ms.items()}

    def key(ev: dict[str, Any]) -> str | None:
        return ((ev.get("details") or {}).get("asset_id") if ev.get("to_status") == "new"
                else None)

    return first_event_latencies(bootstrap, WO_TOPIC, start, sent, key)


def alert_latencies(
    bootstrap: str, start: dict[int, int], fault_sent_ms: dict[str, float]
) -> dict[str, float]:
    """Device -> ms from the first hot reading's publish to its ``opened`` alert event."""
    return first_event_latencies(
        bootstrap, ALERT_TOPIC, start, fault_sent_ms,
        lambda ev: ev.get("device_id") if ev.get("state") == "opened" else None)


def wait_for_orders(database_url: str, assets: list[str], timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    n = 0
    while time.monotonic() < deadline:
        n = stored_count(database_url, "work_orders", "asset_id", assets)
        if n >= len(assets):
            break
        time.sleep(1.0)
    return n


