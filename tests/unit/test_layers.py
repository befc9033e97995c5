"""The layers of DESIGN.md §7, kept by the import-linter contracts in pyproject.toml.

The project's own tree must keep every contract; a copy of it with one forbidden import
added (a router importing the streams, ingest importing the API, a layer importing one
above it) must break one, so the contracts are known to catch what they are meant to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "dispatch", "store", "services", "ingest", "streams", "api", "stack",
            "simulators", "bench")
LAYERS = "Layers (DESIGN.md 7)"
SETTINGS = "Settings below every layer"
RUN = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages under ``root`` (found there before the checkout)."""
    return subprocess.run(
        [sys.executable, "-c", RUN, "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages' Python files and pyproject.toml, outside the checkout."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copy(REPO / "pyproject.toml", root)
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.sql", "static", "*.pb2*"))
    return root


@pytest.mark.parametrize(
    ("module", "line", "contract", "reported"),
    [
        ("api/routers/customers.py", "import streams.alerts", LAYERS,
         "api.routers.customers -> streams.alerts"),
        ("ingest/bridge.py", "import api.app", LAYERS, "ingest.bridge -> api.app"),
        ("streams/geofence.py", "from api import deps", LAYERS, "streams.geofence -> api.deps"),
        ("store/sql.py", "import services.catalog", LAYERS, "store.sql -> services.catalog"),
        ("models/geo.py", "import dispatch.types", LAYERS, "models.geo -> dispatch.types"),
        ("services/catalog.py", "import api.listing", LAYERS,
         "services.catalog -> api.listing"),
        ("stack/settings.py", "import store.sql", SETTINGS, "stack.settings -> store.sql"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    copy: Path, module: str, line: str, contract: str, reported: str
) -> None:
    path = copy / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # the violation under test\n")
    try:
        done = lint_imports(copy)
    finally:
        path.write_text(original)
    assert done.returncode != 0, done.stdout
    assert f"{contract} BROKEN" in done.stdout, done.stdout
    assert reported in done.stdout, done.stdout
