"""Session fixture: a real embedded PostgreSQL with the migrations applied, and nothing
else (no Kafka, no MQTT, no API): for tests of the use cases' transactions."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import bootstrap
from stack.procs import free_port
from stack.settings import Settings
from stack.supervisor import Supervisor
from store.migrate import migrate


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="fieldflow-pg-") as home:
        settings = Settings(home=Path(home), postgres_port=free_port())
        sup = Supervisor(settings)
        sup.start_postgres()
        try:
            bootstrap.ensure_database(settings)
            migrate(settings.resolved_database_url)
            yield settings.resolved_database_url
        finally:
            sup.stop_all()
