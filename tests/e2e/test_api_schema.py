"""Schemathesis fuzzes every operation of /openapi.json: no answer may be a 5xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Stack

pytestmark = pytest.mark.e2e


def test_no_server_errors_under_fuzzing(stack: Stack, tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(cli), "run", f"{stack.api_url}/openapi.json",
            "--checks", "not_a_server_error",
            "--header", f"Authorization: Bearer {stack.admin_token}",
            "--max-examples", "12",
            "--max-time", "75",
            "--workers", "2",
            "--seed", "7",
            "--request-timeout", "40",  # a day plan may solve for up to 30 s
            "--no-shrink",
            "--continue-on-failure",
            "--suppress-health-check", "all",
            "--warnings", "off",
            "--report-dir", str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=150,
    )
    out = result.stdout
    tail = out[-6000:]
    assert "Server error" not in out, tail
    assert "FAILURES" not in out, tail
    # A crash inside schemathesis itself (seen once on CPython 3.11: "SystemError: AST
    # constructor recursion depth mismatch" in its coverage phase) is its bug, not a 5xx:
    # tolerated only when no check failed and operations were really exercised.
    tool_crash_only = "Runtime Error" in out and " passed" in out
    assert result.returncode == 0 or tool_crash_only, tail
