"""``fill``: a place for every photo without one and a time for every photo without a trustworthy one, each from
every source that has one, and the chosen answer.

Places come from ``scene``, ``track`` and ``model`` (:mod:`~gtloc.library.scene`, :mod:`~gtloc.library.track`,
:mod:`~gtloc.library.model`), each calibrated on the library's own labelled photos first; times from ``clock``
(photos of a camera whose clock was wrong) and ``model`` (photos without a time). The chosen place is
:mod:`~gtloc.library.choose`'s, by a rule also calibrated on the library's labelled photos.

The chosen time is ``clock``'s where it answers (a full date and time), else ``model``'s (month, day, hour).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gtloc.data.features import FeatureStore
from gtloc.errors import GtlocError
from gtloc.io import OutputPathError, atomic_write_text, output_file
from gtloc.library.answers import COVERAGE, FAR_BUDGET, PlaceAnswers, TimeAnswers
from gtloc.library.arrays import LibraryArrays, clock_time
from gtloc.library.catalog import Library
from gtloc.library.choose import Chooser
from gtloc.library.clock import ClockSource
from gtloc.library.model import ModelSource, check_backbone
from gtloc.library.reach import camera_reach
from gtloc.library.scene import SceneIndex, SceneSource
from gtloc.library.timeline import utc_timeline
from gtloc.library.track import TrackSource

if TYPE_CHECKING:
    import torch

    from gtloc.inference.predictor import Predictor

ESTIMATE_COLUMNS = (
    "path", "field", "lat", "lon", "time", "radius_km", "radius_h", "source", "confidence", "evidence", "chosen",
    "note",
)  # fmt: skip


@dataclass(frozen=True)
class FillSettings:
    """How sources answer: radii hold the truth for ``coverage`` of the library's labelled photos; no place answer
    with a radius over ``max_radius_km``; ``track`` looks at most ``max_gap_h`` hours away; ``scene`` answers at
    similarities where the labelled photos were placed within 25 km for ``scene_precision`` of them and off by more
    than 200 km for at most ``far_share``; the chosen places are kept while the expected share of them off by more
    than 200 km stays within ``far_budget`` (:mod:`~gtloc.library.choose`)."""

    max_radius_km: float = 100.0
    max_gap_h: float = 36.0
    scene_precision: float = 0.9
    coverage: float = COVERAGE
    far_share: float = FAR_BUDGET
    far_budget: float = FAR_BUDGET


@dataclass
class Estimate:
    """One row of the estimates CSV (see :data:`ESTIMATE_COLUMNS`). ``time``: ISO 8601 local time
    ``YYYY-MM-DDTHH:MM:SS`` where the source knows the date, ``--MM-DDTHH:MM`` where it knows month, day and hour
    only; ``evidence``: the photos (paths) or the model that support it."""

    path: str
    field: str
    source: str
    lat: float | None = None
    lon: float | None = None
    time: str = ""
    radius_km: float | None = None
    radius_h: float | None = None
    confidence: float = 0.0
    evidence: list[str] = field(default_factory=list)
    chosen: bool = False
    note: str = ""

    def row(self) -> list[str]:
        def num(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        return [
            self.path, self.field, num(self.lat, 6), num(self.lon, 6), self.time, num(self.radius_km, 3),
            num(self.radius_h, 3), self.source, f"{self.confidence:.3f}", ";".join(self.evidence),
            "yes" if self.chosen else "no", self.note,
        ]  # fmt: skip


class Sources:
    """The sources of one library, built once: the scene index over all its photos' features, the model's
    predictions (when a model is given), and the settings."""

    def __init__(
        self,
        features: torch.Tensor,
        settings: FillSettings,
        predictor: Predictor | None = None,
        model_label: str = "",
    ) -> None:
        self.settings = settings
        self.index = SceneIndex.build(features)
        self.model = None if predictor is None else ModelSource(
            predictor, features, model_label, settings.max_radius_km, settings.coverage
        )  # fmt: skip
        self.clock = ClockSource()
        self.chooser = Chooser(settings.far_budget)

    def place_answers(self, arrays: LibraryArrays, targets: np.ndarray) -> list[PlaceAnswers]:
        """Each place source, calibrated on ``arrays``' labelled photos, answering for ``targets``; the chooser
        (:meth:`choose`) is calibrated on the same labelled photos."""
        s = self.settings
        utc = utc_timeline(arrays)
        scene = SceneSource(self.index, s.scene_precision, s.max_radius_km, s.coverage, s.far_share).calibrate(arrays)
        recurring = self.index.recurring(arrays.day, scene.threshold)
        placed = scene.answer(arrays, np.flatnonzero(~arrays.has_place))
        track = TrackSource(s.max_gap_h, s.max_radius_km, s.coverage, far_budget=s.far_budget).calibrate(
            arrays, utc, recurring, placed
        )
        labelled = np.flatnonzero(arrays.has_place)
        seen = scene.answer(arrays, labelled, by_session=True)
        pairs = []
        for hide in (False, True):
            bound = camera_reach(arrays, utc, labelled, arrays.session if hide else arrays.group)
            track_seen = track.answer(arrays, utc, labelled, recurring, by_session=hide)
            pairs.append((bound.keep_possible(seen, arrays.latlon), track_seen))
        self.chooser = Chooser(s.far_budget).calibrate(pairs, arrays.latlon)
        bound = camera_reach(arrays, utc, targets, arrays.group)
        answers = [bound.keep_possible(scene.answer(arrays, targets), arrays.latlon),
                   track.answer(arrays, utc, targets, recurring)]  # fmt: skip
        if self.model is not None:
            answers.append(bound.keep_possible(self.model.calibrate(arrays).answer(arrays, targets), arrays.latlon))
        return answers

    def choose(self, answers: list[PlaceAnswers], budget: bool = True) -> PlaceAnswers:
        """The chosen place of each photo among ``answers`` (of the last :meth:`place_answers`); ``budget``: as for
        :meth:`Chooser.choose`."""
        return self.chooser.choose(answers, budget)

    def time_answers(self, arrays: LibraryArrays, targets: np.ndarray) -> list[TimeAnswers]:
        """``clock`` for ``targets`` with a time, ``model`` (calibrated) for those without."""
        answers = [self.clock.answer(arrays, targets[arrays.has_time[targets]])]
        if self.model is not None:
            answers.append(self.model.calibrate(arrays).answer_times(arrays, targets[~arrays.has_time[targets]]))
        return answers


def _time_text(answers: TimeAnswers, k: int) -> str:
    if np.isfinite(answers.local_s[k]):
        return clock_time(answers.local_s[k]).strftime("%Y-%m-%dT%H:%M:%S")
    hour = float(answers.hour[k])
    return f"--{int(answers.month[k]):02d}-{int(answers.day[k]):02d}T{int(hour):02d}:{round(hour % 1 * 60) % 60:02d}"


def estimates_of(
    arrays: LibraryArrays,
    places: list[PlaceAnswers],
    times: list[TimeAnswers],
    model_label: str = "",
    chooser: Chooser | None = None,
) -> list[Estimate]:
    """The CSV rows: every source's answers, the chosen ones (by ``chooser``) marked, in photo order (places
    first)."""
    combined = (chooser or Chooser()).choose(places)
    chosen_place = {int(p): o for p, o in zip(combined.index, combined.origins, strict=True)}
    chosen_time: dict[int, str] = {}
    for answers in times:
        for p in answers.index:
            chosen_time.setdefault(int(p), answers.source)
    rows: list[tuple[int, int, Estimate]] = []

    def evidence(source: str, photo_rows: list[int]) -> list[str]:
        return [f"model:{model_label}"] if source == "model" else [arrays.paths[r] for r in photo_rows]

    for answers in places:
        for k, p in enumerate(answers.index):
            lat, lon = (float(v) for v in answers.latlon[k])
            rows.append((int(p), 0, Estimate(
                arrays.paths[p], "place", answers.source, lat, lon, radius_km=float(answers.radius_km[k]),
                confidence=float(answers.confidence[k]), evidence=evidence(answers.source, answers.evidence[k]),
                chosen=chosen_place.get(int(p)) == answers.source, note=answers.notes[k],
            )))  # fmt: skip
    for answers in times:
        for k, p in enumerate(answers.index):
            rows.append((int(p), 1, Estimate(
                arrays.paths[p], "time", answers.source, time=_time_text(answers, k),
                radius_h=float(answers.radius_h[k]), confidence=float(answers.confidence[k]),
                evidence=evidence(answers.source, answers.evidence[k]),
                chosen=chosen_time.get(int(p)) == answers.source, note=answers.notes[k],
            )))  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1]))
    return [estimate for _, _, estimate in rows]


def estimates_to_csv(estimates: list[Estimate]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ESTIMATE_COLUMNS)
    writer.writerows(e.row() for e in estimates)
    return out.getvalue()


def library_features(library: Library) -> torch.Tensor:
    """The backbone features of every photo of ``library``, in row order ``(N, D)``."""
    if not library.photos:
        raise GtlocError(f"library {library.lib_dir} has no photos: scan a folder with photos first")
    return FeatureStore.open(library.features_dir).load([p.sha for p in library.photos])


SMALL_LIBRARY = 100
"""Geotagged photos below which the sources' calibration is too thin to promise its shares: on SYNTHETIC libraries
with 39-61 geotagged photos five of six missed the 5 % off by more than 200 km or the 80 % within the radius, with
65-80 one of three, from 142 on none (docs/library.md, "Small libraries")."""


def small_library_warning(labelled: int) -> str:
    """A warning for a library with only ``labelled`` geotagged photos (``""`` when it has enough)."""
    if labelled >= SMALL_LIBRARY:
        return ""
    return (
        f"only {labelled} photos have a GPS place: the radii and the share of places off by more than 200 km are "
        f"calibrated on too few photos to hold (fewer than {SMALL_LIBRARY}); check with `gtloc library evaluate` "
        "how far to trust the estimates"
    )


@dataclass
class FillResult:
    """What ``fill`` found: the estimates (CSV rows), how many photos lacked a place / a time, the CSV path, and a
    warning when the library has too few geotagged photos to calibrate on (:func:`small_library_warning`)."""

    estimates: list[Estimate]
    missing_place: int
    missing_time: int
    out: Path
    warning: str = ""

    def chosen(self, what: str) -> list[Estimate]:
        return [e for e in self.estimates if e.chosen and e.field == what]


def fill_library(
    lib_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    predictor: Predictor | None = None,
    model_label: str = "",
    settings: FillSettings | None = None,
) -> FillResult:
    """Estimate places and times for the library in ``lib_dir`` and write the estimates CSV ``out`` atomically.

    ``predictor``: a loaded model for the ``model`` source (its backbone must be the library's); ``model_label``
    names it in the evidence. Returns the estimates.
    """
    settings = settings or FillSettings()
    library = Library.open(lib_dir)
    target = output_file(out)
    if predictor is not None:
        check_backbone(predictor, library.info.get("backbone", {}))
    arrays = LibraryArrays.of(library.photos)
    sources = Sources(library_features(library), settings, predictor, model_label)
    no_place = np.flatnonzero(~arrays.has_place)
    places = sources.place_answers(arrays, no_place)
    times = sources.time_answers(arrays, np.arange(len(arrays)))
    estimates = estimates_of(arrays, places, times, model_label, sources.chooser)
    atomic_write_text(target, estimates_to_csv(estimates))
    with contextlib.suppress(OutputPathError):  # a read-only library folder: the web view then needs --estimates
        library.save_info(last_fill=str(target.resolve()))
    warning = small_library_warning(int(arrays.has_place.sum()))
    return FillResult(estimates, len(no_place), int((~arrays.has_time).sum()), target, warning)
