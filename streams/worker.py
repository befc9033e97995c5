"""``python -m streams.worker``: one faust worker running every agent."""

from __future__ import annotations

import logging
import os
import time

import faust

from stack.logs import setup_logging
from stack.settings import get_settings
from streams import automation, positions, predictions, readings, sla_watch  # noqa: F401 - registers the agents
from streams.app import app
from streams.timers import keep_running

log = logging.getLogger("fieldflow.streams.worker")


_unassigned_since: float | None = None
WATCHDOG_S = 90.0


@app.timer(interval=10.0)
@keep_running
async def watchdog() -> None:
    """Exit (the supervisor restarts us) when the consumer has held no partition for
    ``WATCHDOG_S``: a worker that silently left its group must not sit idle forever."""
    global _unassigned_since
    if app.consumer.assignment():
        _unassigned_since = None
        return
    now = time.monotonic()
    _unassigned_since = _unassigned_since or now
    if now - _unassigned_since > WATCHDOG_S:
        log.error("no partitions assigned for %.0fs: exiting so the supervisor restarts us",
                  now - _unassigned_since)
        os._exit(3)


@app.task
async def _announce_ready() -> None:
    s = get_settings()
    predictions.predictor()  # start loading the fault model now, not on the first reading
    s.run_dir.mkdir(parents=True, exist_ok=True)
    (s.run_dir / "worker.ready").write_text("ready\n")


def main() -> None:
    s = get_settings()
    setup_logging(s.log_level)
    worker = faust.Worker(app, loglevel=s.log_level, quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
