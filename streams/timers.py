"""Timers never stop the worker: ``@keep_running`` under ``@app.timer``.

faust stops the whole worker when a timer raises. A timer wrapped in
:func:`keep_running` logs the exception and runs again at its next interval, as the
agents' stages do with ``deadletter.guarded``. Database outages never get here: the
timers wait them out with ``store.db.retry_db``.

    @app.timer(interval=2.0)
    @keep_running
    async def release_quiet_engineers() -> None: ...
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("fieldflow.streams.timers")

Timer = Callable[[], Awaitable[None]]


def keep_running(timer: Timer) -> Timer:
    """Run ``timer``; an exception is logged (with its traceback), never raised."""

    @functools.wraps(timer)  # faust reads the signature through __wrapped__: no arguments
    async def run() -> None:
        try:
            await timer()
        except Exception:  # CancelledError (shutdown) is a BaseException and goes through
            log.exception("timer %s failed; it runs again at its next interval",
                          timer.__name__)

    return run
