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
    """Create the extension when the server can load it; False (plain PostgreSQL) otherwise.

    A server with the library installed but not in ``shared_preload_libraries`` answers
    ``CREATE EXTENSION timescaledb`` with a FATAL that closes the connection, so that case
    is recognised from the catalog first and never tried."""
    row = conn.execute(
        "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),"
        " EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),"
        " current_setting('shared_preload_libraries')"
    ).fetchone()
    assert row is not None
    created, available, preloaded = row
    if created:
        return True
    if not available:
        log.info("TimescaleDB not installed; using plain PostgreSQL tables")
        return False
    if "timescaledb" not in str(preloaded):
        log.warning(
            "TimescaleDB is installed but not in shared_preload_libraries; using plain "
            "PostgreSQL tables (start the server with shared_preload_libraries=timescaledb)"
        )
        return False
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        return True
    except psycopg.Error as exc:
        log.warning(
            "TimescaleDB not available (%s); using plain PostgreSQL tables",
            str(exc).splitlines()[0],
        )
        return False


def apply_retention(database_url: str, days: dict[str, int]) -> None:
    """Retention policies (drop raw chunks older than ``days[table]``) on the telemetry
    hypertables; replaces any earlier policy so a changed setting takes effect on the
    next ``migrate``. Does nothing on plain PostgreSQL."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        hypertables = {
            r[0] for r in conn.execute(
                "SELECT hypertable_name::text FROM timescaledb_information.hypertables"
            )
        } if _has_extension(conn) else set()
        for table, keep in days.items():
            if table not in hypertables:
                continue
            with conn.transaction():
                conn.execute("SELECT remove_retention_policy(%s::regclass, if_exists => true)",
                             (table,))
                conn.execute("SELECT add_retention_policy(%s::regclass, make_interval(days => %s))",
                             (table, keep))


def _has_extension(conn: psycopg.Connection) -> bool:
    return conn.execute(
        "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone() is not None


def migrate(
    database_url: str, directory: Path = MIGRATIONS_DIR, *, timescale_wanted: bool = True
) -> MigrationResult:
    """Apply what is missing; ``timescale_wanted=False`` keeps a preloading server's
    database on plain tables (``fieldflow bench store`` compares the two side by side)."""
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            timescale = timescale_wanted and _timescale_available(conn)
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
