"""The per-stage latency breakdown of ``fieldflow bench e2e`` (and ``bench streams``).

Where each figure comes from:

- publish -> MQTT receive: ``received_at`` (the bridge's clock) - the publish time, in SQL
  over every stored row;
- MQTT receive -> Kafka confirmed: the bridge's ``fieldflow_bridge_latency_ms`` histogram
  (``/metrics``), read before and after the run;
- Kafka produce -> consumed, consumed -> stored, consumed -> processed: each worker's
  stage histograms (:mod:`streams.stageclock`), read before and after the run;
- receive -> stored and publish -> stored: ``stored_at`` in SQL.

Histogram figures are bucket upper bounds (bridge: its fixed buckets; workers: within 10%).
"""

from __future__ import annotations

import math
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import print_table
from bench.streams_measure import Source
from models.latency import StageHistogram
from streams.stageclock import read_stages

Snapshot = dict[str, Any]


def _bridge_buckets(metrics_url: str) -> list[tuple[float, int]]:
    """(upper bound, cumulative count) of the bridge's latency histogram; [] if unreachable."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as resp:  # nosec B310
            text = resp.read().decode()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        if line.startswith("fieldflow_bridge_latency_ms_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.append((math.inf if le == "+Inf" else float(le), int(line.rsplit(" ", 1)[1])))
    return out


def snapshot(status: dict[str, Any], run_dir: Path) -> Snapshot:
    """The cumulative histograms now: the bridge's and every worker's (per topic)."""
    workers: dict[str, dict[str, StageHistogram]] = {}
    for f in sorted((run_dir / "stages").glob("*.json")):
        workers[f.name] = read_stages(f)
    return {"bridge": _bridge_buckets(str(status.get("metrics_url", ""))), "workers": workers}


def _bridge_summary(before: list[tuple[float, int]],
                    after: list[tuple[float, int]]) -> dict[str, float]:
    if not after:
        return {"count": 0, "p50_ms": math.nan, "p95_ms": math.nan, "p99_ms": math.nan}
    prev = dict(before)
    delta = [(le, n - prev.get(le, 0)) for le, n in after]
    total = delta[-1][1]

    def q(p: float) -> float:
        rank = max(1, math.ceil(p * total))
        return next((le for le, n in delta if n >= rank), math.inf) if total else math.nan

    return {"count": total, "p50_ms": q(0.5), "p95_ms": q(0.95), "p99_ms": q(0.99)}


def worker_stages(before: Snapshot, after: Snapshot) -> dict[str, dict[str, dict[str, float]]]:
    """topic -> stage -> summary over all workers, of what happened between the snapshots."""
    merged: dict[str, dict[str, StageHistogram]] = {}
    for name, hists in after["workers"].items():
        topic = name.removesuffix(".json").split(".", 1)[1]
        old = before["workers"].get(name, {})
        for stage, h in hists.items():
            d = h.minus(old[stage]) if stage in old else h
            merged.setdefault(topic, {})
            merged[topic][stage] = merged[topic][stage].merged(d) if stage in merged[
                topic] else d
    return {t: {s: h.summary() for s, h in st.items()} for t, st in merged.items()}


def db_stages(database_url: str, sources: list[Source]) -> dict[str, dict[str, float]]:
    """publish -> received and received -> stored over the sources' rows, in SQL."""
    import psycopg

    out = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        for src in sources:
            row = conn.execute(
                "SELECT count(*), percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP"
                " (ORDER BY recv - sent), percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN"
                " GROUP (ORDER BY stored - recv) FROM (SELECT"
                " extract(epoch FROM received_at)::float8 * 1000 AS recv,"
                " extract(epoch FROM stored_at)::float8 * 1000 AS stored,"
                f" {src.sent_expr} AS sent FROM {src.table} WHERE {src.column} = ANY(%s)"
                " AND received_at IS NOT NULL) l",
                (src.ids,),
            ).fetchone()
            n, a, b = row if row else (0, None, None)
            for stage, pcts in (("mqtt_receive", a), ("receive_to_stored", b)):
                p = pcts or [math.nan] * 3
                out[f"{src.table}.{stage}"] = {"count": int(n), "p50_ms": round(p[0], 1),
                                               "p95_ms": round(p[1], 1),
                                               "p99_ms": round(p[2], 1)}
    return out


def breakdown(before: Snapshot, after: Snapshot, database_url: str,
              sources: list[Source]) -> dict[str, dict[str, float]]:
    """stage name -> {count, p50_ms, p95_ms, p99_ms}, in the order a message goes."""
    db = db_stages(database_url, sources)
    workers = worker_stages(before, after)
    out: dict[str, dict[str, float]] = {}
    for src in sources:
        t = src.table
        topic = workers.get(f"telemetry.{t}", {})
        out[f"{t}: publish -> MQTT receive (bridge)"] = db[f"{t}.mqtt_receive"]
        if t == sources[0].table:
            out["all: MQTT receive -> Kafka confirmed (bridge)"] = _bridge_summary(
                before["bridge"], after["bridge"])
        out[f"{t}: Kafka produce -> consumed (worker)"] = topic.get("kafka", {})
        out[f"{t}: consumed -> stored (worker)"] = topic.get("stored", {})
        out[f"{t}: consumed -> all stages done (worker)"] = topic.get("processed", {})
        out[f"{t}: MQTT receive -> stored"] = db[f"{t}.receive_to_stored"]
    return out


def _ms(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.0f}"


def print_breakdown(r: dict[str, Any], *, per: str) -> None:
    """The per-stage latency table, CPU per process (``per``: what a message is called)
    and the load average: what bench e2e and bench streams both print."""
    print_table(
        "per-stage latency (ms; worker and bridge figures are histogram bucket bounds)",
        [(name, f"{v.get('count', 0):,}", _ms(v.get("p50_ms")), _ms(v.get("p99_ms")))
         for name, v in r["stages"].items()],
        header=("stage", "count", "p50", "p99"),
    )
    print_table(
        "processes",
        [(n, f"{v['cpu_pct']:.0f}", f"{v['cpu_us_per_msg']:.1f}", f"{v['rss_mb']:.0f}")
         for n, v in r["processes"].items()],
        header=("process", "CPU %", f"CPU µs/{per}", "RSS MB"),
    )
    print("  load average (1/5/15 min) at the end: "
          + " / ".join(f"{x:.2f}" for x in r["load_average"]))
