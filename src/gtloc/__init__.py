"""gtloc: when and where was this outdoor photo taken? An implementation of GT-Loc (ICCV 2025).

The public API in one call: ``gtloc.load("run").predict_image("photo.jpg", top_k=3)``. Every name in ``__all__``
is imported on first use (PEP 562), so ``import gtloc`` (and ``gtloc --help``) stays light: no torch until needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "GtlocError": "gtloc.errors",
    "Records": "gtloc.data.schema",
    "load_records": "gtloc.data.schema",
    "FeatureStore": "gtloc.data.features",
    "Backbone": "gtloc.backbones",
    "load_backbone": "gtloc.backbones",
    "backbone_for": "gtloc.backbones.extract",
    "extract_features": "gtloc.backbones.extract",
    "image_features": "gtloc.backbones.extract",
    "GTLoc": "gtloc.model.gtloc",
    "GTLocConfig": "gtloc.model.config",
    "GalleryConfig": "gtloc.model.config",
    "ImageGallery": "gtloc.retrieval.image_gallery",
    "build_image_gallery": "gtloc.retrieval.image_gallery",
    "Predictor": "gtloc.inference.predictor",
    "Prediction": "gtloc.inference.prediction",
    "load": "gtloc.inference.predictor",
    "Retriever": "gtloc.inference.retrieve",
    "search": "gtloc.inference.retrieve",
    "analyze_photo": "gtloc.inference.verify",
    "sun_position": "gtloc.sun",
    "SunPosition": "gtloc.sun",
    "Check": "gtloc.evidence",
    "check_clock": "gtloc.evidence",
    "check_sun": "gtloc.evidence",
    "combine": "gtloc.evidence",
    "verify_photos": "gtloc.evidence",
    "TrainConfig": "gtloc.training.config",
    "train": "gtloc.training.loop",
    "load_training_data": "gtloc.training.data",
    "evaluate_predictions": "gtloc.evaluation.protocol",
}

__all__ = [
    "Backbone",
    "Check",
    "FeatureStore",
    "GTLoc",
    "GTLocConfig",
    "GalleryConfig",
    "GtlocError",
    "ImageGallery",
    "Prediction",
    "Predictor",
    "Records",
    "Retriever",
    "SunPosition",
    "TrainConfig",
    "__version__",
    "analyze_photo",
    "backbone_for",
    "build_image_gallery",
    "check_clock",
    "check_sun",
    "combine",
    "evaluate_predictions",
    "extract_features",
    "image_features",
    "load",
    "load_backbone",
    "load_records",
    "load_training_data",
    "search",
    "sun_position",
    "train",
    "verify_photos",
]

if TYPE_CHECKING:
    from gtloc.backbones import Backbone, load_backbone
    from gtloc.backbones.extract import backbone_for, extract_features, image_features
    from gtloc.data.features import FeatureStore
    from gtloc.data.schema import Records, load_records
    from gtloc.errors import GtlocError
    from gtloc.evaluation.protocol import evaluate_predictions
    from gtloc.evidence import Check, check_clock, check_sun, combine, verify_photos
    from gtloc.inference.prediction import Prediction
    from gtloc.inference.predictor import Predictor, load
    from gtloc.inference.retrieve import Retriever, search
    from gtloc.inference.verify import analyze_photo
    from gtloc.model.config import GalleryConfig, GTLocConfig
    from gtloc.model.gtloc import GTLoc
    from gtloc.retrieval.image_gallery import ImageGallery, build_image_gallery
    from gtloc.sun import SunPosition, sun_position
    from gtloc.training.config import TrainConfig
    from gtloc.training.data import load_training_data
    from gtloc.training.loop import train


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and keep the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gtloc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
