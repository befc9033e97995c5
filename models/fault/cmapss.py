"""Reading NASA C-MAPSS files (whitespace-separated, no header, 26 columns).

Column layout: ``unit, cycle, op1..op3, s1..s21`` (see ``data/cmapss/README.md``).
Reading files is I/O at the edge; everything else in the package works on arrays.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

OP_NAMES: tuple[str, ...] = ("op1", "op2", "op3")
SENSOR_NAMES: tuple[str, ...] = tuple(f"s{i}" for i in range(1, 22))
COLUMNS: tuple[str, ...] = ("unit", "cycle", *OP_NAMES, *SENSOR_NAMES)


class CmapssFormatError(ValueError):
    """A file that is not in the C-MAPSS layout."""


@dataclass(frozen=True)
class CmapssData:
    """One C-MAPSS file: per-row unit id, cycle, operating settings and sensors."""

    unit: IntArray
    cycle: IntArray
    ops: FloatArray
    sensors: FloatArray

    @property
    def units(self) -> list[int]:
        """Unit ids in order of first appearance."""
        _, first = np.unique(self.unit, return_index=True)
        return [int(u) for u in self.unit[np.sort(first)]]

    def rows_of(self, unit: int) -> npt.NDArray[np.intp]:
        """Row indices of one unit, in file order."""
        return np.flatnonzero(self.unit == unit)


def parse_array(raw: FloatArray) -> CmapssData:
    """Split a (rows, 26) array into a :class:`CmapssData`, checking the layout."""
    if raw.ndim != 2 or raw.shape[1] != len(COLUMNS):
        raise CmapssFormatError(f"expected {len(COLUMNS)} columns, got shape {raw.shape}")
    unit = raw[:, 0].astype(np.int64)
    cycle = raw[:, 1].astype(np.int64)
    for u in np.unique(unit):
        c = cycle[unit == u]
        if not np.array_equal(c, np.arange(1, c.size + 1)):
            raise CmapssFormatError(f"unit {u}: cycles must run 1, 2, 3, ... without gaps")
    return CmapssData(
        unit=unit,
        cycle=cycle,
        ops=np.ascontiguousarray(raw[:, 2:5], dtype=np.float64),
        sensors=np.ascontiguousarray(raw[:, 5:], dtype=np.float64),
    )


def load_cmapss(path: str | Path) -> CmapssData:
    """Load a ``train_FD00x.txt`` / ``test_FD00x.txt`` file."""
    raw = np.loadtxt(Path(path), dtype=np.float64, ndmin=2)
    return parse_array(raw)


def load_rul(path: str | Path) -> FloatArray:
    """Load ``RUL_FD00x.txt``: one true RUL per test unit, unit *i* on line *i*."""
    return np.loadtxt(Path(path), dtype=np.float64, ndmin=1).reshape(-1)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file (recorded in the model metadata)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rul_targets(data: CmapssData) -> FloatArray:
    """Run-to-failure RUL per row of a training file: ``last_cycle(unit) - cycle``."""
    rul = np.empty(data.unit.size, dtype=np.float64)
    for u in data.units:
        rows = data.rows_of(u)
        rul[rows] = data.cycle[rows].max() - data.cycle[rows]
    return rul
