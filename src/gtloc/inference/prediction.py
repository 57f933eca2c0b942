"""What a prediction is (:class:`Prediction`) and how it reads (:func:`prediction_text`, the one readable form:
``print(prediction)`` and ``gtloc predict`` both show it, in the words of :mod:`gtloc.inference.readable`). Its files
(CSV, JSON) are :mod:`gtloc.inference.prediction_files`.
"""

from __future__ import annotations

import calendar
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gtloc.data.exif import PhotoExif
from gtloc.errors import GtlocError
from gtloc.inference.readable import exif_text, hours_text, latlon_text, month_text, percent, radius_text
from gtloc.labels import has_label
from gtloc.model.calibration import HOUR_COVERAGE
from gtloc.model.domain import domain_label, out_of_domain_warning
from gtloc.model.readouts import DEFAULT_READOUT, READOUT_ANSWER
from gtloc.retrieval.time_posterior import hour_window

MAX_SHOWN = 5
KNOWN_PLACE_WORDS = {"exif": "given its EXIF place", "given": "given the place you gave"}


@dataclass(repr=False)
class Prediction:
    """Predictions for N images with top-k alternatives.

    ``place_topk`` ``(N, k, 2)`` degrees and ``place_probs`` ``(N, k)``: the top-k *distinct* places, most probable
    first: the GPS gallery's best entries with those closer than 10 km merged into one place, their probabilities
    (softmax over the whole gallery) summed (:mod:`gtloc.retrieval.place_answer`; a row short of k distinct places
    ends in NaN places of probability 0); ``place_radius_km`` ``(N,)``: the radius around the best place that holds
    the true place with probability ``place_coverage`` (from the run's calibration);
    ``time_topk`` ``(N, k, 5)`` local time and ``time_probs`` ``(N, k)``; ``month_hour_posterior`` ``(N, 12, 24)``:
    the joint time posterior by calendar month (Jan..Dec) and clock hour (0..23), each grid summing to 1
    (:class:`~gtloc.retrieval.time_posterior.TimePosterior`), what the web page and the reports draw;
    ``month_posterior`` ``(N, 12)`` and ``hour_posterior`` ``(N, 24)``: its row and column sums;
    ``time_bayes`` ``(N, 5)``: the gallery month and hour that minimise the expected cyclic month and hour errors;
    ``domain_score`` ``(N,)`` percent and ``in_domain`` ``(N,)`` bool: how typical each picture is of the training
    pictures (:mod:`gtloc.model.domain`; ``None`` when the run has no domain profile).
    ``known_place`` ``(N, 2)`` degrees: the place each picture's time was predicted given (NaN where the time is the
    image's alone; ``None`` when no place was known for any), and ``known_place_source`` where it came from:
    ``"exif"`` (the photo's EXIF GPS) or ``"given"`` (the caller's ``place``). ``exif``: what each photo's EXIF says
    (:class:`~gtloc.data.exif.PhotoExif`; ``None`` for a picture whose EXIF was not read, or for all).
    Probabilities use the run's calibrated temperatures (:mod:`gtloc.model.calibration`); the posteriors are those
    of the read-out's source (:mod:`gtloc.model.readouts`).
    ``readout``: the time read-out that :attr:`best_time` answers with. ``hour_window_mass``: the hour-posterior mass
    an hour window holds (:meth:`hour_window`), fitted so that the window holds the true hour with probability
    ``hour_coverage`` (``None``: not fitted, the window's own mass is its probability; :mod:`gtloc.model.calibration`).
    Tensor fields are ``None`` when that half was not asked for.
    """

    place_topk: torch.Tensor | None = None
    place_probs: torch.Tensor | None = None
    place_radius_km: torch.Tensor | None = None
    time_topk: torch.Tensor | None = None
    time_probs: torch.Tensor | None = None
    month_hour_posterior: torch.Tensor | None = None
    month_posterior: torch.Tensor | None = None
    hour_posterior: torch.Tensor | None = None
    time_bayes: torch.Tensor | None = None
    domain_score: torch.Tensor | None = None
    in_domain: torch.Tensor | None = None
    known_place: torch.Tensor | None = None
    readout: str = DEFAULT_READOUT
    place_coverage: float | None = None
    hour_window_mass: float = HOUR_COVERAGE
    hour_coverage: float | None = None
    known_place_source: str = ""
    exif: list[PhotoExif | None] | None = None

    @property
    def latlon(self) -> torch.Tensor:
        """The best place ``(N, 2)`` degrees, everywhere: the top distinct place (near-duplicate gallery entries
        merged), the one that ``gtloc predict``, its files, ``verify``, the web page and the evaluation show."""
        if self.place_topk is None:
            raise GtlocError("this prediction has no places (not asked for)")
        return self.place_topk[:, 0]

    @property
    def place_prob(self) -> torch.Tensor:
        """``(N,)``: the probability of the best place (the merged mass of its gallery entries)."""
        return self.place_probs[:, 0]

    @property
    def place_name(self) -> list[str]:
        """The nearest town of each best place (GeoNames, offline): ``"Paris, Ile-de-France, FR"``."""
        from gtloc.places import place_names

        return place_names(self.latlon.numpy())

    @property
    def time(self) -> torch.Tensor:
        """Top-1 (argmax) times ``(N, 5)``."""
        if self.time_topk is None:
            raise GtlocError("this prediction has no times (not asked for, or the model has no time encoder)")
        return self.time_topk[:, 0]

    @property
    def best_time(self) -> torch.Tensor:
        """The time answer ``(N, 5)`` of :attr:`readout`: what every output shows as the best time."""
        return self.time if READOUT_ANSWER[self.readout] == "argmax" else self.time_bayes

    def hour_window(self, level: float | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The clock hours around the best time's hour that hold at least ``level`` (default
        :attr:`hour_window_mass`) of the hour posterior: first hour ``(N,)``, number of hours ``(N,)`` and the
        probability they hold ``(N,)``: ``hour_coverage`` where the run fitted it, else their posterior mass
        (:func:`~gtloc.retrieval.time_posterior.hour_window`; printed as ``14:00-16:00``)."""
        first, hours, mass = hour_window(
            self.hour_posterior, self.best_time[:, 2].long(), self.hour_window_mass if level is None else level
        )
        if self.hour_coverage is not None and level is None:
            mass = torch.full_like(mass, self.hour_coverage)
        return first, hours, mass

    def tensors(self) -> dict[str, torch.Tensor | None]:
        """The tensor fields by name (``None`` where not predicted)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name in _TENSOR_FIELDS}

    def with_tensors(self, **tensors: torch.Tensor | None) -> Prediction:
        """The same prediction (read-out, coverage, known-place source, EXIF) with other tensor fields."""
        return dataclasses.replace(self, **{**self.tensors(), **tensors})

    def row(self, i: int) -> Prediction:
        """Row ``i`` as a one-row prediction, with everything else (read-out, coverage, its EXIF) kept."""
        rows = {k: None if v is None else v[i : i + 1] for k, v in self.tensors().items()}
        exif = None if self.exif is None else self.exif[i : i + 1]
        return dataclasses.replace(self, **rows, exif=exif)

    def to(self, device: torch.device | str) -> Prediction:
        """The same prediction with every tensor on ``device``."""
        return self.with_tensors(**{k: None if v is None else v.to(device) for k, v in self.tensors().items()})

    def __len__(self) -> int:
        """N, the number of images predicted."""
        first = next((t for t in self.tensors().values() if t is not None), None)
        return 0 if first is None else int(first.shape[0])

    def __repr__(self) -> str:
        """Readable (:func:`prediction_text` with the alternatives): the first five images, each with its best place
        and time and its top places and times."""
        n = len(self)
        head = f"Prediction for {n} image{'' if n == 1 else 's'}:"
        return "\n".join(filter(None, [head, prediction_text(self, alternatives=True)]))


_TENSOR_FIELDS = (
    "place_topk",
    "place_probs",
    "place_radius_km",
    "time_topk",
    "time_probs",
    "month_hour_posterior",
    "month_posterior",
    "hour_posterior",
    "time_bayes",
    "domain_score",
    "in_domain",
    "known_place",
)


def place_line(pred: Prediction, i: int, town: str) -> str:
    """Row ``i``'s best place, ``town`` its nearest town: ``"near Paris, Ile-de-France, FR (48.8578, 2.2970); p 12 %;
    80 % within 350 km"``."""
    lat, lon = pred.latlon[i].tolist()
    parts = [f"near {town} ({latlon_text(lat, lon)})", f"p {percent(float(pred.place_probs[i, 0]))}"]
    if pred.place_radius_km is not None and pred.place_coverage is not None:
        parts.append(radius_text(float(pred.place_radius_km[i]), pred.place_coverage))
    return "; ".join(parts)


def time_window(pred: Prediction, i: int, window: tuple[torch.Tensor, ...] | None = None) -> str:
    """Row ``i``'s best time with the model's precision: ``"July, 14:00-16:00"`` (``window``: the prediction's
    :meth:`Prediction.hour_window`, computed here if not given)."""
    first, hours, _ = window if window is not None else pred.hour_window()
    return f"{month_text(int(pred.best_time[i, 0]))}, {hours_text(int(first[i]), int(hours[i]))}"


def time_note(pred: Prediction, i: int, window: tuple[torch.Tensor, ...] | None = None) -> str:
    """How sure row ``i``'s best time is: ``"July p 30 %; these hours p 52 %"`` (``window`` as for
    :func:`time_window`)."""
    window = window if window is not None else pred.hour_window()
    month = int(pred.best_time[i, 0])
    p_month = float(pred.month_posterior[i, month - 1])
    return f"{month_text(month)} p {percent(p_month)}; these hours p {percent(float(window[2][i]))}"


def time_line(pred: Prediction, i: int, window: tuple[torch.Tensor, ...] | None = None) -> str:
    """Row ``i``'s best time and how sure: ``"July, 14:00-16:00 (July p 30 %; these hours p 52 %; read-out mix)"``,
    plus the place it was predicted given, if any (``window`` as for :func:`time_window`)."""
    window = window if window is not None else pred.hour_window()
    parts = [time_note(pred, i, window), f"read-out {pred.readout}"]
    given = known_place_text(pred, i)
    if given:
        parts.append(given)
    return f"{time_window(pred, i, window)} ({'; '.join(parts)})"


def known_place_text(pred: Prediction, i: int) -> str:
    """``"given its EXIF place 51.5007, -0.1246"`` when row ``i``'s time was predicted given a known place, else
    ``""``."""
    if pred.known_place is None or not bool(has_label(pred.known_place[i])):
        return ""
    lat, lon = pred.known_place[i].tolist()
    return f"{KNOWN_PLACE_WORDS.get(pred.known_place_source, 'given a place')} {latlon_text(lat, lon)}"


def _alternative_time(t: Sequence[float]) -> str:
    """A time-gallery entry ``[month, day, hour, minute, ...]`` without the grid's day: ``"Jul 14:30"``."""
    month, _, hour, minute = (int(v) for v in t[:4])
    return f"{calendar.month_abbr[month]} {hour:02d}:{minute:02d}"


def prediction_text(
    pred: Prediction, paths: Sequence[str] | None = None, limit: int = MAX_SHOWN, alternatives: bool = False
) -> str:
    """Readable lines for the first ``limit`` pictures of ``pred``: for each, its name (``paths[i]``, else ``image
    i``), then ``where`` (the best place, its nearest town, its probability and the radius that holds the truth with
    the run's stated probability), ``when`` (the read-out's month and the clock hours around its hour that hold
    half the hour posterior, with their probabilities and the place the time was predicted given, if any),
    ``EXIF`` (what the photo's EXIF says, when read) and the domain check; with ``alternatives``, the top places
    and times below. Then ``... and N more`` (when some were listed) and, when any picture is outside the model's
    domain, the warning (:func:`~gtloc.model.domain.out_of_domain_warning`)."""
    from gtloc.places import place_names

    n = len(pred) if paths is None else len(paths)
    names = [f"image {i}" for i in range(n)] if paths is None else list(paths)
    shown = min(limit, n)
    lines = []
    towns = place_names(pred.latlon[:shown].numpy()) if pred.place_topk is not None and shown else []
    window = pred.hour_window() if pred.time_topk is not None else None
    for i in range(shown):
        lines.append(names[i])
        if pred.place_topk is not None:
            lines.append(f"  where  {place_line(pred, i, towns[i])}")
        if pred.time_topk is not None:
            lines.append(f"  when   {time_line(pred, i, window)}")
        if pred.exif is not None and pred.exif[i] is not None:
            lines.append(f"  EXIF   {exif_text(pred.exif[i])}")
        if pred.domain_score is not None:
            lines.append(f"  {domain_label(bool(pred.in_domain[i]), float(pred.domain_score[i]))}")
        if alternatives and pred.place_topk is not None:
            found = [(j, ll) for j, ll in enumerate(pred.place_topk[i].tolist()) if ll[0] == ll[0]]
            nearby = place_names([ll for _, ll in found]) if found else []
            for (j, (lat, lon)), town in zip(found, nearby, strict=True):
                p = percent(float(pred.place_probs[i, j]))
                lines.append(f"  place {j + 1}  {lat:8.4f}, {lon:9.4f}  p {p:>7}  near {town}")
        if alternatives and pred.time_topk is not None:
            for j, (t, p) in enumerate(zip(pred.time_topk[i].tolist(), pred.time_probs[i].tolist(), strict=True)):
                lines.append(f"  time {j + 1}   {_alternative_time(t)}  p {percent(p):>7}")
    if 0 < shown < n:
        lines.append(f"... and {n - shown} more")
    if pred.in_domain is not None:
        warning = out_of_domain_warning(pred.in_domain.tolist(), pred.domain_score.tolist(), names)
        if warning:
            lines.append(f"warning: {warning}")
    return "\n".join(lines)
