"""Posteriors over the galleries and their calibration: the posterior mass near a place, how sharp a posterior is,
and the one-parameter temperature fit that calibrates them on held-out pictures.

A posterior is ``softmax(scale * <query, gallery> / T)``: ``scale`` is the model's learned logit scale and ``T``
the temperature fitted after training (``T > 1`` flattens an over-confident posterior). Training fits ``T``
(:func:`fit_temperature`), prediction applies it; both share these functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from gtloc.geo import haversine_km
from gtloc.retrieval.time_posterior import MixWeights, TimeGallery, TimePosterior

# The fit searches log T in [log 1/20, log 20]: 25 steps, then 25 finer ones around the best (about 1 % apart).
TEMPERATURE_RANGE = (0.05, 20.0)
FIT_STEPS = 25
PLACE_RADIUS_KM = 750.0
# Rows of an (N, G) posterior over the 100k GPS gallery handled at once (float64: 51 MB per intermediate).
ROWS_PER_STEP = 64


def near_mask(gallery_latlon: torch.Tensor, centres: torch.Tensor, radius_km: float = PLACE_RADIUS_KM) -> torch.Tensor:
    """``(N, G)`` bool: which GPS-gallery entries (``(G, 2)`` degrees) lie within ``radius_km`` of each centre
    (``(N, 2)`` degrees). Computed :data:`ROWS_PER_STEP` centres at a time: the float64 distances of 300 centres to
    the 100k MP-16 places are 240 MB per intermediate."""
    gallery = gallery_latlon[None, :, :].double()
    return torch.cat(
        [haversine_km(part[:, None, :].double(), gallery) <= radius_km for part in centres.split(ROWS_PER_STEP)]
    )


def mass_within(logits: torch.Tensor, near: torch.Tensor) -> torch.Tensor:
    """Posterior mass of the gallery entries marked in ``near`` ``(N, G)`` (:func:`near_mask`) under the softmax of
    ``logits`` ``(N, G)`` (scaled similarities over the whole gallery) -> ``(N,)`` in [0, 1]; row by row in steps
    of :data:`ROWS_PER_STEP` (each row's value does not depend on the others)."""
    parts = []
    for rows, marked in zip(logits.split(ROWS_PER_STEP), near.split(ROWS_PER_STEP), strict=True):
        parts.append((torch.softmax(rows.double(), dim=1) * marked).sum(dim=1))
    return torch.cat(parts).clamp(0.0, 1.0).to(logits.dtype) if parts else logits.new_zeros(0)


def sharpness(posterior: torch.Tensor) -> torch.Tensor:
    """``1 - H(p) / log K`` of each row of ``posterior`` ``(N, K)``: 0 = uniform, 1 = one alternative has it all."""
    entropy = -(posterior * posterior.clamp_min(1e-30).log()).sum(dim=1)
    return (1.0 - entropy / math.log(posterior.shape[1])).clamp(0.0, 1.0)


def fit_temperature(loss_at: Callable[[float], float]) -> float:
    """The temperature with the lowest held-out loss ``loss_at(T)`` (a binary cross-entropy of the shown
    probabilities: proper, so its minimum is the calibrated temperature), searched on a log grid over
    :data:`TEMPERATURE_RANGE` and refined once around the best point. A grid, not gradient steps: one number,
    fitted on a few hundred rows."""
    low, high = math.log(TEMPERATURE_RANGE[0]), math.log(TEMPERATURE_RANGE[1])
    best = low
    for _ in range(2):
        grid = torch.linspace(low, high, FIT_STEPS, dtype=torch.float64)
        losses = torch.tensor([loss_at(math.exp(float(t))) for t in grid])
        i = int(losses.argmin())
        best = float(grid[i])
        step = float(grid[1] - grid[0])
        low, high = best - step, best + step
    return math.exp(best)


def _bce(confidence: torch.Tensor, hit: torch.Tensor) -> torch.Tensor:
    confidence, hit = confidence.double().clamp(1e-6, 1 - 1e-6), hit.double()
    return -(hit * confidence.log() + (1 - hit) * (1 - confidence).log()).mean()


def time_answer_loss(
    logits: torch.Tensor,
    gallery: TimeGallery,
    truth: torch.Tensor,
    temperature: float,
    neighbours: torch.Tensor | None = None,
    weight: float | MixWeights = 1.0,
) -> float:
    """The loss of the probabilities shown with a time answer at ``temperature``: the mean binary cross-entropy of
    "the answer's calendar month is right" against the probability the month marginal gives that month, plus the
    same for the clock hour. The answers are the marginals' argmax at the learned scale (``T = 1``) and stay fixed,
    so the loss is proper: its minimum is the temperature whose shown probabilities match how often the answers
    are right. ``logits`` ``(N, T)`` scaled similarities to the time ``gallery``, ``truth`` ``(N, 5)`` local times.
    (The log-likelihood of the true month and hour fits the whole posterior instead; on the demo it sharpened it
    until the shown probabilities were over-confident: test-world ECE 0.041 / 0.030 against 0.024 / 0.006 with this
    loss.)

    ``neighbours`` ``(N, T)``: a kNN posterior that the shown one mixes in unscaled (the ``mix`` posterior,
    :class:`~gtloc.retrieval.time_posterior.TimePosterior`, at ``weight``: one, or the month's and the hour's), so that
    ``T`` calibrates what is shown."""

    def shown(t: float) -> TimePosterior:
        return TimePosterior.build(
            gallery, logits.double(), temperature=t, source="mix", knn=neighbours, mix_weight=weight
        )

    base = shown(1.0)
    month, hour = base.month.argmax(dim=1), base.hour.argmax(dim=1)
    posterior = shown(temperature)
    rows = torch.arange(len(truth))
    month_p, hour_p = posterior.month[rows, month], posterior.hour[rows, hour]
    month_hit = (month + 1) == truth[:, 0].long()
    hour_hit = hour == truth[:, 2].long()
    return float(_bce(month_p, month_hit) + _bce(hour_p, hour_hit))


def place_answer_loss(logits: torch.Tensor, near_top1: torch.Tensor, hit: torch.Tensor, temperature: float) -> float:
    """Mean binary cross-entropy of "the true place is within the radius of the top-1 place" (``hit`` ``(N,)``
    bool) against the posterior mass the model puts there at ``temperature`` (the confidence shown for a place
    answer): ``logits`` ``(N, G)``, ``near_top1`` ``(N, G)`` the :func:`near_mask` of the top-1 places."""
    return float(_bce(mass_within(logits / temperature, near_top1), hit))
