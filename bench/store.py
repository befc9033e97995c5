"""``fieldflow bench store``: telemetry storage on TimescaleDB vs plain PostgreSQL.

Starts one embedded PostgreSQL of its own (TimescaleDB preloaded when installed, see
``make timescale``) with two databases migrated by FieldFlow's migrations: one on
TimescaleDB (hypertables, compression, continuous aggregates), one on plain tables.
Both get the same ``--readings`` readings (``--devices`` devices, two metrics each, spread
evenly over ``--days`` days, generated in the server). Measured per flavour: the load
time, on TimescaleDB the time to materialise the aggregates and compress every chunk
(raw and aggregates), the table size per million readings (raw table with its indexes;
TimescaleDB after compression, plus the aggregates' own size), and the median of
``--repeat`` runs of the API's 30-day query (``store.rollups.reading_buckets``: one
device, one metric, 1-hour buckets) and of the same with 1-day buckets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.common import print_table, write_outputs
from stack import timescale
from stack.procs import free_port, init_postgres, postgres_bin_dir
from stack.settings import Settings
from store import rollups
from store.migrate import migrate

END = datetime(2026, 1, 31, tzinfo=UTC)


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str]:
    """A throwaway embedded PostgreSQL; yields the admin URL (database ``postgres``)."""
    home = Path(tempfile.mkdtemp(prefix="fieldflow-bench-store-"))
    home.chmod(0o755)
    settings = Settings(home=home, postgres_port=free_port(), timescaledb="auto")
    data_dir, user = init_postgres(settings)
    argv = [str(postgres_bin_dir() / "postgres"), "-D", str(data_dir), "-h", "127.0.0.1",
            "-p", str(settings.postgres_port), "-c", "unix_socket_directories=",
            "-c", "synchronous_commit=off", "-c", "shared_buffers=256MB",
            "-c", "max_worker_processes=16", *timescale.postgres_args(settings)]
    log = (home / "postgres.log").open("w")
    proc = subprocess.Popen(argv, user=user, stdout=log, stderr=subprocess.STDOUT)
    url = f"postgresql://postgres@127.0.0.1:{settings.postgres_port}/postgres"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(url, connect_timeout=1).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def _timed(conn: psycopg.Connection, sql: str, params: Any = None) -> float:
    t0 = time.perf_counter()
    conn.execute(sql, params)
    took = time.perf_counter() - t0
    print(f"bench store: {' '.join(sql.split())[:60]}... {took:.2f} s", flush=True)
    return took


def _query_times(url: str, kind: rollups.Flavour, days: int, width: timedelta,
                 repeat: int) -> tuple[float, int]:
    async def run() -> tuple[float, int]:
        times, n = [], 0
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for _ in range(repeat):
                t0 = time.perf_counter()
                items = await rollups.reading_buckets(
                    conn, device_id="dev-1", metric="temperature", start=END - timedelta(days=days),
                    end=END, width=width, kind=kind)
                times.append(time.perf_counter() - t0)
                n = len(items)
        return statistics.median(times), n
    return asyncio.run(run())


def measure(admin_url: str, kind: rollups.Flavour, args: argparse.Namespace) -> dict[str, Any]:
    name = f"bench_{kind}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    result = migrate(url, timescale_wanted=kind == "timescale")
    if result.timescale != (kind == "timescale"):
        raise SystemExit(f"bench store: could not set up the {kind} database")
    step_s = args.days * 86400 * args.devices / args.readings
    out: dict[str, Any] = {"flavour": kind}
    with psycopg.connect(url, autocommit=True) as conn:
        if kind == "timescale":  # background jobs would race the measured steps
            conn.execute("SELECT alter_job(job_id, scheduled => false)"
                         " FROM timescaledb_information.jobs WHERE job_id >= 1000")
        out["load_s"] = _timed(conn, """
            INSERT INTO readings (device_id, ts, metrics, source)
            SELECT 'dev-' || d, %(end)s - (i * %(step)s) * interval '1 second',
                   jsonb_build_object('temperature', 20 + 10 * sin(i / 50.0 + d),
                                      'vibration', round((random() * 5)::numeric, 3)),
                   'bench'
            FROM generate_series(1, %(devices)s) d,
                 generate_series(1, %(per_device)s) i""",
            {"end": END, "step": step_s, "devices": args.devices,
             "per_device": args.readings // args.devices})
        rows = conn.execute("SELECT count(*) FROM readings").fetchone()
        out["readings"] = int(rows[0]) if rows else 0
        if kind == "timescale":
            out["aggregate_s"] = _timed(conn, "CALL refresh_continuous_aggregate("
                                        "'readings_1m', NULL, NULL)")
            out["aggregate_s"] += _timed(conn, "CALL refresh_continuous_aggregate("
                                         "'readings_1h', NULL, NULL)")
            out["compress_s"] = sum(_timed(
                conn, "SELECT count(compress_chunk(c, if_not_compressed => true))"
                f" FROM show_chunks('{rel}') c") for rel in ("readings", "readings_1m",
                                                             "readings_1h"))
            size = conn.execute("SELECT hypertable_size('readings'),"
                                " (SELECT sum(hypertable_size(format('%I.%I',"
                                "  materialization_hypertable_schema,"
                                "  materialization_hypertable_name)::regclass))"
                                "  FROM timescaledb_information.continuous_aggregates"
                                "  WHERE view_name IN ('readings_1m', 'readings_1h'))").fetchone()
            out["aggregates_mb"] = float(size[1] or 0) / 2**20 if size else 0.0
        else:
            conn.execute("VACUUM ANALYZE readings")
            size = conn.execute("SELECT pg_total_relation_size('readings')").fetchone()
        out["table_mb"] = float(size[0]) / 2**20 if size else 0.0
        if kind == "timescale":
            conn.execute("ANALYZE")
    per_million = 1e6 / max(out["readings"], 1)
    out["mb_per_million"] = out["table_mb"] * per_million
    for label, width in (("1h", timedelta(hours=1)), ("1d", timedelta(days=1))):
        out[f"query_{label}_ms"], out[f"query_{label}_buckets"] = _query_times(
            url, kind, args.query_days, width, args.repeat)
        out[f"query_{label}_ms"] *= 1000
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fieldflow bench store", description=__doc__.split("\n")[0])
    p.add_argument("--readings", type=int, default=1_000_000, help="readings per flavour")
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--days", type=int, default=30, help="days the readings span")
    p.add_argument("--query-days", type=int, default=30, help="range of the bucketed query")
    p.add_argument("--repeat", type=int, default=5, help="query runs (median)")
    p.add_argument("--json", help="write the headline figures here")
    p.add_argument("--out-dir", help="write a JSON report here")
    args = p.parse_args(argv)
    version = timescale.installed_version()
    with scratch_postgres() as admin:
        flavours: list[rollups.Flavour] = ["plain", "timescale"] if version else ["plain"]
        if not version:
            print(f"bench store: {timescale.HOW_TO_BUILD}; measuring plain PostgreSQL only")
        results: dict[str, dict[str, Any]] = {k: measure(admin, k, args) for k in flavours}
    rows = []
    for key, label in (("readings", "readings"), ("load_s", "load s"),
                       ("compress_s", "compress all chunks s"),
                       ("aggregate_s", "materialise 1m + 1h aggregates s"),
                       ("table_mb", "readings table MB"), ("mb_per_million", "MB per million"),
                       ("aggregates_mb", "aggregates MB"),
                       ("query_1h_ms", f"{args.query_days}-day query, 1h buckets ms"),
                       ("query_1d_ms", f"{args.query_days}-day query, 1d buckets ms")):
        rows.append((label, *(f"{results[k][key]:,.2f}" if key in results[k] else "-"
                              for k in flavours)))
    print_table(f"{args.readings:,} readings, {args.devices} devices, {args.days} days", rows,
                header=("", *flavours))
    for path in write_outputs("store", results, results, json_path=args.json,
                              out_dir=args.out_dir, plot=None):
        print(f"  wrote {path}")
    summary = ", ".join(
        f"{k}: {r['mb_per_million']:.1f} MB per million readings, {args.query_days}-day 1h query"
        f" {r['query_1h_ms']:.1f} ms" for k, r in results.items())
    print(f"store: {summary}")
    return 0
