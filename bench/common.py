"""Helpers shared by the ``fieldflow bench`` suite (no benchmark logic of its own):
the options every load benchmark shares, nearest-rank percentiles, the printed table and
the outputs (headline JSON, full report, PNG). Beside it: :mod:`bench.stackctl` (the
stack a benchmark uses or starts), :mod:`bench.procs` (CPU and RSS per process) and
:mod:`bench.load` (the MQTT load generator).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def load_args(p: argparse.ArgumentParser, *, drain_timeout_s: float,
              publishers_help: str = "publisher processes") -> None:
    """The options every load benchmark shares: publishers, drain timeout and outputs."""
    p.add_argument("--publishers", type=int, default=2, help=publishers_help)
    p.add_argument("--drain-timeout", type=float, default=drain_timeout_s,
                   help="s without progress to stop")
    p.add_argument("--json", help="write the headline figures here")
    p.add_argument("--out-dir", help="write a JSON report and a PNG here")


# -- statistics --------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return float(ordered[min(len(ordered), rank) - 1])


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 0.50), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(max(values), 1) if values else math.nan,
    }

# -- output ------------------------------------------------------------------------------
def print_table(
    title: str, rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None
) -> None:
    """Print ``rows`` as aligned columns (first column left, the others right)."""
    cells = [[str(c) for c in row] for row in ([header] if header else []) + list(rows)]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(max(map(len, cells)))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        line = "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
        )
        print(f"  {line}")
        if header and n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def write_outputs(
    name: str,
    result: dict[str, Any],
    headline: dict[str, Any],
    *,
    json_path: str | None,
    out_dir: str | None,
    plot: Callable[[dict[str, Any], Path], None] | None = None,
) -> list[Path]:
    """Write the headline JSON to ``json_path`` and ``NAME-STAMP.json``/``.png`` under out_dir."""
    written = []
    if json_path:
        path = Path(json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(headline, indent=2) + "\n")
        written.append(path)
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        report = out / f"{name}-{stamp}.json"
        report.write_text(json.dumps(result, indent=2, default=str) + "\n")
        written.append(report)
        if plot is not None:
            import matplotlib

            matplotlib.use("Agg")
            png = out / f"{name}-{stamp}.png"
            plot(result, png)
            written.append(png)
    return written
