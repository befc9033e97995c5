"""The fault model, loaded in the background once its file exists (one per worker)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from models.fault.predictor import FaultPredictor

log = logging.getLogger("fieldflow.streams.predictions")


@dataclass
class ModelLoader:
    path: Path
    model: FaultPredictor | None = None
    retry_at: float = 0.0
    missing_logged: bool = False
    _loading: threading.Lock = field(default_factory=threading.Lock)

    def _load(self) -> None:
        """Load the model in a thread: unpickling imports scikit-learn (seconds of CPU),
        which must not stall the event loop and every consumer with it."""
        try:
            model = FaultPredictor.load(self.path)
        except Exception:
            log.exception("fault model at %s could not be loaded; retrying in 30 s", self.path)
            self.retry_at = time.monotonic() + 30
        else:
            log.info("fault model loaded from %s (version %s, rmse %.2f)", self.path,
                     model.metadata.version, model.metadata.metrics.get("rmse", float("nan")))
            self.model = model
        finally:
            self._loading.release()

    def get(self) -> FaultPredictor | None:
        """The fault model once it is loaded, else None (and its load starts in the
        background as soon as the file exists: the first start trains it meanwhile)."""
        if self.model is None and time.monotonic() >= self.retry_at:
            if not self.path.exists():
                if not self.missing_logged:
                    log.warning("no fault model at %s yet: predictions start when it appears "
                                "(fieldflow train-fault-model)", self.path)
                    self.missing_logged = True
            elif self._loading.acquire(blocking=False):
                threading.Thread(target=self._load, name="fault-model-load", daemon=True).start()
        return self.model
