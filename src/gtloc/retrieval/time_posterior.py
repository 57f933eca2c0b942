"""The time posterior over the time gallery: built in one place, read out in one place.

**Built** (:meth:`TimePosterior.build`) from the scaled similarities ``logits`` ``(N, T)`` of query embeddings to the
time gallery's (:meth:`TimePosterior.of_queries` sums several queries' logits: a product of experts, as when the
place is known), divided by the calibrated time ``temperature``, plus the log of the training time prior when there
is one, then by its ``source`` (:data:`gtloc.model.readouts.TIME_POSTERIORS`):

* ``gallery``: ``softmax(logits)``, the model's posterior (the paper's);
* ``knn``: the training neighbours' kNN posterior instead (:mod:`gtloc.retrieval.neighbours`);
* ``mix``: ``w * softmax(logits) + (1 - w) * knn`` with ``w = n / (n + MIX_HALF_N)`` for ``n`` training pictures
  (:func:`mix_weight`): half and half on a few hundred pictures, mostly the model on thousands (measured, see
  docs/small-data.md). The weight may differ for the month and the hour (:class:`MixWeights`; small runs calibrated on
  held-out cameras use fixed ones: :mod:`gtloc.training.small_data`); the posterior is then the one of
  :func:`mix_posteriors`, whose month marginal is the month mix and whose hour marginal is the hour mix, exactly.

Without a kNN posterior (a run without training neighbours, or no backbone features for the queries) every source
reads the gallery alone.

**Read out**: the joint month x hour posterior ``(N, 12, 24)`` (each entry's probability added into its calendar
month and clock hour cell), its row and column sums (the month ``(N, 12)`` and hour ``(N, 24)`` marginals), the
top-k gallery entries, and the best time under a named read-out (:mod:`gtloc.model.readouts`): the posterior's top
entry (``argmax``) or its least-expected-error answer (the others). The protocol scores a time by its cyclic month
error and its cyclic hour error, each a mean absolute error; the answer that minimises the expected error is, for
each of the two, the candidate with the least posterior-weighted cyclic distance to the gallery's times. Unlike the
argmax (a mode) it does not jump between the two modes of an AM/PM or spring/autumn ambiguity.

Prediction, the web page, verification, the temperature fit and training's validation all go through
:class:`TimePosterior`, so they show and score the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from gtloc.errors import GtlocError
from gtloc.model.readouts import READOUT_ANSWER, TIME_POSTERIORS, check_readout
from gtloc.retrieval.place_answer import conformal_level
from gtloc.retrieval.search import gallery_logits
from gtloc.timecode import HOUR_PERIOD, MONTH_PERIOD, cyclic_difference, hour_fraction, protocol_month_value

MIX_HALF_N = 250


def mix_weight(n_train: int) -> float:
    """Weight of the model's gallery posterior in the ``mix`` posterior for ``n_train`` training pictures."""
    return n_train / (n_train + MIX_HALF_N)


@dataclass(frozen=True)
class MixWeights:
    """The model's weight in the ``mix`` posterior for the ``month`` and for the ``hour`` (each in [0, 1]; the
    neighbours' is one minus it)."""

    month: float
    hour: float

    @classmethod
    def of(cls, weight: float | MixWeights) -> MixWeights:
        """``weight`` itself, or one weight for both parts."""
        return weight if isinstance(weight, MixWeights) else cls(float(weight), float(weight))


def mix_posteriors(model: torch.Tensor, knn: torch.Tensor, weights: MixWeights, cells: torch.Tensor) -> torch.Tensor:
    """The ``mix`` of a model posterior and a kNN posterior ``(N, T)`` over a time gallery whose entries lie in the
    month x hour ``cells`` ``(T,)`` (:func:`month_hour_cells`), with the model's month weight ``a`` and hour weight
    ``b``: ``min(a, b) * model + (1 - max(a, b)) * knn + |a - b| * X``, where ``X`` is, cell by cell, the month
    marginal of the part with the larger month weight times the hour marginal of the other (spread over a cell's
    entries as the two posteriors' mean is). Its month marginal is ``a * model + (1 - a) * knn``'s and its hour
    marginal ``b * model + (1 - b) * knn``'s (when every cell holds a gallery entry, as the time grid's do); one
    weight for both is the plain mix."""
    low, high = min(weights.month, weights.hour), max(weights.month, weights.hour)
    mixed = low * model + (1 - high) * knn
    if high == low:
        return mixed
    grid, near = month_hour_grid(model, cells), month_hour_grid(knn, cells)
    month_from, hour_from = (grid, near) if weights.month > weights.hour else (near, grid)
    product = (month_from.sum(dim=2)[:, :, None] * hour_from.sum(dim=1)[:, None, :]).flatten(1)
    product = product * (torch.bincount(cells, minlength=288) > 0)  # only the cells the gallery has
    product = product / product.sum(dim=1, keepdim=True).clamp_min(1e-30)
    mean = (model + knn) / 2
    within = mean / (grid + near).flatten(1)[:, cells].mul(0.5).clamp_min(1e-30)
    return mixed + (high - low) * product[:, cells] * within


def month_hour_cells(labels: torch.Tensor) -> torch.Tensor:
    """Time-gallery rows ``(T, 5)`` -> each row's (calendar month, clock hour) cell of the 12 x 24 grid, ``(T,)``
    long in ``[0, 288)``: ``(month - 1) * 24 + hour``."""
    return (labels[:, 0].long() - 1) * 24 + labels[:, 2].long()


def month_hour_grid(posterior: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Gallery posterior ``(N, T)`` -> the joint month x hour posterior ``(N, 12, 24)`` (each entry's probability
    added into its cell, :func:`month_hour_cells`); its row and column sums are the month and hour marginals."""
    joint = posterior.new_zeros(posterior.shape[0], 12 * 24).index_add_(1, cells, posterior)
    return joint.view(-1, 12, 24)


class TimeGallery:
    """A time gallery's labels ``(T, 5)`` (local ``[month, day, hour, minute, second]``) with what reading a
    posterior over them needs, computed once: each entry's month x hour ``cell`` and, for every candidate month
    and hour answer, its cyclic cost against every entry."""

    def __init__(self, labels: torch.Tensor):
        self.labels = labels
        self.cell = month_hour_cells(labels)
        month_values = protocol_month_value(labels)
        hour_values = hour_fraction(labels)
        month_choice = torch.unique(month_values)
        hour_choice = torch.unique(hour_values)
        # Cost of answering candidate c when the truth is gallery entry t: (C, T).
        self.month_cost = cyclic_difference(month_choice[:, None], month_values[None, :], MONTH_PERIOD)
        self.hour_cost = cyclic_difference(hour_choice[:, None], hour_values[None, :], HOUR_PERIOD)
        # A (month, day) row for each month candidate and an (hour, minute, second) row for each hour candidate.
        self.month_rows = labels[[int((month_values == v).nonzero()[0]) for v in month_choice]][:, :2]
        self.hour_rows = labels[[int((hour_values == v).nonzero()[0]) for v in hour_choice]][:, 2:]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class TimePosterior:
    """A time posterior ``probs`` ``(N, T)`` over the time ``gallery`` (rows sum to 1) and its read-outs (module
    docstring). Make one with :meth:`build` or :meth:`of_queries`."""

    probs: torch.Tensor
    gallery: TimeGallery

    @classmethod
    def build(
        cls,
        gallery: TimeGallery,
        logits: torch.Tensor,
        *,
        temperature: float = 1.0,
        log_prior: torch.Tensor | None = None,
        source: str = "gallery",
        knn: torch.Tensor | None = None,
        mix_weight: float | MixWeights = 1.0,
    ) -> TimePosterior:
        """The posterior of scaled similarities ``logits`` ``(N, T)`` to ``gallery``: ``softmax(logits / temperature
        + log_prior)`` (``log_prior`` ``(T,)``), then per ``source`` (``gallery``, ``knn``, ``mix``) kept, replaced by
        or mixed at ``mix_weight`` (one weight, or one for the month and one for the hour: :func:`mix_posteriors`)
        with the kNN posterior ``knn`` ``(N, T)`` (without ``knn``: kept)."""
        if source not in TIME_POSTERIORS:
            raise GtlocError(f"time posterior source must be one of {', '.join(TIME_POSTERIORS)}, got {source!r}")
        if knn is not None and source == "knn":
            return cls(knn.to(logits.device), gallery)
        if temperature != 1.0:
            logits = logits / temperature
        if log_prior is not None:
            logits = logits + log_prior
        probs = torch.softmax(logits, dim=1)
        if knn is not None and source == "mix":
            knn = knn.to(probs.device, probs.dtype)
            probs = mix_posteriors(probs, knn, MixWeights.of(mix_weight), gallery.cell.to(probs.device))
        return cls(probs, gallery)

    @classmethod
    def of_queries(
        cls,
        gallery: TimeGallery,
        terms: Sequence[tuple[torch.Tensor, float]],
        embeddings: torch.Tensor,
        **build: object,
    ) -> TimePosterior:
        """The posterior of ``terms``, ``(queries (N, 512), scale)`` pairs whose logits ``scale * <query, time>``
        against the gallery's ``embeddings`` ``(T, 512)`` are summed (a product of experts); ``build``: the
        keywords of :meth:`build`."""
        logits = sum(scale * gallery_logits(queries, embeddings) for queries, scale in terms)
        return cls.build(gallery, logits, **build)

    @cached_property
    def month_hour(self) -> torch.Tensor:
        """The joint month x hour posterior ``(N, 12, 24)``: each gallery entry's probability added into its cell."""
        return month_hour_grid(self.probs, self.gallery.cell)

    @property
    def month(self) -> torch.Tensor:
        """The month marginal ``(N, 12)``, Jan..Dec: the row sums of :attr:`month_hour`."""
        return self.month_hour.sum(dim=2)

    @property
    def hour(self) -> torch.Tensor:
        """The hour marginal ``(N, 24)``, 0h..23h: the column sums of :attr:`month_hour`."""
        return self.month_hour.sum(dim=1)

    def top(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` most likely gallery times ``(N, k, 5)`` and their probabilities ``(N, k)`` (``k`` at most the
        gallery's size)."""
        probs, idx = self.probs.topk(min(k, len(self.gallery)), dim=1)
        return self.gallery.labels[idx], probs

    def argmax(self) -> torch.Tensor:
        """``(N, 5)``: the posterior's most likely gallery time (the paper's read-out)."""
        return self.top(1)[0][:, 0]

    def bayes(self) -> torch.Tensor:
        """``(N, 5)``: the month and the hour of least expected cyclic error under the posterior."""
        month = (self.probs @ self.gallery.month_cost.T).argmin(dim=1)
        hour = (self.probs @ self.gallery.hour_cost.T).argmin(dim=1)
        return torch.cat([self.gallery.month_rows[month], self.gallery.hour_rows[hour]], dim=1)

    def best(self, readout: str) -> torch.Tensor:
        """``(N, 5)``: the answer of the named ``readout`` (:data:`gtloc.model.readouts.READOUTS`) from this
        posterior (build it from the read-out's source, :data:`gtloc.model.readouts.READOUT_POSTERIOR`)."""
        return self.argmax() if READOUT_ANSWER[check_readout(readout)] == "argmax" else self.bayes()


def _grow(hour_posterior: torch.Tensor, hour: torch.Tensor, share: float):
    """The windows of clock hours grown around each ``hour`` ``(N,)`` over the hour posterior ``(N, 24)``, one step
    at a time (module function :func:`hour_window`): yields ``(first, hours, mass, growing)`` before each step, rows
    whose mass reached ``share`` no longer growing."""
    p = hour_posterior.double()
    rows = torch.arange(len(p))
    first, hours = hour.long() % 24, torch.ones(len(p), dtype=torch.long)
    mass = p[rows, first]
    for _ in range(24):
        growing = (mass < share - 1e-9) & (hours < 24)
        yield first, hours, mass, growing
        if not bool(growing.any()):
            return
        before, after = p[rows, (first - 1) % 24], p[rows, (first + hours) % 24]
        earlier = growing & (before > after)
        later = growing & ~earlier
        mass = mass + torch.where(earlier, before, 0.0) + torch.where(later, after, 0.0)
        first = torch.where(earlier, (first - 1) % 24, first)
        hours = hours + growing.long()


def hour_window(hour_posterior: torch.Tensor, hour: torch.Tensor, level: float) -> tuple[torch.Tensor, ...]:
    """The window of clock hours around each answer's ``hour`` ``(N,)`` (0..23) that holds at least ``level`` of the
    hour posterior ``(N, 24)``: grown from the answer's hour one hour at a time, on the side whose next hour is more
    probable (the later side on a tie), around midnight where need be. Returns the first hour ``(N,)`` (0..23), the
    number of hours ``(N,)`` (1..24; the window is ``[first, first + hours)`` modulo 24) and the mass it holds
    ``(N,)``."""
    *_, (first, hours, mass, _) = _grow(hour_posterior, hour, level)
    return first, hours, mass


def window_mass_reaching(hour_posterior: torch.Tensor, hour: torch.Tensor, true_hour: torch.Tensor) -> torch.Tensor:
    """``(N,)``: the mass of the first window grown around ``hour`` (as :func:`hour_window` grows it) that holds the
    true clock hour ``true_hour`` ``(N,)``: the conformal score of an hour window (the windows are nested, so a
    window of mass level ``m`` holds the truth exactly when this is at most ``m``)."""
    reached = torch.full((len(hour),), math.nan, dtype=torch.float64)
    for first, hours, mass, _ in _grow(hour_posterior, hour, math.inf):
        inside = ((true_hour.long() - first) % 24 < hours) & reached.isnan()
        reached = torch.where(inside, mass, reached)
    return reached


def fit_window_mass(
    hour_posterior: torch.Tensor, hour: torch.Tensor, true_hour: torch.Tensor, coverage: float
) -> float:
    """The hour-posterior mass an hour window must hold to hold the true hour with probability ``coverage``: the
    split-conformal quantile (:func:`~gtloc.retrieval.place_answer.conformal_level`) of the held-out pictures'
    :func:`window_mass_reaching` for answers ``hour`` ``(R,)`` under their posteriors ``(R, 24)``."""
    return conformal_level(window_mass_reaching(hour_posterior, hour, true_hour), coverage)
