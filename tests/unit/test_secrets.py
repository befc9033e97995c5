"""Secret files are born 0600; secrets are masked in logs and plain status output."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from stack.secrets import MASK, RedactingFilter, read_or_create, redact, write_private


def test_redact_masks_url_passwords_bearer_tokens_and_query_tokens() -> None:
    text = ("postgresql://postgres:s3cr3t-pw@127.0.0.1:5432/fieldflow and "
            "mqtt://fleet-sim:abcDEF123@h:1883 Authorization: Bearer abcdefghijklmnop "
            "GET /ws/live?token=tok123456&x=1")
    out = redact(text)
    for secret in ("s3cr3t-pw", "abcDEF123", "abcdefghijklmnop", "tok123456"):
        assert secret not in out
    assert f"postgresql://postgres:{MASK}@127.0.0.1:5432/fieldflow" in out
    assert "&x=1" in out
    assert redact("postgresql://postgres@h:1/db") == "postgresql://postgres@h:1/db"


def test_filter_masks_formatted_log_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "using %s", ("mqtt://u:pw1@h",),
                               None)
    RedactingFilter().filter(record)
    assert record.getMessage() == f"using mqtt://u:{MASK}@h"


def test_secret_files_are_created_0600(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask
    try:
        path = tmp_path / "sub" / "secret"
        write_private(path, "x\n")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert read_or_create(tmp_path / "other", lambda: "made") == "made"
        assert stat.S_IMODE((tmp_path / "other").stat().st_mode) == 0o600
        assert read_or_create(tmp_path / "other", lambda: "again") == "made"
    finally:
        os.umask(old)
