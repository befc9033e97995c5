"""``--db-flavor=plain|timescale``: the database every e2e stack of this run uses.

``plain`` (the default) starts the embedded PostgreSQL without TimescaleDB even when it is
installed (which is the "installed but not preloaded" case); ``timescale`` preloads it and
fails ``fieldflow up`` when it is not installed (``make timescale``)."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db-flavor", choices=("plain", "timescale"), default="plain",
                     help="database of the e2e stacks: plain PostgreSQL or TimescaleDB")


def pytest_configure(config: pytest.Config) -> None:
    # Every stack the tests start copies os.environ (tests/e2e/conftest.py stack_env).
    flavor = config.getoption("--db-flavor")
    os.environ["FIELDFLOW_TIMESCALEDB"] = "on" if flavor == "timescale" else "off"


@pytest.fixture(scope="session")
def db_flavor(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db-flavor"))
