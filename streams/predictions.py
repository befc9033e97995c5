"""``predict_failures`` (run by the readings agent): the fault model on watched assets.

Each reading updates its asset's window (:class:`models.fault.features.AssetWindow`);
ready windows are predicted in one batched call per ``take()`` batch. A predicted RUL
below ``fault_rul_alert_cycles`` or a failure probability past the threshold goes
through the same deduplicating :class:`~streams.alerts.AlertProcessor` as the rules
(``raise_alerts``), as a ``predicted_failure`` alert, which becomes a work order.
"""

from __future__ import annotations

import logging
from collections import deque

from models.fault.features import FloatArray, IncompleteReadingError
from models.fault.predictor import FaultPredictor
from models.fault_models import CMAPSS_FD001
from models.messages import AlertEvent, Reading
from store.db import retry_db
from streams.alerting import apply_alerts
from streams.context import ctx
from streams.state import ReadingsState

log = logging.getLogger("fieldflow.streams.predictions")
# Readings of watched assets that came before the model was loaded (first start trains
# it in the background): replayed into the windows once it is, so none of them is lost.
PENDING_PER_DEVICE = 256  # > the model's window (200 cycles since version 1.1)


def predictor() -> FaultPredictor | None:
    loader = ctx.caches.fault_model
    return loader.get() if loader else None


async def predict_failures(state: ReadingsState, batch: list[Reading]) -> None:
    """Update each watched asset's window; predict all ready windows in one call."""
    model = predictor()
    registry = ctx.caches.registry
    watched = [r for r in batch if (registry.get(r.device_id) or {}).get("fault_model")
               == CMAPSS_FD001]
    if model is None:  # not trained or not loaded yet: keep the latest readings for it
        for reading in watched:
            state.pending.setdefault(reading.device_id, deque(maxlen=PENDING_PER_DEVICE)).append(
                reading)
        return
    if state.pending:  # what arrived before the model did, first
        watched = [r for q in state.pending.values() for r in q] + watched
        state.pending.clear()
    snapshots: list[tuple[str, int, tuple[FloatArray, int]]] = []
    for reading in sorted(watched, key=lambda r: r.ts):
        window = state.windows.setdefault(reading.device_id, model.new_window())
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
    cover = model.interval_coverage  # None for a model file without intervals
    for (device_id, ts, _snap), pred in zip(snapshots, preds, strict=True):
        p = max(pred.p_fail, 1.0 if pred.rul < ctx.settings.fault_rul_alert_cycles else 0.0)
        interval = None if cover is None else (pred.low, pred.high, cover)
        events += state.alerts.process_prediction(device_id, ts, p, rul=round(pred.rul, 1),
                                                  rul_unit="cycles", rul_interval=interval)
    await retry_db(lambda ev=events: apply_alerts(ev), what="prediction alerts", log=log)
