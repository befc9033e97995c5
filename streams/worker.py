"""``python -m streams.worker``: one faust worker running every agent."""

from __future__ import annotations

import faust

from stack.logs import setup_logging
from stack.settings import get_settings
from streams import (  # noqa: F401 - registers the agents
    automation,
    checkins,
    etas,
    positions,
    predictions,
    readings,
)
from streams.app import app


@app.task
async def _announce_ready() -> None:
    s = get_settings()
    s.run_dir.mkdir(parents=True, exist_ok=True)
    (s.run_dir / "worker.ready").write_text("ready\n")


def main() -> None:
    s = get_settings()
    setup_logging(s.log_level)
    worker = faust.Worker(app, loglevel=s.log_level, quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
