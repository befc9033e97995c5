"""``predict_failures`` (run by the readings agent): the fault model on watched assets.

Each reading updates its asset's window (:class:`models.fault.features.AssetWindow`);
ready windows are predicted in one batched call per ``take()`` batch. A predicted RUL
below ``fault_rul_alert_cycles`` or a failure probability past the threshold goes
through the same deduplicating :class:`~streams.alerts.AlertProcessor` as the rules
(``raise_alerts``), as a ``predicted_failure`` alert, which becomes a work order.
"""

from __future__ import annotations

import logging

from models.fault.features import AssetWindow, FloatArray, IncompleteReadingError
from models.fault.predictor import FaultPredictor
from models.fault_models import CMAPSS_FD001
from models.messages import AlertEvent, Reading
from stack.settings import get_settings
from store.db import retry_db
from streams.alerting import alerts, apply_alerts, registry

log = logging.getLogger("fieldflow.streams.predictions")
_s = get_settings()
_windows: dict[str, AssetWindow] = {}
_predictor: FaultPredictor | None = None
_missing_logged = False


def predictor() -> FaultPredictor | None:
    """The fault model, loaded once it exists (the first start trains it in the background)."""
    global _predictor, _missing_logged
    if _predictor is None:
        path = _s.resolved_fault_model_path
        if not path.exists():
            if not _missing_logged:
                log.warning("no fault model at %s yet: predictions start when it appears "
                            "(fieldflow train-fault-model)", path)
                _missing_logged = True
            return None
        _predictor = FaultPredictor.load(path)
        log.info("fault model loaded from %s (version %s, rmse %.2f)", path,
                 _predictor.metadata.version, _predictor.metadata.metrics.get("rmse", float("nan")))
    return _predictor


async def predict_failures(batch: list[Reading]) -> None:
    """Update each watched asset's window; predict all ready windows in one call."""
    model = predictor()
    if model is None:
        return
    snapshots: list[tuple[str, int, tuple[FloatArray, int]]] = []
    for reading in sorted(batch, key=lambda r: r.ts):
        device = registry.get(reading.device_id)
        if not device or device.get("fault_model") != CMAPSS_FD001:
            continue
        window = _windows.setdefault(reading.device_id, model.new_window())
        try:
            if window.update(reading.ts, reading.metrics):
                snapshots.append((reading.device_id, reading.ts,
                                  (window.buffer.copy(), window.n_seen)))
        except IncompleteReadingError as exc:
            log.warning("device %s: reading skipped by the fault model: %s",
                        reading.device_id, exc)
    if not snapshots:
        return
    # Every ready update is predicted (in one vectorised call), in event-time order.
    preds = model.predict_snapshots([snap for _, _, snap in snapshots])
    events: list[AlertEvent] = []
    for (device_id, ts, _snap), pred in zip(snapshots, preds, strict=True):
        p = max(pred.p_fail, 1.0 if pred.rul < _s.fault_rul_alert_cycles else 0.0)
        events += alerts.process_prediction(device_id, ts, p, rul=round(pred.rul, 1),
                                            rul_unit="cycles")
    await retry_db(lambda ev=events: apply_alerts(ev), what="prediction alerts", log=log)
