"""``fieldflow train-fault-model``: the fault model's CLI with FieldFlow's default paths.

The model goes to ``settings.resolved_fault_model_path`` (what the stream workers
load); the report and the predicted-vs-true plot go beside it unless given.
"""

from __future__ import annotations

import logging
import subprocess
import sys

from stack.settings import Settings, get_settings

log = logging.getLogger("fieldflow.up")


def _with_defaults(argv: list[str], settings: Settings) -> list[str]:
    args = list(argv)
    if {"-h", "--help"} & set(args):
        return args
    model = settings.resolved_fault_model_path
    if "--model" not in args:
        args += ["--model", str(model)]
    if "--report" not in args:
        args += ["--report", str(model.with_suffix(".report.json"))]
    if "--plot" not in args:
        args += ["--plot", str(model.with_suffix(".png"))]
    return args


def main(argv: list[str] | None = None) -> int:
    from models.fault.cli import main as train

    return train(_with_defaults(list(sys.argv[1:] if argv is None else argv), get_settings()))


def ensure_model(settings: Settings) -> None:
    """Train the fault model on first start (FD001, about 10-60 s) if it is missing."""
    path = settings.resolved_fault_model_path
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    logfile = settings.log_dir / "train-fault-model.log"
    log.info("fault model: none at %s; training it on data/cmapss FD001 (first start only, "
             "see %s)", path, logfile)
    with logfile.open("ab") as out:
        subprocess.run([sys.executable, "-m", "stack.faultmodel", "--no-progress"],
                       stdout=out, stderr=subprocess.STDOUT, check=True,
                       env={**_env(settings)})
    log.info("fault model: trained (%s)", path)


def _env(settings: Settings) -> dict[str, str]:
    import os

    return {**os.environ, "FIELDFLOW_HOME": str(settings.home_dir),
            "FIELDFLOW_FAULT_MODEL_PATH": str(settings.resolved_fault_model_path)}


if __name__ == "__main__":
    sys.exit(main())
