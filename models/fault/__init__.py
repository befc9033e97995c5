"""The ML fault model: window features, RUL regressor, calibrated failure classifier.

Imports stdlib, numpy, scikit-learn (with its threadpoolctl), pydantic and joblib only
(tqdm and matplotlib are imported lazily by the training CLI and the report plot).
"""

from models.fault.features import AssetWindow, FeatureConfig, FeatureSpec, IncompleteReadingError
from models.fault.predictor import FaultPredictor, Prediction

FeatureWindow = AssetWindow

__all__ = [
    "AssetWindow",
    "FaultPredictor",
    "FeatureConfig",
    "FeatureSpec",
    "FeatureWindow",
    "IncompleteReadingError",
    "Prediction",
]
