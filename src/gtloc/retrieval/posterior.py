"""Posteriors over the galleries and their temperatures: the month x hour grid of a time posterior, the posterior
mass near a place, and the one-parameter temperature fit that calibrates them on held-out pictures.

A posterior is ``softmax(scale * <query, gallery> / T)``: ``scale`` is the model's learned logit scale and ``T``
the temperature fitted after training (``T > 1`` flattens an over-confident posterior). Training fits ``T``
(:func:`fit_temperature`), prediction applies it; both share these functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from gtloc.geo import haversine_km
from gtloc.retrieval.readout import mix

# The fit searches log T in [log 1/20, log 20]: 25 steps, then 25 finer ones around the best (about 1 % apart).
TEMPERATURE_RANGE = (0.05, 20.0)
FIT_STEPS = 25
PLACE_RADIUS_KM = 750.0
# Rows of an (N, G) posterior over the 100k GPS gallery handled at once (float64: 51 MB per intermediate).
ROWS_PER_STEP = 64


def month_hour_cells(labels: torch.Tensor) -> torch.Tensor:
    """Time-gallery rows ``(T, 5)`` -> each row's (calendar month, clock hour) cell of the 12 x 24 grid, ``(T,)``
    long in ``[0, 288)``: ``(month - 1) * 24 + hour``."""
    return (labels[:, 0].long() - 1) * 24 + labels[:, 2].long()


def month_hour_grid(posterior: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Gallery posterior ``(N, T)`` -> the joint month x hour posterior ``(N, 12, 24)`` (each entry's probability
    added into its cell, :func:`month_hour_cells`); its row and column sums are the month and hour marginals."""
    joint = posterior.new_zeros(posterior.shape[0], 12 * 24).index_add_(1, cells, posterior)
    return joint.view(-1, 12, 24)


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
    cells: torch.Tensor,
    truth: torch.Tensor,
    temperature: float,
    neighbours: torch.Tensor | None = None,
    weight: float = 1.0,
) -> float:
    """The loss of the probabilities shown with a time answer at ``temperature``: the mean binary cross-entropy of
    "the answer's calendar month is right" against the probability the month marginal gives that month, plus the
    same for the clock hour. The answers are the marginals' argmax at the learned scale (``T = 1``) and stay fixed,
    so the loss is proper: its minimum is the temperature whose shown probabilities match how often the answers
    are right. ``logits`` ``(N, T)`` scaled similarities to the time gallery, ``cells`` its
    :func:`month_hour_cells`, ``truth`` ``(N, 5)`` local times. (The log-likelihood of the true month and hour fits
    the whole posterior instead; on the demo it sharpened it until the shown probabilities were over-confident:
    test-world ECE 0.041 / 0.030 against 0.024 / 0.006 with this loss.)

    ``neighbours`` ``(N, T)``: a posterior that the shown one mixes in unscaled, ``weight * softmax(logits / T) +
    (1 - weight) * neighbours`` (the ``mix`` read-out's kNN part), so that ``T`` calibrates what is shown."""

    def shown(t: float) -> torch.Tensor:
        return month_hour_grid(mix(torch.softmax(logits.double() / t, dim=1), neighbours, weight), cells)

    base = shown(1.0)
    month, hour = base.sum(dim=2).argmax(dim=1), base.sum(dim=1).argmax(dim=1)
    grid = shown(temperature)
    rows = torch.arange(len(truth))
    month_p, hour_p = grid.sum(dim=2)[rows, month], grid.sum(dim=1)[rows, hour]
    month_hit = (month + 1) == truth[:, 0].long()
    hour_hit = hour == truth[:, 2].long()
    return float(_bce(month_p, month_hit) + _bce(hour_p, hour_hit))


def place_answer_loss(logits: torch.Tensor, near_top1: torch.Tensor, hit: torch.Tensor, temperature: float) -> float:
    """Mean binary cross-entropy of "the true place is within the radius of the top-1 place" (``hit`` ``(N,)``
    bool) against the posterior mass the model puts there at ``temperature`` (the confidence shown for a place
    answer): ``logits`` ``(N, G)``, ``near_top1`` ``(N, G)`` the :func:`near_mask` of the top-1 places."""
    return float(_bce(mass_within(logits / temperature, near_top1), hit))
