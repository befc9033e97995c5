"""``fieldflow bench table``: the README's "Measured here" table, regenerated from the
benchmarks' own ``--json`` output.

``docs/results/table.toml`` lists the rows: what is measured, the command that measures
it, the JSON file that command writes (``--json docs/results/NAME.json`` is appended when
the row is run) and a template for the figure (``str.format`` over the JSON: ``{p99_ms:,.0f}``,
``{stages[stored][p99_ms]}``). Nothing in the table is typed by hand:

- ``fieldflow bench table`` renders README.md between its two markers from the JSON files;
- ``fieldflow bench table --run e2e-20k [...]`` (or ``--run all``) runs those rows'
  commands first, stamping each JSON with the date and the load average around the run;
- ``fieldflow bench table --check`` exits 1 when README.md is not what the JSON files say
  (a unit test runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results"
MANIFEST = RESULTS / "table.toml"
README = REPO / "README.md"
START = "<!-- measured-here:start (fieldflow bench table) -->"
END = "<!-- measured-here:end -->"
STAMP = "_measured"


@dataclass(frozen=True)
class Row:
    name: str
    what: str
    command: str
    figure: str
    link: str = ""
    env: dict[str, str] = field(default_factory=dict)  # set for the command
    # Run in a new, empty FIELDFLOW_HOME (its own stack, a database holding nothing from
    # earlier runs), with this home's trained fault model, so the first start does not
    # train one in the background of the measurement.
    fresh_home: bool = False

    @property
    def shown(self) -> str:
        """The command as a reader types it (with its environment)."""
        prefix = "".join(f"{k}={v} " for k, v in self.env.items())
        home = "FIELDFLOW_HOME=$(mktemp -d) " if self.fresh_home else ""
        return f"{home}{prefix}{self.command}"

    @property
    def json_path(self) -> Path:
        return RESULTS / f"{self.name}.json"


def load_rows(manifest: Path = MANIFEST) -> list[Row]:
    data = tomllib.loads(manifest.read_text())
    rows = [Row(**r) for r in data.get("row", [])]
    names = [r.name for r in rows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{manifest}: row names must be unique: {', '.join(dupes)}")
    return rows


def figure_text(row: Row, result: dict[str, Any] | None) -> str:
    """The figure cell: the template filled from the JSON, with when and how busy."""
    if result is None:
        return f"not measured yet (`fieldflow bench table --run {row.name}`)"
    try:
        text = row.figure.format(**result)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise ValueError(f"row {row.name!r}: template {row.figure!r} does not fit "
                         f"{row.json_path.name}: {e!r}") from e
    stamp = result.get(STAMP)
    if isinstance(stamp, dict):
        text += f" ({stamp['date']}, load average {stamp['loadavg_before']:.1f})"
    return text


def render(rows: list[Row], results: dict[str, dict[str, Any] | None]) -> str:
    """The markdown between the markers (markers excluded)."""
    lines = [
        "| what | figure | command |",
        "| --- | --- | --- |",
    ]
    for row in rows:
        link = f" ([details]({row.link}))" if row.link else ""
        cell = figure_text(row, results.get(row.name))
        lines.append(f"| {row.what} | {cell} | `{row.shown}`{link} |")
    lines.append("")
    lines.append("Every figure comes from the JSON its command writes under `docs/results/`; "
                 "`fieldflow bench table --run NAME` re-measures a row (`--run all`: every "
                 "row) and rewrites this table.")
    return "\n".join(lines)


def splice(readme: str, table: str) -> str:
    try:
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"README.md lacks the markers {START!r} ... {END!r}") from None
    return f"{head}{START}\n{table}\n{END}{tail}"


def read_results(rows: list[Row]) -> dict[str, dict[str, Any] | None]:
    out: dict[str, dict[str, Any] | None] = {}
    for row in rows:
        path = row.json_path
        out[row.name] = json.loads(path.read_text()) if path.exists() else None
    return out


def fresh_env(home: Path) -> dict[str, str]:
    """The environment of a row run in the empty ``home``: the fault model stays this
    home's when it is trained (else the new stack trains one, as any first start does)."""
    from stack.settings import get_settings

    model = get_settings().resolved_fault_model_path
    return {"FIELDFLOW_HOME": str(home),
            **({"FIELDFLOW_FAULT_MODEL_PATH": str(model)} if model.exists() else {})}


def settle(below: float = 1.0, longest_s: float = 180.0) -> None:
    """Wait for the machine to go quiet (the 1-minute load average under ``below``, at most
    ``longest_s``): rows run back to back otherwise start while the previous row's stack
    is still stopping, and its load average is still in the next row's figures."""
    deadline = time.monotonic() + longest_s
    if os.getloadavg()[0] >= below:
        print(f"bench table: waiting for the load average ({os.getloadavg()[0]:.1f}) to fall"
              f" under {below}", flush=True)
    while os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)


def run_row(row: Row) -> None:
    """Run the row's command with ``--json`` pointing at its file, then stamp the file."""
    argv = shlex.split(row.command)
    if argv[0] != "fieldflow":
        raise ValueError(f"row {row.name!r}: commands start with 'fieldflow': {row.command}")
    before = os.getloadavg()[0]
    print(f"bench table: {row.name}: {row.command}", flush=True)
    home = Path(tempfile.mkdtemp(prefix="fieldflow-bench-"))
    home.chmod(0o755)  # the embedded PostgreSQL runs as an unprivileged user under root
    out = home / "result.json"
    try:
        env = {**os.environ, **row.env, **(fresh_env(home) if row.fresh_home else {})}
        done = subprocess.run([sys.executable, "-m", "stack.cli", *argv[1:], "--json", str(out)],
                              cwd=REPO, env=env, check=False)
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f"bench table: {row.name} failed (exit {done.returncode}); "
                             f"{row.json_path.name} and the table are unchanged")
        result = json.loads(out.read_text())
    finally:
        if row.fresh_home:
            subprocess.run([sys.executable, "-m", "stack.cli", "down"], cwd=REPO, env=env,
                           capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    result[STAMP] = {"date": time.strftime("%Y-%m-%d"), "loadavg_before": before,
                     "loadavg_after": os.getloadavg()[0], "cpus": os.cpu_count()}
    row.json_path.parent.mkdir(parents=True, exist_ok=True)
    row.json_path.write_text(json.dumps(result, indent=2) + "\n")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fieldflow bench table", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", nargs="+", metavar="NAME",
                   help="re-measure these rows first ('all' for every row)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if README.md differs from what the JSON files say")
    p.add_argument("--out-dir", help=argparse.SUPPRESS)  # passed by `fieldflow bench`
    args = p.parse_args(argv)
    rows = load_rows()
    if args.run:
        known = {r.name: r for r in rows}
        wanted = list(known) if args.run == ["all"] else args.run
        unknown = [n for n in wanted if n not in known]
        if unknown:
            p.error(f"unknown rows {', '.join(unknown)}; known: {', '.join(known)}")
        for name in wanted:
            settle()
            run_row(known[name])
    readme = README.read_text()
    wanted_readme = splice(readme, render(rows, read_results(rows)))
    if args.check:
        if wanted_readme != readme:
            print("README.md's 'Measured here' table is not what docs/results/ says: "
                  "run `fieldflow bench table`", file=sys.stderr)
            return 1
        print("README.md's table matches docs/results/")
        return 0
    README.write_text(wanted_readme)
    print(f"bench table: {len(rows)} rows written to {README}")
    return 0
