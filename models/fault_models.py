"""Names of the fault models an asset model can be watched by (``asset_models.fault_model``).

Kept apart from :mod:`models.fault` so that the API validates the name without importing
scikit-learn.
"""

from __future__ import annotations

from typing import Literal

CMAPSS_FD001 = "cmapss_fd001"  # trained by ``fieldflow train-fault-model`` on NASA C-MAPSS FD001
FaultModelName = Literal["cmapss_fd001"]
