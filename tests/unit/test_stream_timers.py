"""``keep_running``: a failing stream timer logs and runs again; it never stops the worker."""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest

from streams.timers import keep_running


def test_an_exception_is_logged_and_the_next_run_still_happens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []

    @keep_running
    async def sweep() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise KeyError("boom")

    with caplog.at_level(logging.ERROR, logger="fieldflow.streams.timers"):
        asyncio.run(sweep())  # raises nothing
        asyncio.run(sweep())
    assert runs == [0, 1]
    (record,) = caplog.records
    assert "sweep failed" in record.getMessage() and record.exc_info is not None


def test_cancellation_goes_through_and_faust_sees_no_arguments() -> None:
    @keep_running
    async def stopping() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(stopping())
    # faust passes the app to a task whose signature takes an argument.
    assert stopping.__name__ == "stopping" and not inspect.signature(stopping).parameters
