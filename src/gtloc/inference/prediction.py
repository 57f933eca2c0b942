"""What a prediction is (:class:`Prediction`) and how it reads (:func:`prediction_text`, the one readable form:
``print(prediction)`` and ``gtloc predict`` both show it). Its files (CSV, JSON) are
:mod:`gtloc.inference.prediction_files`.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gtloc.errors import GtlocError
from gtloc.model.domain import domain_label, out_of_domain_warning
from gtloc.model.readouts import DEFAULT_READOUT, READOUT_ANSWER

MAX_SHOWN = 5


@dataclass(repr=False)
class Prediction:
    """Predictions for N images with top-k alternatives.

    ``place_topk`` ``(N, k, 2)`` degrees and ``place_probs`` ``(N, k)`` (softmax over the whole GPS gallery);
    ``time_topk`` ``(N, k, 5)`` local time and ``time_probs`` ``(N, k)``; ``month_hour_posterior`` ``(N, 12, 24)``:
    the joint time posterior by calendar month (Jan..Dec) and clock hour (0..23), each grid summing to 1
    (:class:`~gtloc.retrieval.time_posterior.TimePosterior`), what the web page and the reports draw;
    ``month_posterior`` ``(N, 12)`` and ``hour_posterior`` ``(N, 24)``: its row and column sums;
    ``time_bayes`` ``(N, 5)``: the gallery month and hour that minimise the expected cyclic month and hour errors;
    ``domain_score`` ``(N,)`` percent and ``in_domain`` ``(N,)`` bool: how typical each picture is of the training
    pictures (:mod:`gtloc.model.domain`; ``None`` when the run has no domain profile).
    Probabilities use the run's calibrated temperatures (:mod:`gtloc.model.calibration`); the posteriors are those
    of the read-out's source (:mod:`gtloc.model.readouts`).
    ``readout``: the time read-out that :attr:`best_time` answers with.
    Tensor fields are ``None`` when that half was not asked for.
    """

    place_topk: torch.Tensor | None = None
    place_probs: torch.Tensor | None = None
    time_topk: torch.Tensor | None = None
    time_probs: torch.Tensor | None = None
    month_hour_posterior: torch.Tensor | None = None
    month_posterior: torch.Tensor | None = None
    hour_posterior: torch.Tensor | None = None
    time_bayes: torch.Tensor | None = None
    domain_score: torch.Tensor | None = None
    in_domain: torch.Tensor | None = None
    readout: str = DEFAULT_READOUT

    @property
    def latlon(self) -> torch.Tensor:
        """Top-1 places ``(N, 2)``: the best place, everywhere."""
        return self.place_topk[:, 0]

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

    def tensors(self) -> dict[str, torch.Tensor | None]:
        """The tensor fields by name (``None`` where not predicted)."""
        return {k: v for k, v in vars(self).items() if k != "readout"}

    def to(self, device: torch.device | str) -> Prediction:
        """The same prediction with every tensor on ``device``."""
        moved = {k: None if v is None else v.to(device) for k, v in self.tensors().items()}
        return Prediction(**moved, readout=self.readout)

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


def _day_time(t: Sequence[float]) -> str:
    """``[month, day, hour, minute, ...]`` -> ``"15 Jan 16:30"``."""
    month, day, hour, minute = (int(v) for v in t[:4])
    return f"{day:2d} {calendar.month_abbr[month]} {hour:02d}:{minute:02d}"


def prediction_text(
    pred: Prediction, paths: Sequence[str] | None = None, limit: int = MAX_SHOWN, alternatives: bool = False
) -> str:
    """Readable lines for the first ``limit`` pictures of ``pred``, one each: its name (``paths[i]``, else ``image
    i``), the best place with the nearest town and its probability, the read-out's time with the probabilities of
    its month and hour, and whether the picture is in the model's domain; with ``alternatives``, the picture's top
    places and times below it. Then ``... and N more`` (when some were listed) and, when any picture is outside
    the model's domain, the warning (:func:`~gtloc.model.domain.out_of_domain_warning`)."""
    from gtloc.places import place_names

    n = len(pred) if paths is None else len(paths)
    names = [f"image {i}" for i in range(n)] if paths is None else list(paths)
    shown = min(limit, n)
    places = None if pred.place_topk is None else pred.place_topk[:shown, : None if alternatives else 1]
    towns = place_names(places.reshape(-1, 2).numpy()) if places is not None and shown else []
    lines = []
    for i in range(shown):
        parts = [names[i]]
        if places is not None:
            (lat, lon), k = places[i, 0].tolist(), places.shape[1]
            parts.append(f"{lat:.4f}, {lon:.4f} (near {towns[i * k]}; p={float(pred.place_probs[i, 0]):.2g})")
        if pred.time_topk is not None:
            best = pred.best_time[i].tolist()
            p_month = float(pred.month_posterior[i, int(best[0]) - 1])
            p_hour = float(pred.hour_posterior[i, int(best[2])])
            parts.append(
                f"{_day_time(best).lstrip()} (read-out {pred.readout}; p(month)={p_month:.2f}, p(hour)={p_hour:.2f})"
            )
        if pred.domain_score is not None:
            parts.append(domain_label(bool(pred.in_domain[i]), float(pred.domain_score[i])))
        lines.append("  ".join(parts))
        if alternatives and places is not None:
            for j, ((lat, lon), p) in enumerate(zip(places[i].tolist(), pred.place_probs[i].tolist(), strict=True)):
                lines.append(f"  place {j + 1}  {lat:8.4f}, {lon:9.4f}  p={p:.3f}  near {towns[i * k + j]}")
        if alternatives and pred.time_topk is not None:
            for j, (t, p) in enumerate(zip(pred.time_topk[i].tolist(), pred.time_probs[i].tolist(), strict=True)):
                lines.append(f"  time {j + 1}   {_day_time(t)}  p={p:.3f}")
    if 0 < shown < n:
        lines.append(f"... and {n - shown} more")
    if pred.in_domain is not None:
        warning = out_of_domain_warning(pred.in_domain.tolist(), pred.domain_score.tolist(), names)
        if warning:
            lines.append(f"warning: {warning}")
    return "\n".join(lines)
