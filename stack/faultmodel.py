"""``fieldflow train-fault-model``: the fault model's CLI with FieldFlow's default paths.

The model goes to ``settings.resolved_fault_model_path`` (what the stream workers
load); the report and the predicted-vs-true plot go beside it unless given.
"""

from __future__ import annotations

import sys

from stack.settings import Settings, get_settings

FIRST_START_ARGS = ("--seeds", "1", "--no-baseline")


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


def trainer_argv(settings: Settings) -> list[str] | None:
    """The one-shot command that trains the missing fault model, or None when it exists.

    The supervisor runs it in the background on first start: one seed and no
    version-1.0 comparison (FD001, about a minute on a quiet 2-core machine); the stream
    workers pick the model up as soon as the file appears.
    """
    path = settings.resolved_fault_model_path
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "stack.faultmodel", "--no-progress", *FIRST_START_ARGS]


if __name__ == "__main__":
    sys.exit(main())
