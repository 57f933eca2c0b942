"""``evaluate``: hide-and-recover on a library's own labelled photos, every source beside today's rules.

The labelled photos (with a place for ``hide="place"``, with a time for ``"time"``) are split into folds by unit:
``photo`` (files with the same bytes together) or ``session`` (one camera's photos of one day together, as a
camera without GPS leaves them). Each fold in turn is hidden; the sources are calibrated on what is left and
answer for the hidden photos, and so do the references (PhotoPrism's rule, the nearest photo in time with no
limit; for times, the library's most common month and hour). With :data:`LOO_UNITS` units or fewer, each unit is
its own fold (leave-one-out); otherwise ``folds`` folds (default :data:`FOLDS`). The chosen places' far budget
(:mod:`~gtloc.library.choose`) is applied once, to the chosen answers of all folds together, as ``fill`` applies
it to all its estimates at once: budgeted fold by fold, a fold of one photo would keep its answer only where that
answer alone is within the budget.

Measures, per method: ``coverage`` (answered / hidden), the median error of the answers, the share of *hidden*
photos placed within 25 km (what a user gets), the share of answers off by more than 200 km, and the share of
answers whose stated radius holds the truth.

``hide="time"`` measures two things, each against the true local time (the camera's clock, corrected by its own
clock check where it has one: :attr:`LibraryArrays.true_local_s`):

* ``clock``: the photos whose clock check found the camera's clock wrong. Each fold hides the clock check of its
  photos (what their GPS time stamps said), keeps their camera time, and the ``clock`` source corrects it from the
  camera's other photos; the error is of the full date and time. Photos whose clock was right and were "corrected"
  all the same are counted in :attr:`Evaluation.notes`.
* ``model`` and ``common_time`` (the library's most common hour): the time of day of photos whose time is hidden
  altogether, as for a photo without one (month, day and hour: no date can be recovered from a picture); the error
  is the cyclic hour-of-day error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.geo import haversine_km
from gtloc.library.answers import NEAR_KM, PlaceAnswers, TimeAnswers
from gtloc.library.arrays import LibraryArrays
from gtloc.library.baselines import nearest_in_time, photoprism
from gtloc.library.catalog import Library
from gtloc.library.fill import FillSettings, Sources, library_features, small_library_warning
from gtloc.library.model import check_backbone
from gtloc.library.timeline import utc_timeline

if TYPE_CHECKING:
    from gtloc.inference.predictor import Predictor

HIDE = ("place", "time")
UNITS = ("photo", "session")
LOO_UNITS = 200
FOLDS = 10
FAR_KM = 200.0
HOUR_NEAR = 1.0
PLACE_METHODS = ("track", "scene", "model", "combined", "photoprism", "nearest_in_time")
TIME_METHODS = ("clock", "model", "common_time")


@dataclass
class Score:
    """One method's measures over ``hidden`` photos (NaN where a measure does not apply)."""

    method: str
    hidden: int
    answered: int
    median_error: float
    near_of_hidden: float
    far_of_answered: float
    within_radius: float

    @property
    def coverage(self) -> float:
        return self.answered / self.hidden if self.hidden else float("nan")


def place_errors(answers: PlaceAnswers, truth: np.ndarray) -> np.ndarray:
    """``(M,)`` km from each answer to the true place of its photo (``truth`` ``(N, 2)``)."""
    return np.asarray(haversine_km(answers.latlon, truth[answers.index])) if len(answers) else np.zeros(0)


def score_places(method: str, answers: PlaceAnswers, truth: np.ndarray, hidden: np.ndarray) -> Score:
    """The measures of ``answers`` for the photos ``hidden`` (rows; answers for other photos are ignored)."""
    keep = np.isin(answers.index, hidden)
    errors = place_errors(answers, truth)[keep]
    radius = answers.radius_km[keep]
    n = len(hidden)
    return Score(
        method,
        n,
        int(keep.sum()),
        float(np.median(errors)) if len(errors) else float("nan"),
        float((errors <= NEAR_KM).sum() / n) if n else float("nan"),
        float((errors > FAR_KM).mean()) if len(errors) else float("nan"),
        float((errors <= radius).mean()) if len(errors) and np.isfinite(radius).all() else float("nan"),
    )


def hour_errors(answers: TimeAnswers, truth_local_s: np.ndarray) -> np.ndarray:
    """``(M,)`` cyclic hour-of-day errors, hours in [0, 12]."""
    true_hour = (truth_local_s[answers.index] % 86400.0) / 3600.0
    diff = np.abs(answers.hour - true_hour) % 24.0
    return np.minimum(diff, 24.0 - diff)


def time_errors(answers: TimeAnswers, truth_local_s: np.ndarray) -> np.ndarray:
    """``(M,)`` hours: the full error of answers that know the date, the cyclic hour-of-day error of the others."""
    full = np.abs(answers.local_s - truth_local_s[answers.index]) / 3600.0
    return np.where(np.isfinite(answers.local_s), full, hour_errors(answers, truth_local_s))


def score_times(method: str, answers: TimeAnswers, truth_local_s: np.ndarray, hidden: np.ndarray) -> Score:
    keep = np.isin(answers.index, hidden)
    errors = time_errors(answers, truth_local_s)[keep]
    n = len(hidden)
    return Score(
        method,
        n,
        int(keep.sum()),
        float(np.median(errors)) if len(errors) else float("nan"),
        float((errors <= HOUR_NEAR).sum() / n) if n else float("nan"),
        float("nan"),
        float((errors <= answers.radius_h[keep]).mean())
        if len(errors) and np.isfinite(answers.radius_h).all()
        else float("nan"),
    )


def common_time(arrays: LibraryArrays, targets: np.ndarray) -> TimeAnswers:
    """The reference for times: the most common clock hour of the photos with a time, for every target."""
    hours = (arrays.local_s[arrays.has_time] % 86400.0) // 3600.0
    if not len(hours) or not len(targets):
        return TimeAnswers("common_time")
    hour = float(np.bincount(hours.astype(int), minlength=24).argmax()) + 0.5
    m = len(targets)
    return TimeAnswers(
        "common_time", np.asarray(targets, int), np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan),
        np.full(m, hour), np.full(m, np.nan), np.full(m, np.nan), [[] for _ in range(m)], [""] * m,
    )  # fmt: skip


def units_of(arrays: LibraryArrays, unit: str) -> np.ndarray:
    """``(N,)`` the unit each photo is hidden with: its content (``photo``) or its camera's day (``session``)."""
    return (arrays.group if unit == "photo" else arrays.session).copy()


@dataclass
class Evaluation:
    """Hide-and-recover results: the ``scores`` per method, and every answer with the truth, for other cuts."""

    hide: str
    unit: str
    folds: int
    hidden: np.ndarray
    scores: list[Score]
    answers: dict[str, PlaceAnswers | TimeAnswers] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The scores as a Markdown table."""
        if self.hide == "place":
            header = (
                "| method | hidden | answered % | median km | within 25 km (% of hidden) "
                "| off > 200 km (% of answered) | truth within stated radius % |\n|---|---:|---:|---:|---:|---:|---:|"
            )
        else:
            header = (
                "| method | hidden | answered % | median error (h) | within 1 h (% of hidden) | "
                "truth within stated radius % |\n|---|---:|---:|---:|---:|---:|"
            )

        def pct(v: float) -> str:
            return "-" if not np.isfinite(v) else f"{100 * v:.1f}"

        def num(v: float) -> str:
            return "-" if not np.isfinite(v) else f"{v:.1f}" if self.hide == "place" else f"{v:.2f}"

        lines = [header]
        for s in self.scores:
            far = f" {pct(s.far_of_answered)} |" if self.hide == "place" else ""
            lines.append(
                f"| {s.method} | {s.hidden} | {pct(s.coverage)} | {num(s.median_error)} | {pct(s.near_of_hidden)} "
                f"|{far} {pct(s.within_radius)} |"
            )
        return "\n".join(lines + self.notes)


def _merge(parts: list[PlaceAnswers | TimeAnswers]) -> PlaceAnswers | TimeAnswers:
    first = parts[0]
    merged = type(first)(first.source)
    for name, value in vars(first).items():
        if isinstance(value, np.ndarray):
            setattr(merged, name, np.concatenate([getattr(p, name) for p in parts]))
        elif isinstance(value, list):
            setattr(merged, name, [item for p in parts for item in getattr(p, name)])
        elif isinstance(value, dict):
            keys = set.intersection(*(set(getattr(p, name)) for p in parts))
            setattr(merged, name, {k: np.concatenate([getattr(p, name)[k] for p in parts]) for k in keys})
    return merged


def evaluate_library(
    lib_dir: str | os.PathLike[str],
    *,
    hide: str = "place",
    unit: str = "photo",
    folds: int | None = None,
    predictor: Predictor | None = None,
    model_label: str = "",
    settings: FillSettings | None = None,
    seed: int = 0,
    progress: bool = False,
) -> Evaluation:
    """Hide-and-recover on the library in ``lib_dir`` (see the module docstring). ``folds``: ``None`` chooses
    (leave-one-out up to :data:`LOO_UNITS` units, else :data:`FOLDS`), ``0`` forces leave-one-out."""
    if hide not in HIDE:
        raise ParameterError(Param("hide"), f" must be one of {', '.join(HIDE)}, got {hide!r}")
    if unit not in UNITS:
        raise ParameterError(Param("unit"), f" must be one of {', '.join(UNITS)}, got {unit!r}")
    if folds is not None and folds < 0:
        raise ParameterError(Param("folds"), f" must be >= 0 (0: leave-one-out), got {folds}")
    library = Library.open(lib_dir)
    if predictor is not None:
        check_backbone(predictor, library.info.get("backbone", {}))
    arrays = LibraryArrays.of(library.photos)
    eligible = arrays.has_place if hide == "place" else arrays.has_time
    judged = arrays.judged_clock & np.isfinite(arrays.zone_offset_s) & (arrays.camera >= 0)
    if eligible.sum() < 2:
        raise GtlocError(f"library {library.lib_dir} has {int(eligible.sum())} photos with a {hide}: nothing to hide")
    sources = Sources(library_features(library), settings or FillSettings(), predictor, model_label)
    units = units_of(arrays, unit)
    labelled_units = np.unique(units[eligible])
    k = len(labelled_units) if folds == 0 or (folds is None and len(labelled_units) <= LOO_UNITS) else folds or FOLDS
    k = min(k, len(labelled_units))
    fold_of_unit = dict(zip(labelled_units.tolist(), np.random.default_rng(seed).permutation(len(labelled_units)) % k,
                            strict=True))  # fmt: skip
    fold = np.array([fold_of_unit.get(int(u), -1) for u in units])
    collected: dict[str, list] = {}
    for f in tqdm(range(k), desc=f"hiding {hide}s", unit="fold", disable=not progress):
        mask = eligible & (fold == f)
        targets = np.flatnonzero(mask)
        view = arrays.hide(mask, hide)
        if hide == "place":
            answers = sources.place_answers(view, targets)
            utc = utc_timeline(view)
            chosen = sources.choose(answers, budget=False)
            answers += [chosen, photoprism(view, utc, targets), nearest_in_time(view, utc, targets)]
        else:
            answers = [*sources.time_answers(view, targets)[1:], common_time(view, targets)]
            checked = np.flatnonzero(mask & judged)
            answers.append(sources.clock.answer(arrays.hide(mask & judged, "clock"), checked))
        for a in answers:
            collected.setdefault(a.source, []).append(a)
    hidden = np.flatnonzero(eligible)
    merged = {name: _merge(parts) for name, parts in collected.items()}
    if hide == "place":
        merged["combined"] = sources.chooser.keep_within_budget(merged["combined"])
        scores = [score_places(m, merged[m], arrays.latlon, hidden) for m in PLACE_METHODS if m in merged]
        warning = small_library_warning(len(hidden))
        return Evaluation(hide, unit, k, hidden, scores, merged, [f"warning: {warning}"] if warning else [])
    truth = arrays.true_local_s
    wrong = np.flatnonzero(judged & (arrays.clock == "wrong"))
    scores = [score_times("clock", merged["clock"], truth, wrong)]
    scores += [score_times(m, merged[m], truth, hidden) for m in TIME_METHODS[1:] if m in merged]
    right = int(judged.sum()) - len(wrong)
    false = int(np.isin(merged["clock"].index, np.flatnonzero(judged & (arrays.clock != "wrong"))).sum())
    notes = [
        f"clock: the {len(wrong)} photos whose clock check found the camera's clock wrong, each corrected from the "
        f"camera's other photos with its own GPS time hidden (errors of the full date and time); of the {right} "
        f"photos whose clock was right, {false} were changed all the same.",
        "model, common_time: the time of day of photos whose time was hidden altogether (month, day and hour; no date "
        "can be recovered from a picture), against the true local time (the camera's clock, corrected by its clock "
        "check where it has one).",
    ]
    return Evaluation(hide, unit, k, hidden, scores, merged, notes)
