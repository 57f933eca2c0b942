"""The ``model`` source: a trained gtloc model's answer, only for photos in the model's domain.

The model predicts from the library's cached features (the backbone must be the model's). A photo outside the
model's domain (``Prediction.in_domain``), or any photo when the run has no domain check, gets no answer. Radii
are calibrated on the library's own labelled photos in the domain: the place radius is the
:data:`~gtloc.library.answers.COVERAGE` quantile of the model's errors on them, the time radius that of its cyclic
hour errors. Where that radius is over ``max_radius_km`` the model is no help on this library and answers nothing;
with fewer than :data:`~gtloc.library.answers.MIN_CALIBRATION` labelled photos in the domain it cannot be
calibrated and answers nothing either.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gtloc.errors import GtlocError
from gtloc.geo import haversine_km
from gtloc.library.answers import (
    COVERAGE,
    MIN_CALIBRATION,
    MIN_RADIUS_KM,
    NEAR_KM,
    PlaceAnswers,
    TimeAnswers,
    radius_scale,
)
from gtloc.library.arrays import LibraryArrays, clock_time
from gtloc.timecode import hour_error

if TYPE_CHECKING:
    from gtloc.inference.predictor import Predictor

CHUNK = 1024
HOUR_NEAR = 1.0


def check_backbone(predictor: Predictor, backbone: dict) -> None:
    """Refuse a model whose backbone is not the one that made the library's features."""
    config = predictor.model.config
    if config.backbone != backbone.get("backbone") or config.feature_dim != backbone.get("feature_dim"):
        raise GtlocError(
            f"the model reads {config.backbone} features ({config.feature_dim}-d) but the library was scanned with "
            f"{backbone.get('backbone')} ({backbone.get('feature_dim')}-d): scan it again with --backbone "
            f"{config.backbone}"
        )


class ModelSource:
    """A checkpoint's answers for the library's photos (see the module docstring). ``features`` ``(N, D)``: the
    library's photos' backbone features, in row order; ``label`` names the model in the evidence."""

    name = "model"

    def __init__(
        self,
        predictor: Predictor,
        features: torch.Tensor,
        label: str | Path,
        max_radius_km: float = 100.0,
        coverage: float = COVERAGE,
    ) -> None:
        self.label, self.max_radius_km, self.coverage = str(label), max_radius_km, coverage
        latlon, times, domain = [], [], []
        for chunk in features.split(CHUNK):
            prediction = predictor.predict(chunk, top_k=1)
            latlon.append(prediction.latlon.numpy())
            times.append(prediction.best_time.numpy() if prediction.time_topk is not None else None)
            domain.append(np.zeros(len(chunk), bool) if prediction.in_domain is None else prediction.in_domain.numpy())
        self.latlon = np.concatenate(latlon) if latlon else np.zeros((0, 2))
        self.times = None if not times or times[0] is None else np.concatenate(times)
        self.in_domain = np.concatenate(domain) if domain else np.zeros(0, bool)
        self.has_domain_check = predictor.domain is not None
        self.radius_km = float("inf")
        self.radius_h = float("inf")
        self.place_rate = self.time_rate = 0.0

    def calibrate(self, arrays: LibraryArrays) -> ModelSource:
        """Radii and confidences from the labelled photos in the domain."""
        rows = np.flatnonzero(arrays.has_place & self.in_domain)
        errors = haversine_km(self.latlon[rows], arrays.latlon[rows])
        self.radius_km = max(radius_scale(errors, np.ones(len(rows)), self.coverage), MIN_RADIUS_KM)
        self.place_rate = float((errors <= NEAR_KM).mean()) if len(rows) >= MIN_CALIBRATION else 0.0
        if self.times is not None:
            rows = np.flatnonzero(arrays.has_time & self.in_domain)
            truth = np.array([_row(arrays.local_s[r]) for r in rows]).reshape(-1, 5)
            errors = np.asarray(hour_error(self.times[rows], truth))
            self.radius_h = radius_scale(errors, np.ones(len(rows)), self.coverage)
            self.time_rate = float((errors <= HOUR_NEAR).mean()) if len(rows) >= MIN_CALIBRATION else 0.0
        return self

    def _why(self) -> str:
        return f"model {self.label}, in its domain"

    def answer(self, arrays: LibraryArrays, targets: np.ndarray) -> PlaceAnswers:
        """Places for the ``targets`` in the model's domain, when the calibrated radius is small enough."""
        targets = np.asarray(targets, int)
        if not self.radius_km <= self.max_radius_km:
            return PlaceAnswers(self.name)
        keep = targets[self.in_domain[targets]]
        return PlaceAnswers(
            self.name,
            keep,
            self.latlon[keep],
            np.full(len(keep), self.radius_km),
            np.full(len(keep), self.place_rate),
            [[] for _ in keep],
            [self._why()] * len(keep),
        )

    def answer_times(self, arrays: LibraryArrays, targets: np.ndarray) -> TimeAnswers:
        """Month, day and hour (no year) for the ``targets`` in the model's domain, when calibrated."""
        targets = np.asarray(targets, int)
        if self.times is None or not np.isfinite(self.radius_h):
            return TimeAnswers(self.name)
        keep = targets[self.in_domain[targets]]
        times = self.times[keep]
        return TimeAnswers(
            self.name,
            keep,
            np.full(len(keep), np.nan),
            times[:, 0],
            times[:, 1],
            times[:, 2] + times[:, 3] / 60.0,
            np.full(len(keep), self.radius_h),
            np.full(len(keep), self.time_rate),
            [[] for _ in keep],
            [self._why()] * len(keep),
        )


def _row(local_s: float) -> list[float]:
    when = clock_time(local_s)
    return [when.month, when.day, when.hour, when.minute, when.second]
