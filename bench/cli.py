"""``fieldflow bench NAME [options]``: each benchmark lives in ``bench/NAME.py``."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "ingest": "MQTT -> bridge -> Kafka: sustained msgs/s, p50/p99 latency, loss",
    "http-ingest": "POST /api/v1/positions (batched) -> PostgreSQL: positions/s, p99, loss",
    "streams": "MQTT -> ... -> PostgreSQL: readings/s per worker, p50/p99 to stored and to order",
    "e2e": "devices + phones through the whole stack: msgs/s, latency, loss, CPU/RSS per process",
    "store": "readings on TimescaleDB vs plain PostgreSQL: MB per million, 30-day query ms",
    "dispatch": "Solomon VRPTW: our SISR search vs best-known, PyVRP, OR-Tools; assignment ms",
    "outbox": "work-order changes/s through the outbox: commit -> Kafka delay p50/p99",
    "table": "README's \"Measured here\" table from docs/results/*.json (--run NAME re-measures)",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in BENCHES:
        print("usage: fieldflow bench NAME [options]   (fieldflow bench NAME --help)\n")
        for name, text in BENCHES.items():
            print(f"  {name:10} {text}")
        return 0 if args and args[0] in ("-h", "--help") else 2
    rest = args[1:]
    if "--out-dir" not in rest and not {"-h", "--help"} & set(rest):
        from stack.settings import get_settings

        rest += ["--out-dir", str(get_settings().home_dir / "bench")]
    module = importlib.import_module(f"bench.{args[0].replace('-', '_')}")
    result: int = module.main(rest)
    return result
