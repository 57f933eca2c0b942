"""The posterior temperatures of a run (``calibration.json``): fitted on held-out pictures at the end of training,
applied to every probability a prediction shows.

``place`` divides the image-GPS logit scale, ``time`` the image-time one (:mod:`gtloc.retrieval.posterior`); 1.0
leaves the learned scale as it is (a run without the file, e.g. imported weights, is uncalibrated).
``location_weight`` weighs the ``(image + location) -> time`` posterior against the image's own when the place of a
picture is known (:meth:`gtloc.inference.predictor.Predictor.predict_time_given_location`): 1.0 is the plain
product of the two, 0.0 ignores the location.

``place_mass``: the posterior mass that the radius of a place answer must hold so that it holds the truth with
probability ``place_coverage`` (:data:`PLACE_COVERAGE`, 80 %), fitted on the held-out pictures by split conformal
prediction (:mod:`gtloc.retrieval.place_answer`). A run without it (``None``: no held-out pictures with places,
imported weights, a run written before it existed) takes the posterior at its word: the mass level is the coverage
itself (:attr:`Temperatures.radius_mass`).

``hour_mass``: likewise for the window of clock hours shown with a time answer: the hour-posterior mass the window
grown around the answer's hour must hold so that it holds the true hour with probability ``hour_coverage``
(:data:`HOUR_COVERAGE`, 50 %; :func:`gtloc.retrieval.time_posterior.fit_window_mass`); ``None``: the coverage itself
(:attr:`Temperatures.window_mass`).

``mix_weights``: the model's weight in the ``mix`` time posterior (the default read-out's), one for the month and
one for the hour (:class:`gtloc.retrieval.time_posterior.MixWeights`), recorded by the run that used them (fixed
weights on small runs calibrated on held-out cameras: :mod:`gtloc.training.small_data`); ``None`` (no held-out
pictures with times, or a run written before it existed):
``n / (n + 250)`` for both, for ``n`` training pictures (:func:`gtloc.retrieval.time_posterior.mix_weight`).

``flat_below``: the sharpness (``1 - H(p) / log K`` of a posterior over K alternatives) below which ``verify``
cannot judge a claim of that kind (:mod:`gtloc.evidence.model`): its posterior is too flat to tell the
alternatives apart. Fitted on the held-out pictures so that about the flattest :data:`FLAT_SHARE` of them fall
below: 1 % of the place posteriors, 5 % of the month and of the hour marginals. A run without fitted thresholds
(written before they existed, imported weights, too few held-out pictures with that label) uses
:data:`DEFAULT_FLAT_BELOW`: the same rule applied to the demo's model on its generated test world (all in domain;
sharpness 1st / 5th / 50th percentiles: month 0.005 / 0.008 / 0.052, hour 0.010 / 0.023 / 0.115, place 0.130 /
0.145 / 0.180).

``inconsistent_below``: the percentile (share of the alternatives a claim beats, 0-100) below which ``verify``'s model
check calls a part of a claim (place, month, hour) inconsistent. Fitted on the held-out pictures' own (true)
claims, among those the check judges (sharpness at least ``flat_below``), so that a new true claim like them falls
below with probability at most :data:`FALSE_ALARM_SHARE` (0.5 %; split conformal:
:func:`gtloc.retrieval.claim_rank.false_alarm_threshold`), and never above :data:`MAX_INCONSISTENT_BELOW` (10, the
fixed threshold it replaces): a part is inconsistent only where true claims practically never are. With R judged
pictures, ``floor(0.005 (R + 1)) - 1`` of them may fall below: none up to 398 (the threshold is their lowest
percentile; below 199 pictures the bound is ``1 / (R + 1)``, above 0.5 %). A run without it
(written before it existed, imported weights, too few judged held-out pictures) uses
:data:`DEFAULT_INCONSISTENT_BELOW`: the lower, rounded down, of the rule's values on two models, the demo's (3,000
generated pictures, 300 held out: place 3.2, month 0, hour 8.3) and the webcam model of
``benchmarks/bench_verify.py`` (seed 21, 120 held out: place 10 and hour 10, the cap, month 0). Both held-out sets
had a true month ranked last of 12, so without a fit a month is never called inconsistent by its rank alone; hour
8 calls the last two of 24 hours inconsistent, as 8.3 does.
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
FLAT_SHARE = {"place": 0.01, "month": 0.05, "hour": 0.05}
DEFAULT_FLAT_BELOW = {"place": 0.13, "month": 0.008, "hour": 0.023}
FALSE_ALARM_SHARE = 0.005
MAX_INCONSISTENT_BELOW = 10.0
DEFAULT_INCONSISTENT_BELOW = {"place": 3.0, "month": 0.0, "hour": 8.0}
PLACE_COVERAGE = 0.8
HOUR_COVERAGE = 0.5


@dataclass
class Temperatures:
    """``place`` and ``time`` posterior temperatures (> 0), the ``location_weight`` (in [0, 1]) of the
    location-given time posterior and the sharpness thresholds ``flat_below`` of ``verify``'s place, month and hour
    checks (each in [0, 1]; module docstring) and the percentiles ``inconsistent_below`` (each in [0, 100]) below which
    they call a part inconsistent; ``place_coverage`` and ``place_mass``: the stated probability of a
    place answer's radius and the posterior mass its disc must hold for it, ``hour_coverage`` and ``hour_mass`` the
    same for the hour window of a time answer, ``mix_weights`` the ``month`` and ``hour`` weights of the model in
    the ``mix`` posterior (module docstring); ``fitted_on``:
    held-out pictures they were fitted on (0 = not fitted); ``held_out_loss``: the fit's loss (binary cross-entropy
    of the shown probabilities) before (T = 1) and after, per posterior, and for ``given_location`` the held-out
    score of each weight tried."""

    place: float = 1.0
    time: float = 1.0
    location_weight: float = 1.0
    flat_below: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FLAT_BELOW))
    inconsistent_below: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_INCONSISTENT_BELOW))
    place_coverage: float = PLACE_COVERAGE
    place_mass: float | None = None
    hour_coverage: float = HOUR_COVERAGE
    hour_mass: float | None = None
    mix_weights: dict[str, float] | None = None
    fitted_on: int = 0
    held_out_loss: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def fitted(self) -> bool:
        return self.fitted_on > 0

    @property
    def radius_mass(self) -> float:
        """The posterior mass a place answer's radius holds: the fitted ``place_mass``, else ``place_coverage``."""
        return self.place_coverage if self.place_mass is None else self.place_mass

    @property
    def window_mass(self) -> float:
        """The hour-posterior mass an hour window holds: the fitted ``hour_mass``, else ``hour_coverage``."""
        return self.hour_coverage if self.hour_mass is None else self.hour_mass

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, run_dir: str | Path) -> None:
        """Write ``run_dir/calibration.json`` atomically."""
        write_json(Path(run_dir) / CALIBRATION_FILE, self.to_dict())

    @classmethod
    def load(cls, run_dir: str | Path) -> Temperatures:
        """The calibration saved in ``run_dir``: temperatures 1.0 (uncalibrated) when it has none, and the default
        for each field the file lacks (written before it existed); a field present with a bad value is an error."""
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
            if not (_is_number(value) and allowed(value)):
                raise GtlocError(f"{path}: {name} must be {wanted}, got {value!r}")
        _check_parts(temperatures.flat_below, path, "flat_below", "sharpness thresholds", 1.0)
        _check_parts(temperatures.inconsistent_below, path, "inconsistent_below", "percentiles", 100.0)
        _check_mix_weights(temperatures.mix_weights, path)
        for name in ("place_mass", "hour_mass"):
            value = getattr(temperatures, name)
            if value is not None and not (_is_number(value) and 0 <= value <= 1):
                raise GtlocError(f"{path}: {name} must be null or a number in [0, 1], got {value!r}")
        return temperatures


def _check_mix_weights(values: Any, path: Path) -> None:
    """``mix_weights`` must be null or map exactly ``month`` and ``hour`` to numbers in [0, 1]."""
    if values is None:
        return
    if not isinstance(values, dict) or set(values) != {"month", "hour"}:
        raise GtlocError(f"{path}: mix_weights must be null or an object of month and hour weights, got {values!r}")
    for part, value in values.items():
        if not (_is_number(value) and 0 <= value <= 1):
            raise GtlocError(f"{path}: mix_weights.{part} must be a number in [0, 1], got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_parts(values: Any, path: Path, name: str, what: str, top: float) -> None:
    """``values`` (the field ``name``) must map exactly the place, month and hour checks to numbers in [0, top]."""
    wanted = f"an object of {', '.join(DEFAULT_FLAT_BELOW)} {what}, each a number in [0, {top:g}]"
    if not isinstance(values, dict) or set(values) != set(DEFAULT_FLAT_BELOW):
        raise GtlocError(f"{path}: {name} must be {wanted}, got {values!r}")
    for kind, value in values.items():
        if not (_is_number(value) and 0 <= value <= top):
            raise GtlocError(f"{path}: {name}.{kind} must be a number in [0, {top:g}], got {value!r}")


_RANGES = (
    ("place", "a finite number > 0", lambda v: v > 0),
    ("time", "a finite number > 0", lambda v: v > 0),
    ("location_weight", "a number in [0, 1]", lambda v: 0 <= v <= 1),
    ("place_coverage", "a number in (0, 1)", lambda v: 0 < v < 1),
    ("hour_coverage", "a number in (0, 1)", lambda v: 0 < v < 1),
)
