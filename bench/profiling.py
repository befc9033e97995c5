"""py-spy profiles of a worker for the benchmarks (``--profile FILE``)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path


def profile_worker(pid: int, seconds: float, path: Path) -> subprocess.Popen[bytes] | None:
    """py-spy (if installed) samples the worker for ``seconds`` into collapsed stacks."""
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        print("bench: py-spy not installed (pip install py-spy); no profile")
        return None
    return subprocess.Popen(
        [
            str(exe),
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "50",
            "-f",
            "raw",
            "-o",
            str(path),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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


# -- the run -----------------------------------------------------------------------------
