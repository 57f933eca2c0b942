"""The posterior temperatures of a run (``calibration.json``): fitted on held-out pictures at the end of training,
applied to every probability a prediction shows.

``place`` divides the image-GPS logit scale, ``time`` the image-time one (:mod:`gtloc.retrieval.posterior`); 1.0
leaves the learned scale as it is (a run without the file, e.g. imported weights, is uncalibrated).
``location_weight`` weighs the ``(image + location) -> time`` posterior against the image's own when the place of a
picture is known (:meth:`gtloc.inference.predictor.Predictor.predict_time_given_location`): 1.0 is the plain
product of the two, 0.0 ignores the location.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gtloc.errors import GtlocError
from gtloc.io import write_json

CALIBRATION_FILE = "calibration.json"


@dataclass
class Temperatures:
    """``place`` and ``time`` posterior temperatures (> 0) and the ``location_weight`` (in [0, 1]) of the
    location-given time posterior; ``fitted_on``: held-out pictures they were fitted on (0 = not fitted);
    ``held_out_loss``: the fit's loss (binary cross-entropy of the shown probabilities) before (T = 1) and after,
    per posterior, and for ``given_location`` the held-out score of each weight tried."""

    place: float = 1.0
    time: float = 1.0
    location_weight: float = 1.0
    fitted_on: int = 0
    held_out_loss: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def fitted(self) -> bool:
        return self.fitted_on > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, run_dir: str | Path) -> None:
        """Write ``run_dir/calibration.json`` atomically."""
        write_json(Path(run_dir) / CALIBRATION_FILE, self.to_dict())

    @classmethod
    def load(cls, run_dir: str | Path) -> Temperatures:
        """The temperatures saved in ``run_dir``; 1.0 (uncalibrated) when it has none."""
        path = Path(run_dir) / CALIBRATION_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
            temperatures = cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise GtlocError(f"{path}: not a gtloc calibration file ({exc})") from None
        for name, wanted, allowed in _RANGES:
            value = getattr(temperatures, name)
            number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if not (number and allowed(value)):
                raise GtlocError(f"{path}: {name} must be {wanted}, got {value!r}")
        return temperatures


_RANGES = (
    ("place", "a finite number > 0", lambda v: v > 0),
    ("time", "a finite number > 0", lambda v: v > 0),
    ("location_weight", "a number in [0, 1]", lambda v: 0 <= v <= 1),
)
