"""The supervisor's watch loop: restarts, one-shot jobs, and the first-start trainer."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from stack.faultmodel import trainer_argv
from stack.procs import Service
from stack.settings import Settings
from stack.supervisor import Supervisor


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(home=tmp_path, **kw)  # type: ignore[arg-type]


def _run_to_exit(sup: Supervisor, svc: Service, code: int) -> None:
    svc.argv = [sys.executable, "-c", f"raise SystemExit({code})"]
    sup.services.append(svc)
    svc.start(sup.settings.log_dir)
    assert svc.proc is not None
    svc.proc.wait(10)


def test_oneshot_success_is_done_and_not_restarted(tmp_path: Path) -> None:
    sup = Supervisor(_settings(tmp_path))
    svc = Service("job", [], ready=lambda: True, oneshot=True)
    _run_to_exit(sup, svc, 0)
    sup.watch()
    sup.watch()
    assert svc.state == "done" and svc.restarts == 0


def test_oneshot_failure_is_failed(tmp_path: Path) -> None:
    sup = Supervisor(_settings(tmp_path))
    svc = Service("job", [], ready=lambda: True, oneshot=True)
    _run_to_exit(sup, svc, 2)
    sup.watch()
    assert svc.state == "failed"


def test_restartable_service_is_restarted_once_per_exit(tmp_path: Path) -> None:
    sup = Supervisor(_settings(tmp_path))
    svc = Service("app", [], ready=lambda: True, restart=True)
    _run_to_exit(sup, svc, 1)
    sup.watch()
    assert svc.restarts == 1
    assert svc.proc is not None
    svc.proc.wait(10)
    sup.watch()
    assert svc.restarts == 2


def test_exited_service_is_reported_once(tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    sup = Supervisor(_settings(tmp_path))
    svc = Service("sim", [], ready=lambda: True)
    _run_to_exit(sup, svc, 3)
    for _ in range(3):
        sup.watch()
        time.sleep(0.01)
    assert svc.state == "exited (3)"
    records = [r for r in caplog.records if "not restarted" in r.getMessage()]
    assert len(records) == 1


def test_trainer_runs_only_when_the_model_is_missing(tmp_path: Path) -> None:
    model = tmp_path / "models" / "fault.joblib"
    s = _settings(tmp_path, fault_model_path=model)
    argv = trainer_argv(s)
    assert argv is not None and argv[-5:] == ["stack.faultmodel", "--no-progress", "--seeds", "1",
                                              "--no-baseline"]
    assert model.parent.is_dir()
    model.write_bytes(b"x")
    assert trainer_argv(s) is None
