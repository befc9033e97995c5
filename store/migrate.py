"""Ordered SQL migrations tracked in ``schema_migrations``.

Files are ``NNN_name.sql``; ``NNN_name.timescale.sql`` files run only when
``CREATE EXTENSION timescaledb`` succeeds, so plain PostgreSQL keeps working and a
database that gains the extension later is upgraded on the next ``migrate``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# One advisory lock key so two processes never migrate at once.
_LOCK_KEY = 0x6669656C64


@dataclass(frozen=True)
class MigrationResult:
    applied: list[str]
    timescale: bool


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(directory.glob("*.sql"), key=lambda p: p.name)


def _timescale_available(conn: psycopg.Connection) -> bool:
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        return True
    except psycopg.Error as exc:
        log.info(
            "TimescaleDB not available (%s); using plain PostgreSQL tables",
            str(exc).splitlines()[0],
        )
        return False


def migrate(database_url: str, directory: Path = MIGRATIONS_DIR) -> MigrationResult:
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            timescale = _timescale_available(conn)
            for path in migration_files(directory):
                version = path.name.removesuffix(".sql")
                if version in done:
                    continue
                if version.endswith(".timescale") and not timescale:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                log.info("applied migration %s", version)
                applied.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return MigrationResult(applied=applied, timescale=timescale)
