"""Secret files and redaction (pure helpers plus one file writer).

Secret files (the admin token, the PostgreSQL password, MQTT passwords, the state file)
are created with mode 0600 from the start (``os.open`` with ``O_EXCL``), never written
world-readable and chmod'ed afterwards. Logs and the plain ``fieldflow status`` show URLs
and tokens redacted; ``fieldflow status --json`` (for scripts, readable only by whoever
can read the 0600 state) keeps them.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)(?P<pw>[^\s@/]+)(?=@)")
_BEARER = re.compile(r"(?i)(?P<head>\bbearer[ .])(?P<pw>[A-Za-z0-9_\-.~+/=]{8,})")
_QUERY_TOKEN = re.compile(r"(?i)(?P<head>[?&](?:token|password)=)(?P<pw>[^&\s]+)")
MASK = "***"


def redact(text: str) -> str:
    """``text`` with URL passwords, bearer tokens and ``token=`` query values masked."""
    for pattern in (_URL_PASSWORD, _BEARER, _QUERY_TOKEN):
        text = pattern.sub(lambda m: m["head"] + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record (installed on the root handlers by setup_logging)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def write_private(path: Path, text: str) -> None:
    """Write ``path`` as a new 0600 file (atomically replacing an older one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


def read_or_create(path: Path, make: object) -> str:
    """The secret stored in ``path``; created (0600) by ``make()`` when missing."""
    if path.exists():
        return path.read_text().strip()
    value = str(make() if callable(make) else make)
    write_private(path, value + "\n")
    return value
