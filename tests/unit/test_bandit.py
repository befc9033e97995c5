"""bandit at medium severity and up finds nothing that is not explained in place
(``# nosec <id>`` with the reason, docs/security.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What runs in a deployment (bench/ is a developer tool run against one's own stack).
PACKAGES = ("api", "ingest", "services", "store", "streams", "stack", "models", "dispatch",
            "simulators")


@pytest.mark.skipif(shutil.which("bandit") is None and not (Path(sys.executable).parent
                                                             / "bandit").exists(),
                    reason="bandit is in the dev extra")
def test_bandit_medium_and_up_is_clean() -> None:
    exe = str(Path(sys.executable).parent / "bandit")
    result = subprocess.run(
        [exe if Path(exe).exists() else "bandit", "-q", "-r", *PACKAGES,
         "--severity-level", "medium", "-f", "json"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(result.stdout)
    found = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
             for r in report["results"]]
    assert not found, "\n".join(found)
