"""Agent ``predict_failures``: the fault model on every reading of a watched asset.

Each reading updates its asset's window (:class:`models.fault.features.AssetWindow`);
ready windows are predicted in one batched call per ``take()`` batch. A predicted RUL
below ``fault_rul_alert_cycles`` or a failure probability past the threshold goes
through the same deduplicating :class:`~streams.alerts.AlertProcessor` as the rules
(``raise_alerts``), as a ``predicted_failure`` alert, which becomes a work order.
"""

from __future__ import annotations

import logging

import faust

from models.fault.features import AssetWindow, IncompleteReadingError
from models.fault.predictor import FaultPredictor
from models.messages import AlertEvent
from stack.settings import get_settings
from store.db import retry_db
from streams.app import app
from streams.readings import alerts, apply_alerts, decode_readings, readings_topic, registry

log = logging.getLogger("fieldflow.streams.predictions")
_s = get_settings()
_windows: dict[str, AssetWindow] = {}
_predictor: FaultPredictor | None = None


def predictor() -> FaultPredictor | None:
    global _predictor
    if _predictor is None:
        path = _s.resolved_fault_model_path
        if not path.exists():
            return None
        _predictor = FaultPredictor.load(path)
        log.info("fault model loaded from %s (version %s, rmse %.2f)", path,
                 _predictor.metadata.version, _predictor.metadata.metrics.get("rmse", float("nan")))
    return _predictor


@app.agent(readings_topic)
async def predict_failures(stream: faust.StreamT[bytes]) -> None:
    model = predictor()
    if model is None:
        log.warning("no fault model at %s: predictions off (fieldflow train-fault-model)",
                    _s.resolved_fault_model_path)
    async for values in stream.take(_s.worker_batch_size, within=_s.worker_batch_seconds):
        if model is None:
            continue
        good, _bad = decode_readings(values)  # persist_readings dead-letters the bad ones
        ready: dict[str, AssetWindow] = {}
        last_ts: dict[str, int] = {}
        for reading in sorted(good, key=lambda r: r.ts):
            device = registry.get(reading.device_id)
            if not device or not device.get("fault_model"):
                continue
            window = _windows.setdefault(reading.device_id, model.new_window())
            try:
                if window.update(reading.ts, reading.metrics):
                    ready[reading.device_id] = window
                    last_ts[reading.device_id] = reading.ts
            except IncompleteReadingError as exc:
                log.warning("device %s: reading skipped by the fault model: %s",
                            reading.device_id, exc)
        if not ready:
            continue
        ids = list(ready)
        events: list[AlertEvent] = []
        for device_id, pred in zip(ids, model.predict_batch([ready[i] for i in ids]),
                                   strict=True):
            p = max(pred.p_fail, 1.0 if pred.rul < _s.fault_rul_alert_cycles else 0.0)
            events += alerts.process_prediction(device_id, last_ts[device_id], p,
                                                rul=round(pred.rul, 1), rul_unit="cycles")
        await retry_db(lambda ev=events: apply_alerts(ev), what="prediction alerts", log=log)
