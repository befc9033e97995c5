"""Small training run, model file and metadata, predictor, replay."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.fault.artifact import save_artifact
from models.fault.cli import DATA_DIR, main
from models.fault.cmapss import CmapssData, load_cmapss, rul_targets, sha256_file
from models.fault.features import FeatureConfig
from models.fault.metrics import rmse
from models.fault.predictor import FaultPredictor, Prediction
from models.fault.train import TrainConfig, evaluate, features_for, train
from simulators.cmapss_replay import METRIC_NAMES, replay_file, unit_readings

TRAIN = DATA_DIR / "train_FD001.txt"
TEST = DATA_DIR / "test_FD001.txt"
RUL = DATA_DIR / "RUL_FD001.txt"
SMALL = TrainConfig(max_iter=30, cv_folds=3,
                    features=FeatureConfig(mean_windows=(5, 10), slope_windows=(10,)))


def _subset(data: CmapssData, units: list[int]) -> CmapssData:
    keep = np.isin(data.unit, units)
    return CmapssData(data.unit[keep], data.cycle[keep], data.ops[keep], data.sensors[keep])


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = _subset(load_cmapss(TRAIN), list(range(1, 13)))
    model = train(data, SMALL, data_path=str(TRAIN), data_sha256=sha256_file(TRAIN))
    path = tmp_path_factory.mktemp("fault") / "m.joblib"
    save_artifact(
        path,
        regressor=model.regressor,
        classifier=model.classifier,
        spec=model.spec,
        metadata=model.metadata,
        intervals=model.intervals,
    )
    return path


def test_model_file_has_metadata(model_path: Path) -> None:
    p = FaultPredictor.load(model_path)
    m = p.metadata
    assert m.training_data_sha256 == sha256_file(TRAIN)
    assert m.horizon == 30 and m.version and m.created_at
    assert "s2" in m.sensors and "s1" not in m.sensors
    assert len(m.features) == len(m.sensors) * 5 + 1


def test_predict_batch_matches_single(model_path: Path) -> None:
    p = FaultPredictor.load(model_path)
    test = _subset(load_cmapss(TEST), [1, 2, 3, 4])
    windows = []
    for u in test.units:
        w = p.new_window()
        for i, (_cycle, metrics) in enumerate(unit_readings(test, u)):
            w.update(float(i), metrics)
        windows.append(w)
    batch = p.predict_batch(windows)
    single = [p.predict_batch([w])[0] for w in windows]
    assert all(isinstance(x, Prediction) for x in batch)
    np.testing.assert_allclose(np.array(batch), np.array(single), rtol=1e-9)
    assert all(0 <= x.rul <= 125 and 0 <= x.p_fail <= 1 for x in batch)
    # streaming windows give the same answer as batch features at the last cycle
    x = features_for(test, p.spec)[[test.rows_of(u)[-1] for u in test.units]]
    np.testing.assert_allclose(np.array(p.predict_features(x)), np.array(batch), rtol=1e-9)
    assert p.predict_batch([]) == []


def test_evaluate_small(model_path: Path) -> None:
    p = FaultPredictor.load(model_path)
    from models.fault.train import TrainedModel

    model = TrainedModel(p.regressor, p.classifier, p.spec, p.metadata)
    test = _subset(load_cmapss(TEST), [1, 2, 3])
    ev = evaluate(model, test, np.loadtxt(RUL)[:3])
    assert ev.metrics["n_test_units"] == 3 and ev.metrics["rmse"] >= 0


def test_model_beats_predicting_the_mean_on_held_out_units() -> None:
    """Trained on 20 units, scored at every cycle of 10 others: better than a constant."""
    data = load_cmapss(TRAIN)
    model = train(_subset(data, list(range(1, 21))), SMALL)
    held = _subset(data, list(range(81, 91)))
    truth = np.minimum(rul_targets(held), 125.0)
    pred = np.clip(model.regressor.predict(features_for(held, model.spec)), 0, 125)
    constant = np.minimum(rul_targets(_subset(data, list(range(1, 21)))), 125.0).mean()
    assert rmse(pred, truth) < 0.6 * rmse(np.full_like(truth, constant), truth)
    # intervals from held-out folds cover most held-out rows (nominal 90%)
    lo, hi = model.intervals.bounds(pred) if model.intervals else (pred, pred)
    assert np.mean((truth >= lo) & (truth <= hi)) > 0.7


def test_replay_yields_every_cycle() -> None:
    data = load_cmapss(TEST)
    rows = data.rows_of(7)
    cycles = list(replay_file(TEST, 7))
    assert len(cycles) == rows.size
    assert [c for c, _ in cycles] == list(range(1, rows.size + 1))
    assert tuple(cycles[0][1]) == METRIC_NAMES
    assert cycles[0][1]["s2"] == data.sensors[rows[0], 1]
    with pytest.raises(KeyError):
        next(unit_readings(data, 999))


def test_cli_rejects_missing_file(tmp_path: Path) -> None:
    assert main(["--train", str(tmp_path / "nope.txt")]) == 2


def test_cli_writes_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import models.fault.cli as cli

    def small_config(**kw: object) -> TrainConfig:
        return SMALL.model_copy(update=kw)

    monkeypatch.setattr(cli, "TrainConfig", small_config)
    train_small = tmp_path / "train.txt"
    lines = TRAIN.read_text().splitlines()
    train_small.write_text("\n".join(ln for ln in lines if int(ln.split()[0]) <= 8) + "\n")
    test_small = tmp_path / "test.txt"
    lines = TEST.read_text().splitlines()
    test_small.write_text("\n".join(ln for ln in lines if int(ln.split()[0]) <= 5) + "\n")
    rul_small = tmp_path / "rul.txt"
    rul_small.write_text("\n".join(RUL.read_text().split()[:5]) + "\n")
    report = tmp_path / "r.json"
    rc = main(
        [
            "--train",
            str(train_small),
            "--test",
            str(test_small),
            "--rul",
            str(rul_small),
            "--model",
            str(tmp_path / "m.joblib"),
            "--report",
            str(report),
            "--plot",
            str(tmp_path / "p.png"),
            "--json",
            str(tmp_path / "figures.json"),
            "--seeds",
            "2",
            "--no-baseline",
            "--no-progress",
        ]
    )
    assert rc == 0
    out = json.loads(report.read_text())
    assert {"rmse", "rmse_uncapped", "phm08_score", "n_test_units", "model_path"} <= set(out)
    assert out["n_test_units"] == 5 and (tmp_path / "p.png").stat().st_size > 1000
    assert out["inference_ms_per_update"] > 0
    assert all(p["low"] <= p["pred"] <= p["high"] or p["high"] == p["low"]
               for p in out["predictions"]) and out["intervals"]["alpha"] == 0.1
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["seeds"] == [0, 1] and figures["held_out_rmse_before"] is None
    stats = figures["summary"]["rmse"]
    assert stats["min"] <= stats["mean"] <= stats["max"] and stats["std"] >= 0
    assert figures["per_seed"][0]["rmse"] == out["rmse"]  # seed 0's model is the one saved
    assert 0 <= figures["summary"]["interval_coverage"]["mean"] <= 1
    assert len(figures["load_average"]) == 3


def test_snapshots_predict_every_cycle_like_windows_do(model_path: Path) -> None:
    """A batch with many cycles of one asset predicts each cycle, not only the last."""
    p = FaultPredictor.load(model_path)
    test = _subset(load_cmapss(TEST), [2])
    w = p.new_window()
    snaps, step_by_step = [], []
    for i, (_cycle, metrics) in enumerate(unit_readings(test, 2)):
        if w.update(float(i), metrics):
            snaps.append((w.buffer.copy(), w.n_seen))
            step_by_step.append(p.predict_batch([w])[0])
    assert len(snaps) > 10
    np.testing.assert_allclose(np.array(p.predict_snapshots(snaps)), np.array(step_by_step),
                               rtol=1e-9)
    assert p.predict_snapshots([]) == []


def _wait_loaded(loader: Any) -> Any:
    for _ in range(400):
        if not loader._loading.locked():
            break
        time.sleep(0.025)
    return loader.get()


def test_stream_loads_the_model_in_the_background_and_retries_a_bad_file(
        model_path: Path, tmp_path: Path) -> None:
    from streams.model_loader import ModelLoader

    target = tmp_path / "model.joblib"
    loader = ModelLoader(target)
    assert loader.get() is None  # no file yet: predictions wait for it
    target.write_bytes(b"not a model")
    assert loader.get() is None and _wait_loaded(loader) is None  # bad file: retry later
    assert loader.retry_at > 0
    target.write_bytes(model_path.read_bytes())
    loader.retry_at = 0.0
    assert loader.get() is None  # the load runs in a thread, not in the caller
    assert isinstance(_wait_loaded(loader), FaultPredictor)


def test_readings_before_the_model_is_loaded_are_replayed_not_lost(
        model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from models.messages import Reading
    from streams import predictions as preds
    from streams.context import ctx
    from streams.state import ReadingsState

    seen: list[int] = []
    state = ReadingsState.new(ctx.settings, 0)  # one partition's state
    monkeypatch.setattr(ctx.caches, "registry", {"d1": {"fault_model": "cmapss_fd001"}})
    monkeypatch.setattr(state.alerts, "process_prediction",
                        lambda _d, ts, _p, **_kw: seen.append(ts) or [])

    async def no_db(fn: Any, **_kw: Any) -> None:
        return None

    monkeypatch.setattr(preds, "retry_db", no_db)
    test = _subset(load_cmapss(TEST), [2])
    readings = [Reading(device_id=d, ts=1_795_425_600_000 + i * 10_000, metrics=m)
                for i, (_c, m) in enumerate(unit_readings(test, 2)) for d in ("d1", "other")]
    half = len(readings) // 2
    monkeypatch.setattr(preds, "predictor", lambda: None)  # still training / loading
    asyncio.run(preds.predict_failures(state, readings[:half]))
    assert seen == [] and set(state.pending) == {"d1"}  # unwatched devices are not kept
    model = FaultPredictor.load(model_path)
    monkeypatch.setattr(preds, "predictor", lambda: model)
    assert state.pending
    asyncio.run(preds.predict_failures(state, []))  # the tick: no reading needs to follow
    assert seen and not state.pending
    asyncio.run(preds.predict_failures(state, readings[half:]))
    d1 = [r.ts for r in readings if r.device_id == "d1"]
    assert state.pending == {} and seen == d1[len(d1) - len(seen):]
    assert seen[0] < readings[half].ts  # predictions for readings from before the model
