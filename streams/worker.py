"""``python -m streams.worker``: one stream worker (the telemetry consumers, the faust
agent on ``events.alerts`` and the timers). Run N of them: they share the partitions of
every topic through their consumer groups (``fieldflow up --workers N``)."""

from __future__ import annotations

import logging
import os
import time

import faust

from stack.gctune import freeze_startup_objects, tune_gc
from stack.logs import setup_logging
from streams import automation, positions, predictions, readings, sla_watch  # noqa: F401 - registers the agents
from streams.app import app
from streams.context import ctx
from streams.timers import keep_running

log = logging.getLogger("fieldflow.streams.worker")
WATCHDOG_S = 90.0


def _assigned() -> bool:
    return bool(ctx.positions.owned or ctx.readings.owned or app.consumer.assignment())


@app.timer(interval=10.0)
@keep_running
async def watchdog() -> None:
    """Exit (the supervisor restarts us) when the worker has held no partition for
    ``WATCHDOG_S``: a worker that silently left its groups must not sit idle forever."""
    if _assigned():
        ctx.unassigned_since = None
        return
    now = time.monotonic()
    ctx.unassigned_since = ctx.unassigned_since or now
    if now - ctx.unassigned_since > WATCHDOG_S:
        log.error("no partitions assigned for %.0fs: exiting so the supervisor restarts us",
                  now - ctx.unassigned_since)
        os._exit(3)


@app.task
async def _announce_ready() -> None:
    s = ctx.settings
    predictions.predictor()  # start loading the fault model now, not on the first reading
    s.run_dir.mkdir(parents=True, exist_ok=True)
    ctx.report_assignment()
    freeze_startup_objects()
    (s.run_dir / f"{ctx.name}.ready").write_text("ready\n")


def main() -> None:
    s = ctx.settings
    setup_logging(s.log_level)
    tune_gc()
    worker = faust.Worker(app, loglevel=s.log_level, quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
