"""PNG plots beside the JSON report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from simulators.scenario import Scenario
from simulators.truth import Truth


def write_plots(report: dict[str, Any], truth: Truth, sc: Scenario, base: Path) -> list[Path]:
    """``<base>-map.png`` (true tracks, sites, fences) and ``<base>-latency.png``."""
    out = []
    fig, ax = plt.subplots(figsize=(7, 7))
    tracks: dict[str, list[tuple[float, float]]] = {}
    for eng, _ts, lat, lon in truth.track:
        tracks.setdefault(eng, []).append((lon, lat))
    for eng, pts in tracks.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=0.8, label=eng)
    ax.scatter([s.lon for s in sc.sites], [s.lat for s in sc.sites], marker="s", c="black",
               s=18, label="sites", zorder=3)
    visited = [s for s in sc.sites if s.id in {a.site_id for a in truth.arrivals}]
    ax.scatter([s.lon for s in visited], [s.lat for s in visited], marker="o", s=120,
               facecolors="none", edgecolors="green", label="visited", zorder=4)
    ax.set_title("True engineer tracks and sites")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    if len(tracks) <= 12:
        ax.legend(fontsize=6, loc="upper right")
    path = base.with_name(base.name + "-map.png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    out.append(path)

    detail = report.get("detail", {})
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, key, title in ((axes[0], "onset_to_order_s", "fault onset -> work order (s)"),
                           (axes[1], "onset_to_onsite_s", "fault onset -> engineer on site (s)")):
        values = detail.get(key) or []
        if values:
            ax.hist(values, bins=min(20, max(3, len(values))), color="#3b7dd8")
        ax.set_title(title)
        ax.set_ylabel("faults")
    trips = {t.work_order_id: t for t in truth.trips}  # ETAs of the drive, not of the queue
    pts = [((t.arrival_ms - s.at_ms) / 60_000, (s.eta_ms - t.arrival_ms) / 1000)
           for s in truth.eta_samples
           if (t := trips.get(s.work_order_id)) and t.depart_ms <= s.at_ms <= t.arrival_ms]
    axes[2].scatter([p[0] for p in pts], [p[1] for p in pts], s=12, c="#d8703b")
    axes[2].axhline(0, color="grey", lw=0.8)
    axes[2].invert_xaxis()
    axes[2].set_title("platform ETA error vs true arrival")
    axes[2].set_xlabel("minutes before the true arrival")
    axes[2].set_ylabel("ETA - arrival (s)")
    eta = report.get("eta_mae_s") or {}
    fig.suptitle("ETA MAE (s): " + ", ".join(f"{k} {'-' if v is None else v}"
                                             for k, v in eta.items()) if eta
                 else f"ETA MAE: no published ETA 5/10/20 min before an arrival "
                      f"({len(truth.eta_samples)} samples)", y=1.04)
    path = base.with_name(base.name + "-latency.png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    out.append(path)
    return out
