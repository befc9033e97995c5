"""The embedded PostgreSQL is closed by default: a generated superuser password, checked
with scram-sha-256 for every connection (``initdb --auth=trust`` is only its birth).

Run before each start (the server is down): the password is set in single-user mode
(through stdin: never on a command line) when it is new or changed, and ``pg_hba.conf``
is rewritten to require it. Clusters made by older versions with ``trust`` are upgraded
the same way on their next start.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from stack.procs import postgres_bin_dir

HBA = (
    "# Written by fieldflow at every start (stack/pgauth.py): every connection needs the\n"
    "# password (scram-sha-256). Where the server listens is FIELDFLOW_BACKEND_HOST.\n"
    "local all all scram-sha-256\n"
    "host  all all all scram-sha-256\n"
)
MARKER = "fieldflow_password.sha256"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _owned_like(path: Path, data_dir: Path) -> None:
    """Files we write into the data dir belong to its owner (the unprivileged server)."""
    st = data_dir.stat()
    if os.geteuid() == 0:
        os.chown(path, st.st_uid, st.st_gid)


def secure_postgres(data_dir: Path, user: str | None, password: str) -> None:
    """Give the ``postgres`` role ``password`` (if new) and require it everywhere."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    marker = data_dir / MARKER
    if not marker.exists() or marker.read_text().strip() != digest:
        result = subprocess.run(
            [str(postgres_bin_dir() / "postgres"), "--single", "-D", str(data_dir),
             "-c", "password_encryption=scram-sha-256", "postgres"],
            input=f"ALTER ROLE postgres PASSWORD {_sql_literal(password)};\n",
            capture_output=True, text=True, user=user, check=False, timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"postgres: could not set the password: {result.stderr[-500:]}")
        marker.write_text(digest + "\n")
        _owned_like(marker, data_dir)
    hba = data_dir / "pg_hba.conf"
    if not hba.exists() or hba.read_text() != HBA:
        hba.write_text(HBA)
        _owned_like(hba, data_dir)
