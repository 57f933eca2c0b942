"""What a cross-validation says in words: which measures beat the best constant guess, with confidence intervals.

For each measure (mean hour error, mean month error, median km) the ratio ``model / constant`` is pooled over all
held-out rows, and its 95 % interval is a bootstrap over the units the rows came in: whole groups (cameras,
trips) when the folds held out groups, since frames of one camera are not independent, else single rows. The
verdict reads the interval:

* ``beats the constant guess``: the whole interval is below 1;
* ``worse than the constant guess``: the whole interval is above 1;
* ``no clear difference from the constant guess``: the interval holds 1;
* ``too few groups to tell``: under :data:`MIN_UNITS` units, where a bootstrap interval means little.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gtloc.geo import haversine_km
from gtloc.labels import has_label
from gtloc.timecode import hour_error, month_error

BOOTSTRAP = 2000
LEVEL = 0.95
MEASURES = ("hour", "month", "km")
MEASURE_NAMES = {"hour": "hour error (h)", "month": "month error", "km": "median km"}
SHORT_NAMES = {"hour": "the hour", "month": "the month", "km": "the place"}
MIN_UNITS = 5


@dataclass
class Verdict:
    """One measure of one method: pooled ``value`` and ``constant``, their ``ratio`` with its ``low``-``high``
    interval over ``units`` bootstrap units, and the ``words`` that say what it means."""

    measure: str
    value: float
    constant: float
    ratio: float
    low: float
    high: float
    units: int
    words: str

    def to_dict(self) -> dict:
        """JSON-ready: NaN (not measured) as None."""
        return {k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> Verdict:
        return cls(**{k: float("nan") if v is None else v for k, v in data.items()})


def row_errors(pred_latlon: np.ndarray, pred_times: np.ndarray, latlon: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Per-row errors ``(N, 3)``: hour, month and km (NaN where the truth lacks that label)."""
    out = np.full((len(times), 3), np.nan)
    timed = has_label(times) & has_label(pred_times)
    placed = has_label(latlon) & has_label(pred_latlon)
    out[timed, 0] = hour_error(pred_times[timed], times[timed])
    out[timed, 1] = month_error(pred_times[timed], times[timed])
    out[placed, 2] = haversine_km(pred_latlon[placed], latlon[placed])
    return out


def _pooled(errors: np.ndarray, column: int) -> float:
    values = errors[:, column]
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan")
    return float(np.median(values) if MEASURES[column] == "km" else np.mean(values))


def _words(low: float, high: float, units: int) -> str:
    if units < MIN_UNITS:
        return f"too few groups to tell (under {MIN_UNITS})"
    if not np.isfinite(low) or not np.isfinite(high):
        return "not measured"
    if high < 1.0:
        return "beats the constant guess"
    if low > 1.0:
        return "worse than the constant guess"
    return "no clear difference from the constant guess"


def verdicts(
    model: np.ndarray, constant: np.ndarray, units: np.ndarray, seed: int = 0, rounds: int = BOOTSTRAP
) -> list[Verdict]:
    """One :class:`Verdict` per measure for per-row errors ``model`` and ``constant`` ``(N, 3)`` (:func:`row_errors`)
    of the same rows, ``units`` ``(N,)`` the bootstrap unit of each row (its group, or its own index)."""
    names, inverse = np.unique(units, return_inverse=True)
    members = [np.nonzero(inverse == i)[0] for i in range(len(names))]
    rng = np.random.default_rng(seed)
    draws = [np.concatenate([members[i] for i in rng.integers(len(members), size=len(members))]) for _ in range(rounds)]
    out = []
    for column, measure in enumerate(MEASURES):
        value, floor = _pooled(model, column), _pooled(constant, column)
        ratio = value / floor if floor > 0 else float("nan")
        low = high = float("nan")
        if np.isfinite(ratio) and len(members) >= MIN_UNITS:
            ratios = []
            for rows in draws:
                floor_b = _pooled(constant[rows], column)
                if floor_b > 0:
                    ratios.append(_pooled(model[rows], column) / floor_b)
            ratios = np.array([r for r in ratios if np.isfinite(r)])
            if len(ratios):
                tail = (1 - LEVEL) / 2
                low, high = (float(q) for q in np.quantile(ratios, [tail, 1 - tail]))
        out.append(Verdict(measure, value, floor, ratio, low, high, len(members), _words(low, high, len(members))))
    return out


def verdict_table(by_method: dict[str, list[Verdict]], unit: str) -> str:
    """Markdown: one row per method and measure, the ratio to the constant guess with its interval, in words."""
    lines = [
        f"| method | measure | value | constant | ratio | {int(LEVEL * 100)} % interval (over {unit}) | verdict |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for method, items in by_method.items():
        for v in items:
            if not np.isfinite(v.value):
                continue
            digits = 0 if v.measure == "km" else 2
            interval = "-" if not np.isfinite(v.low) else f"{v.low:.2f}-{v.high:.2f}"
            lines.append(
                f"| {method} | {MEASURE_NAMES[v.measure]} | {v.value:.{digits}f} | {v.constant:.{digits}f} "
                f"| {v.ratio:.2f} | {interval} | {v.words} |"
            )
    return "\n".join(lines) + "\n"


def summary_sentences(by_method: dict[str, list[Verdict]], unit: str) -> str:
    """One sentence per method: which measures beat the constant guess and which do not."""
    out = []
    for method, items in by_method.items():
        measured = [v for v in items if np.isfinite(v.value)]
        groups: dict[str, list[str]] = {}
        for v in measured:
            groups.setdefault(v.words, []).append(SHORT_NAMES[v.measure])
        said = [f"{words} on {' and '.join(names)}" for words, names in groups.items()]
        out.append(f"* {method}: {'; '.join(said) or 'nothing measured'} (95 % intervals over {unit}).")
    return "\n".join(out) + "\n"
