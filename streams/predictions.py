"""``predict_failures`` (run by the readings agent): the fault model on watched assets.

Each reading updates its asset's window (:class:`models.fault.features.AssetWindow`);
ready windows are predicted in one batched call per ``take()`` batch. A predicted RUL
below ``fault_rul_alert_cycles`` or a failure probability past the threshold goes
through the same deduplicating :class:`~streams.alerts.AlertProcessor` as the rules
(``raise_alerts``), as a ``predicted_failure`` alert, which becomes a work order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

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
# Readings of watched assets that came before the model was loaded (first start trains
# it in the background): replayed into the windows once it is, so none of them is lost.
PENDING_PER_DEVICE = 128  # > the model's 30-cycle window
_pending: dict[str, deque[Reading]] = {}
_predictor: FaultPredictor | None = None
_missing_logged = False
_loading = threading.Lock()
_retry_at = 0.0


def _load() -> None:
    """Load the model in a thread: unpickling imports scikit-learn (seconds of CPU), which
    must not stall the event loop and every agent with it."""
    global _predictor, _retry_at
    path = _s.resolved_fault_model_path
    try:
        model = FaultPredictor.load(path)
    except Exception:
        log.exception("fault model at %s could not be loaded; retrying in 30 s", path)
        _retry_at = time.monotonic() + 30
    else:
        log.info("fault model loaded from %s (version %s, rmse %.2f)", path,
                 model.metadata.version, model.metadata.metrics.get("rmse", float("nan")))
        _predictor = model
    finally:
        _loading.release()


def predictor() -> FaultPredictor | None:
    """The fault model once it is loaded, else None (and its load starts in the
    background as soon as the file exists: the first start trains it meanwhile)."""
    global _missing_logged
    if _predictor is None and time.monotonic() >= _retry_at:
        path = _s.resolved_fault_model_path
        if not path.exists():
            if not _missing_logged:
                log.warning("no fault model at %s yet: predictions start when it appears "
                            "(fieldflow train-fault-model)", path)
                _missing_logged = True
        elif _loading.acquire(blocking=False):
            threading.Thread(target=_load, name="fault-model-load", daemon=True).start()
    return _predictor


def has_pending() -> bool:
    return bool(_pending)


async def predict_failures(batch: list[Reading]) -> None:
    """Update each watched asset's window; predict all ready windows in one call."""
    model = predictor()
    watched = [r for r in batch if (registry.get(r.device_id) or {}).get("fault_model")
               == CMAPSS_FD001]
    if model is None:  # not trained or not loaded yet: keep the latest readings for it
        for reading in watched:
            _pending.setdefault(reading.device_id, deque(maxlen=PENDING_PER_DEVICE)).append(
                reading)
        return
    if _pending:  # what arrived before the model did, first
        watched = [r for q in _pending.values() for r in q] + watched
        _pending.clear()
    snapshots: list[tuple[str, int, tuple[FloatArray, int]]] = []
    for reading in sorted(watched, key=lambda r: r.ts):
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
