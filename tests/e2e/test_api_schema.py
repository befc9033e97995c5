"""Schemathesis fuzzes every operation of /openapi.json with every role's token: no
answer may be a 5xx (the admin run is the long one; the other roles mostly meet 403s
and scoped 404s, which must stay 4xx too).

The stack is the session's, shared with every other test: the admin run uses an admin of
its own, and leaves out revoking tokens and disabling users. Token ids are small integers,
so a fuzzed ``DELETE /tokens/{id}`` once revoked the session's bootstrap token and every
later test got 401 (CI, 2026-12-04). Those two are covered by test_hardening_tokens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Stack
from tests.e2e.test_api_world import make_world, ok, uid

pytestmark = pytest.mark.e2e
ROLES = ("admin", "dispatcher", "engineer", "customer", "device")


def _token(stack: Stack, role: str) -> str:
    w = make_world(stack, engineers=1)
    if role == "engineer":
        return w.tokens[w.engineers[0]]
    user = uid(role)
    extra = {"customer_id": w.customer} if role == "customer" else {}
    with stack.api() as api:
        ok(api.post("/api/v1/users", json={"id": user, "name": role, "role": role, **extra}),
           201)
        return str(ok(api.post(f"/api/v1/users/{user}/tokens", json={}), 201)["token"])


@pytest.mark.parametrize("role", ROLES)
def test_no_server_errors_under_fuzzing(stack: Stack, tmp_path: Path, role: str) -> None:
    token = _token(stack, role)
    long_run = role == "admin"
    cli = Path(sys.executable).parent / "schemathesis"
    shared_state = (["--exclude-path", "/api/v1/tokens/{token_id}",
                     "--exclude-path", "/api/v1/users/{user_id}/disable"] if long_run else [])
    result = subprocess.run(
        [
            str(cli), "run", f"{stack.api_url}/openapi.json",
            "--checks", "not_a_server_error",
            "--header", f"Authorization: Bearer {token}",
            "--max-examples", "12" if long_run else "5",
            "--max-time", "75" if long_run else "35",
            "--workers", "2",
            "--seed", "7",
            "--request-timeout", "40",  # a day plan may solve for up to 30 s
            "--no-shrink",
            "--continue-on-failure",
            "--suppress-health-check", "all",
            "--warnings", "off",
            "--report-dir", str(tmp_path),
            *shared_state,
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
