"""CPU and RSS of named processes (and their children) with psutil, for the benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


# -- processes ---------------------------------------------------------------------------
@dataclass
class _Usage:
    cpu_s: float = 0.0
    rss_samples: list[float] = field(default_factory=list)
    base: dict[int, float] = field(default_factory=dict)  # pid -> cpu seconds at first sight
    last: dict[int, float] = field(default_factory=dict)  # pid -> latest cpu seconds


class ProcessSampler:
    """CPU (100 = one core, averaged over the run) and RSS of named process trees.

    CPU comes from the processes' own counters (user + system seconds), so a short
    sampling interval only matters for RSS and for children that exit mid-run.
    RSS of a tree is the sum over its processes (PostgreSQL's backends share memory,
    so its figure overstates what it really holds).
    """

    def __init__(self, pids: Mapping[str, int | list[int]], interval_s: float = 1.0) -> None:
        import psutil

        self._psutil = psutil
        # name -> root pids (their children are counted with them)
        self.pids = {name: [p] if isinstance(p, int) else list(p) for name, p in pids.items()}
        self.interval_s = interval_s
        self._usage = {name: _Usage() for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="proc-sampler", daemon=True)
        self._t0 = self._t1 = 0.0

    def add(self, name: str, pids: list[int]) -> None:
        """Also follow ``pids`` (started after :meth:`start`: all their CPU counts)."""
        self.pids[name] = list(pids)
        self._usage[name] = _Usage()

    def _tree(self, pids: list[int]) -> list[Any]:
        procs = []
        for pid in pids:
            try:
                root = self._psutil.Process(pid)
                procs += [root, *root.children(recursive=True)]
            except self._psutil.Error:
                continue
        return procs

    def sample(self, *, first: bool = False) -> None:
        for name, pid in self.pids.items():
            usage, rss = self._usage[name], 0.0
            for proc in self._tree(pid):
                try:
                    with proc.oneshot():
                        t = proc.cpu_times()
                        cpu = t.user + t.system
                        rss += proc.memory_info().rss
                except self._psutil.Error:
                    continue
                usage.base.setdefault(proc.pid, cpu if first else 0.0)
                usage.last[proc.pid] = cpu
            usage.rss_samples.append(rss / 2**20)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def start(self) -> ProcessSampler:
        self._t0 = time.monotonic()
        self.sample(first=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        self._thread.join(5)
        self.sample()
        self._t1 = time.monotonic()
        return self.result()

    def result(self) -> dict[str, dict[str, float]]:
        wall = max(1e-9, (self._t1 or time.monotonic()) - self._t0)
        out = {}
        for name, usage in self._usage.items():
            cpu_s = sum(usage.last[p] - usage.base.get(p, 0.0) for p in usage.last)
            rss = usage.rss_samples or [0.0]
            out[name] = {
                "cpu_pct": round(100 * cpu_s / wall, 1),
                "cpu_s": round(cpu_s, 2),
                "rss_mb": round(max(rss), 1),
                "rss_mb_mean": round(sum(rss) / len(rss), 1),
            }
        return out
