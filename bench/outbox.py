"""Outbox benchmark: the commit-to-Kafka delay of domain events at a steady rate of
work-order changes (issue #21: p99 under 100 ms at 200 changes/s).

The changes are the real use cases (``services.workorders.create_order`` and
``services.transitions.transition_order``: create, assign, accept, en route, on site,
in progress, complete, sign off, close), run in this process against the stack's
PostgreSQL at ``--rate`` changes/s on ``--connections`` connections. Each commits its
event as an outbox row; the API's relay sends it. A consumer on ``events.workorders``
stamps each event id on receipt; the delay is receipt minus the moment the use case's
commit returned (so it includes the relay's wake-up, the produce and ack, and the
consumer's fetch).

Run: ``fieldflow bench outbox --rate 200 --duration 20`` (uses the stack running in
``FIELDFLOW_HOME``, or starts one and stops it afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import Consumer

from bench.common import latency_summary, print_table, write_outputs
from bench.stackctl import embedded_stack
from models.workorder import Status
from services.outbox import Outbox
from services.transitions import transition_order
from services.workorders import NewOrder, create_order

TOPIC = "events.workorders"
# After the create: the moves of one order, in order (target, reason).
MOVES = [(Status.ASSIGNED, ""), (Status.ACCEPTED, ""), (Status.EN_ROUTE, ""),
         (Status.ON_SITE, "bench"), (Status.IN_PROGRESS, ""), (Status.COMPLETED, ""),
         (Status.SIGNED_OFF, ""), (Status.CLOSED, "")]
ORDER_TYPE = "bench-outbox"


@dataclass
class Tally:
    committed: dict[str, float] = field(default_factory=dict)  # event id -> commit returned
    received: dict[str, float] = field(default_factory=dict)  # event id -> consumer receipt
    repeats: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def seed(url: str, tag: str, engineers: int) -> tuple[str, list[str]]:
    """A site and one engineer per connection (assignments to one engineer re-sequence
    their whole route, so lanes sharing one would wait on each other's row locks)."""
    site = f"bench-site-{tag}"
    engs = [f"bench-eng-{tag}-{i}" for i in range(engineers)]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO checklist_templates (order_type, items) VALUES (%s, '[]')"
                     " ON CONFLICT DO NOTHING", (ORDER_TYPE,))
        conn.execute("INSERT INTO customers (id, name, sla_tier) VALUES (%s, 'Bench', 'gold')",
                     (f"bench-cust-{tag}",))
        conn.execute("INSERT INTO sites (id, customer_id, name, lat, lon) VALUES"
                     " (%s, %s, 'Bench site', 51.5, -0.12)", (site, f"bench-cust-{tag}"))
        for eng in engs:
            conn.execute("INSERT INTO engineers (id, name, skills) VALUES (%s, 'Bench', '{}')",
                         (eng,))
    return site, engs


def consume(bootstrap: str, tally: Tally, ready: threading.Event, stop: threading.Event) -> None:
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"bench-outbox-{uuid.uuid4().hex}",
        "auto.offset.reset": "latest", "enable.auto.commit": False,
        "fetch.wait.max.ms": 5, "fetch.min.bytes": 1,
        "session.timeout.ms": 6000, "max.poll.interval.ms": 10000})
    consumer.subscribe([TOPIC], on_assign=lambda _c, _p: ready.set())
    try:
        while not stop.is_set():
            for msg in consumer.consume(num_messages=1000, timeout=0.05):
                value = msg.value()
                if msg.error() is not None or value is None:
                    continue
                now = time.time()
                event_id = json.loads(value).get("event_id")
                if event_id is None:
                    continue
                with tally.lock:
                    if event_id in tally.received:
                        tally.repeats += 1
                    else:
                        tally.received[event_id] = now
    finally:
        consumer.close()


async def lane(url: str, site: str, eng: str, slots: asyncio.Queue[int | None],
               tally: Tally, in_flight: int = 4) -> None:
    """One connection: each slot moves the next of its ``in_flight`` orders one step
    (an order is created, moved through its lifecycle to closed, then a new one)."""
    orders: list[tuple[str | None, int]] = [(None, 0)] * in_flight
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while (i := await slots.get()) is not None:
            ids: list[uuid.UUID] = []

            def note(ids: list[uuid.UUID] = ids) -> uuid.UUID:
                ids.append(uuid.uuid4())
                return ids[-1]

            outbox = Outbox(conn, new_id=note)
            k = i % in_flight
            oid, step = orders[k]
            if oid is None or step >= len(MOVES):
                row, _ = await create_order(
                    NewOrder(title="Bench", order_type=ORDER_TYPE, site_id=site),
                    conn=conn, publisher=outbox, actor="bench")
                orders[k] = (row["id"], 0)
            else:
                target, reason = MOVES[step]
                orders[k] = (oid, step + 1)
                await transition_order(oid, target, conn=conn, publisher=outbox, actor="bench",
                                       engineer_id=eng, reason=reason, manual_on_site=True)
            done = time.time()  # the commit has returned
            with tally.lock:
                tally.committed.update(dict.fromkeys(map(str, ids), done))


async def drive(url: str, site: str, engs: list[str], rate: float, duration_s: float,
                tally: Tally) -> tuple[int, float]:
    """Offer ``rate`` changes/s for ``duration_s``, round-robin over the connections;
    returns (changes made, seconds taken)."""
    connections = len(engs)
    queues: list[asyncio.Queue[int | None]] = [asyncio.Queue() for _ in range(connections)]
    lanes = [asyncio.create_task(lane(url, site, eng, q, tally)) for eng, q in zip(engs, queues,
                                                                                   strict=True)]
    total = int(rate * duration_s)
    t0 = time.monotonic()
    for n in range(total):
        delay = t0 + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        queues[n % connections].put_nowait(n // connections)
    for q in queues:
        q.put_nowait(None)
    await asyncio.gather(*lanes)
    return total, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fieldflow bench outbox", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=200.0, help="work-order changes per second")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    p.add_argument("--connections", type=int, default=8,
                   help="database connections (one engineer each)")
    p.add_argument("--drain-timeout", type=float, default=30.0,
                   help="s to wait for the last events")
    p.add_argument("--json", help="write the headline figures here")
    p.add_argument("--out-dir", help="write a JSON report here")
    a = p.parse_args(argv)
    with embedded_stack("outbox") as (status, _started):
        load_before = os.getloadavg()
        url, bootstrap = status["database_url"], status["kafka_bootstrap"]
        site, engs = seed(url, uuid.uuid4().hex[:8], a.connections)
        tally = Tally()
        ready, stop = threading.Event(), threading.Event()
        reader = threading.Thread(target=consume, args=(bootstrap, tally, ready, stop),
                                  daemon=True)
        reader.start()
        if not ready.wait(30):
            raise SystemExit("bench outbox: the consumer got no partitions in 30 s")
        time.sleep(1)
        print(f"bench outbox: {a.rate:.0f} changes/s for {a.duration:.0f} s on"
              f" {a.connections} connections", flush=True)
        changes, took = asyncio.run(drive(url, site, engs, a.rate, a.duration, tally))
        deadline = time.monotonic() + a.drain_timeout
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                pending = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL"
                                       " AND channel = 'kafka'").fetchone()
                if pending is not None and pending[0] == 0:
                    break
                time.sleep(0.2)
        time.sleep(2)  # the consumer's last fetch
        stop.set()
        reader.join(5)
        with psycopg.connect(url) as conn, tally.lock:  # count the Kafka events only
            kafka = {r[0] for r in conn.execute(
                "SELECT event_id::text FROM outbox WHERE channel = 'kafka'"
                " AND event_id = ANY(%s::uuid[])", (list(tally.committed),))}
            tally.committed = {e: t for e, t in tally.committed.items() if e in kafka}
    with tally.lock:
        delays = [(tally.received[e] - t) * 1000 for e, t in tally.committed.items()
                  if e in tally.received]
        lost = len(tally.committed) - len(delays)
        repeats = tally.repeats
    summary = latency_summary(delays)
    result = {"rate": a.rate, "duration_s": a.duration, "connections": a.connections,
              "changes": changes, "changes_per_s": round(changes / took, 1),
              "events": len(tally.committed), "received": len(delays), "lost": lost,
              "repeats": repeats, "commit_to_kafka_ms": summary,
              "load_avg_before": load_before}
    print_table("commit -> Kafka (consumer receipt) of events.workorders", [
        ["load average before (1/5/15 min)", " / ".join(f"{x:.1f}" for x in load_before)],
        ["changes/s achieved", f"{changes / took:.1f}"],
        ["events committed", len(tally.committed)],
        ["events received", len(delays)],
        ["lost", lost], ["repeats", repeats],
        *[[f"delay {k}", v] for k, v in summary.items()]])
    p99 = summary["p99_ms"]
    print(f"\nbench outbox: {changes / took:.0f} changes/s, commit->Kafka p50"
          f" {summary['p50_ms']:.1f} ms p99 {p99:.1f} ms, lost {lost},"
          f" repeats {repeats} (target p99 < 100 ms: {'met' if p99 < 100 else 'NOT met'})")
    write_outputs("outbox", result, {k: result[k] for k in (
        "changes_per_s", "events", "lost", "repeats", "commit_to_kafka_ms")},
        json_path=a.json, out_dir=a.out_dir)
    return 0 if lost == 0 else 1
