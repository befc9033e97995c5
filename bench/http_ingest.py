"""``fieldflow bench http-ingest``: positions/s through ``POST /api/v1/positions`` (batched,
as the app's outbox sends them) to PostgreSQL, p99 to stored, and loss.

``--engineers`` engineers are enrolled through the real enrolment link (one engineer token
each); ``--senders`` sender processes each keep ``--concurrency`` requests of ``--batch``
native positions in flight for ``--duration`` seconds. Each position's ``ts`` is the
moment its batch was built (unique per engineer), so:

- positions/s: positions answered 202 / sending time;
- p50/p99 to stored: ``positions.stored_at`` (``clock_timestamp()`` at insert) - ``ts``;
- stored/s: positions stored / (last ``stored_at`` - first send): the stream worker's pace;
- lost: positions answered 202 - distinct positions stored; must be 0.

Starts the embedded stack when none runs in FIELDFLOW_HOME and stops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import time
import uuid
from typing import Any

import httpx
import orjson
import psycopg

from bench.common import latency_summary, print_table, write_outputs
from bench.stackctl import embedded_stack


def _enrol(api_url: str, admin_token: str, count: int, run: str) -> list[tuple[str, str]]:
    """(engineer id, engineer token) for ``count`` new engineers, through enrolment links."""
    out = []
    with httpx.Client(base_url=api_url, timeout=30,
                      headers={"Authorization": f"Bearer {admin_token}"}) as api:
        for i in range(count):
            eid = f"bench-{run}-{i}"
            api.post("/api/v1/engineers", json={"id": eid, "name": f"Bench {i}"}).raise_for_status()
            link = api.post(f"/api/v1/engineers/{eid}/enrolment")
            link.raise_for_status()
            got = httpx.post(f"{api_url}/api/v1/enrolment/redeem",
                             json={"code": link.json()["code"]}, timeout=30)
            got.raise_for_status()
            out.append((eid, got.json()["token"]))
    return out


async def _send(api_url: str, engineers: list[tuple[str, str]], batch: int, concurrency: int,
                duration: float, start_at: float) -> dict[str, Any]:
    last_ts = dict.fromkeys((e for e, _ in engineers), 0)
    accepted = refused = errors = 0
    t_first = t_last = 0.0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=api_url, timeout=60, limits=limits) as http:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        t_first = time.time()
        deadline = t_first + duration

        async def worker(n: int) -> None:
            nonlocal accepted, refused, errors
            k = n
            while time.time() < deadline:
                eid, token = engineers[k % len(engineers)]
                k += concurrency
                now = int(time.time() * 1000)
                fixes = []
                for j in range(batch):
                    ts = max(now, last_ts[eid] + 1)
                    last_ts[eid] = ts
                    fixes.append({"ts": ts, "lat": 51.5 + (j % 100) * 1e-4, "lon": -0.12,
                                  "acc": 8, "spd": 5.0, "hdg": 90, "batt": 80})
                try:
                    resp = await http.post("/api/v1/positions", content=orjson.dumps(fixes),
                                           headers={"Authorization": f"Bearer {token}",
                                                    "Content-Type": "application/json"})
                except httpx.HTTPError:
                    errors += 1
                    continue
                if resp.status_code == 202:
                    accepted += int(resp.json()["accepted"])
                else:
                    refused += batch

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        t_last = time.time()
    return {"accepted": accepted, "refused": refused, "errors": errors, "t_first": t_first,
            "t_last": t_last}


def _sender(api_url: str, engineers: list[tuple[str, str]], batch: int, concurrency: int,
            duration: float, start_at: float, out: Any) -> None:
    out.put(asyncio.run(_send(api_url, engineers, batch, concurrency, duration, start_at)))


def _stored(database_url: str, run: str) -> tuple[int, list[float], float]:
    """(positions stored, ts -> stored ms of each, last stored_at as epoch s)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM stored_at - ts)::float8 * 1000,"
            " extract(epoch FROM stored_at)::float8 FROM positions"
            " WHERE engineer_id LIKE %s", (f"bench-{run}-%",)).fetchall()
    return len(rows), [r[0] for r in rows], max((r[1] for r in rows), default=0.0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    with embedded_stack("http-ingest") as (status, _started):
        api_url, database_url = status["api_url"], status["database_url"]
        run_id = uuid.uuid4().hex[:6]
        engineers = _enrol(api_url, status["admin_token"], args.engineers, run_id)
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        start_at = time.time() + 2.0
        share = [engineers[i::args.senders] for i in range(args.senders)]
        procs = [ctx.Process(target=_sender, args=(api_url, mine, args.batch, args.concurrency,
                                                   args.duration, start_at, queue))
                 for mine in share]
        for proc in procs:
            proc.start()
        reports = [queue.get(timeout=args.duration + 120) for _ in procs]
        for proc in procs:
            proc.join(30)
        accepted = sum(r["accepted"] for r in reports)
        t_first = min(r["t_first"] for r in reports)
        t_last = max(r["t_last"] for r in reports)
        stored, latencies, last_stored = 0, list[float](), 0.0
        last_change, last_count = time.monotonic(), -1
        while time.monotonic() - last_change < args.drain_timeout:
            stored, latencies, last_stored = _stored(database_url, run_id)
            if stored >= accepted:
                break
            if stored != last_count:
                last_change, last_count = time.monotonic(), stored
            time.sleep(1)
    lat = latency_summary(latencies)
    return {
        "engineers": args.engineers, "senders": args.senders, "batch": args.batch,
        "concurrency": args.concurrency, "duration_s": round(t_last - t_first, 2),
        "accepted": accepted, "refused": sum(r["refused"] for r in reports),
        "errors": sum(r["errors"] for r in reports), "stored": stored,
        "lost": accepted - stored,
        "positions_per_s": accepted / max(t_last - t_first, 1e-9),
        "stored_per_s": stored / max(last_stored - t_first, 1e-9),
        "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"], "latency": lat,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fieldflow bench http-ingest",
                                description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=10, help="seconds of sending")
    p.add_argument("--engineers", type=int, default=40)
    p.add_argument("--batch", type=int, default=100, help="positions per request")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight per sender")
    p.add_argument("--senders", type=int, default=1, help="sender processes")
    p.add_argument("--drain-timeout", type=float, default=30, help="s without progress to stop")
    p.add_argument("--json", help="write the headline figures here")
    p.add_argument("--out-dir", help="write a JSON report here")
    args = p.parse_args(argv)
    r = run(args)
    print_table(
        "POST /api/v1/positions (batched) -> Kafka -> faust worker -> PostgreSQL",
        [
            ("positions answered 202", f"{r['accepted']:,}"),
            ("refused / request errors", f"{r['refused']:,} / {r['errors']:,}"),
            ("stored (distinct)", f"{r['stored']:,}"),
            ("lost", f"{r['lost']:,}"),
            ("positions/s (answered 202)", f"{r['positions_per_s']:,.0f}"),
            ("stored/s (first send -> last stored)", f"{r['stored_per_s']:,.0f}"),
            ("ts -> stored p50 ms", f"{r['p50_ms']:,.1f}"),
            ("ts -> stored p99 ms", f"{r['p99_ms']:,.1f}"),
        ],
    )
    headline = {k: r[k] for k in ("positions_per_s", "p50_ms", "p99_ms", "lost")}
    for path in write_outputs("http-ingest", r, headline, json_path=args.json,
                              out_dir=args.out_dir):
        print(f"  wrote {path}")
    verdict = "no loss" if r["lost"] == 0 else f"LOST {r['lost']}"
    print(f"http-ingest: {r['positions_per_s']:,.0f} positions/s (batches of {r['batch']}),"
          f" stored p99 {r['p99_ms']:.0f} ms, {verdict}")
    return 0 if r["lost"] == 0 and r["accepted"] > 0 else 1
