"""py-spy profiles for the benchmarks: ``bench streams --profile FILE`` (worker-1),
``bench e2e --profile DIR`` (bridge, every worker, the API: one collapsed-stack file
each, readable by speedscope or flamegraph.pl)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path


def _py_spy() -> Path | None:
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        print("bench: py-spy not installed (pip install -e '.[dev]'); no profile")
        return None
    return exe


def profile_worker(pid: int, seconds: float, path: Path,
                   fmt: str = "raw") -> subprocess.Popen[bytes] | None:
    """py-spy (if installed) samples ``pid`` for ``seconds`` into ``path`` (``raw``:
    collapsed stacks; ``flamegraph``: an SVG), 50 samples/s, without pausing it."""
    exe = _py_spy()
    if exe is None:
        return None
    return subprocess.Popen(
        [str(exe), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "50",
         "-f", fmt, "-o", str(path), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_processes(pids: dict[str, int], seconds: float,
                      out_dir: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on each named process: ``out_dir/NAME.txt`` (collapsed stacks, which
    :func:`profile_summary` reads)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = [profile_worker(pid, seconds, out_dir / f"{name}.txt") for name, pid in pids.items()]
    return [p for p in procs if p is not None]



def profile_summary(path: Path, top: int = 25) -> list[tuple[str, float, float]]:
    """(frame, inclusive %, self %) of the heaviest frames in py-spy's collapsed stacks."""
    if not path.exists():
        return []
    total, incl, own = 0, Counter[str](), Counter[str]()
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
            for f in stack.split(";")
        ]
        total += int(n)
        for f in set(frames):
            incl[f] += int(n)
        own[frames[-1]] += int(n)
    return [(f, 100 * c / total, 100 * own[f] / total) for f, c in incl.most_common(top)]

