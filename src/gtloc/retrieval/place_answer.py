"""The one place answer: distinct places from the GPS gallery's top entries, and a radius that holds the truth with a
stated probability.

**Distinct places** (:func:`merge_places`): a GPS gallery holds many photos of one town, so its top entries often lie
within a few hundred metres of each other. The best :data:`PLACE_CANDIDATES` entries are merged greedily in rank
order: an entry closer than :data:`DISTINCT_KM` to an already kept place adds its probability to the nearest one,
else it founds a new place. Places are ranked by their merged probability and stand at their founding (best) entry,
a real gallery coordinate. The first is *the* best place: ``Prediction.latlon``, what ``predict``, ``verify``, the
web page and the evaluation show and score.

**Radius** (:func:`radius_km`): the smallest radius around the best place (of :data:`RADII_KM`, readable steps) whose
disc holds at least a mass level ``m`` of the place posterior. The level is fitted on the run's held-out pictures
at the end of training (:func:`fit_radius_mass`, split conformal prediction): ``m`` is the ``coverage`` quantile of
the posterior mass inside the disc that reaches each held-out picture's true place, so that on pictures like them
the disc holds the truth with probability ``coverage`` (``gtloc.model.calibration.PLACE_COVERAGE``). A run without
the fit takes the posterior at its word: ``m = coverage``.

Distances on the sphere are compared as dot products of unit vectors (double precision: 1 km is a cosine
difference of 1e-8), which is far cheaper than a haversine over a 100k-entry gallery.
"""

from __future__ import annotations

import math

import torch

from gtloc.geo import EARTH_RADIUS_KM

DISTINCT_KM = 10.0
PLACE_CANDIDATES = 64
HALF_EARTH_KM = math.pi * EARTH_RADIUS_KM
_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
RADII_KM = (*(round(m * 10**e, 6) for e in range(5) for m in _STEPS if m * 10**e <= 20_000), HALF_EARTH_KM)
"""The radii a radius answer may take (km): readable steps at most a third apart, from 1 km to anywhere on Earth."""


def merge_places(
    latlon: torch.Tensor, probs: torch.Tensor, radius_km: float = DISTINCT_KM
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ranked gallery entries ``latlon`` ``(N, C, 2)`` degrees with probabilities ``probs`` ``(N, C)`` (best first)
    -> distinct places ``(N, C, 2)`` and their merged probabilities ``(N, C)``, most probable first (module
    docstring). A row with fewer than ``C`` distinct places ends in NaN places of probability 0."""
    n, c = probs.shape
    u = unit_vectors(latlon)
    cosine = u @ u.transpose(1, 2)  # (N, C, C): nearer is a larger cosine
    close_above = math.cos(radius_km / EARTH_RADIUS_KM)
    founder = torch.zeros(n, c, dtype=torch.bool, device=probs.device)
    owner = torch.arange(c, device=probs.device).repeat(n, 1)
    if c:
        founder[:, 0] = True
    for i in range(1, c):
        near = cosine[:, i, :i].masked_fill(~founder[:, :i], -2.0)
        nearest = near.argmax(dim=1)
        close = near.gather(1, nearest[:, None])[:, 0] > close_above
        founder[:, i] = ~close
        owner[:, i] = torch.where(close, nearest, owner[:, i])
    mass = torch.zeros_like(probs).scatter_add_(1, owner, probs)
    order = torch.sort(torch.where(founder, mass, -1.0), dim=1, descending=True, stable=True).indices
    kept = founder.gather(1, order)
    places = latlon.gather(1, order[..., None].expand(-1, -1, 2)).masked_fill(~kept[..., None], math.nan)
    return places, mass.gather(1, order).masked_fill(~kept, 0.0)


def unit_vectors(latlon: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` degrees -> ``(..., 3)`` unit vectors, double precision."""
    lat, lon = torch.deg2rad(latlon[..., 0].double()), torch.deg2rad(latlon[..., 1].double())
    return torch.stack([lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()], dim=-1)


def _cosines(centres: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Cosine of the angle between each centre ``(N, 2)`` and each point, ``(G, 2)`` shared or ``(N, G, 2)`` per
    row -> ``(N, G)``."""
    u = unit_vectors(centres)
    if points.dim() == 2:
        return u @ unit_vectors(points).T
    return torch.einsum("nd,ngd->ng", u, unit_vectors(points))


def mass_by_radius(centres: torch.Tensor, points: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """``(N, R)``: the probability mass of the ``points`` (``(G, 2)`` degrees, or ``(N, G, 2)``: each row's own)
    within each of :data:`RADII_KM` of each centre ``(N, 2)``, under ``probs`` ``(N, G)`` (rows summing to 1)."""
    radii = torch.tensor(RADII_KM, dtype=torch.float64, device=probs.device)
    # d <= r  <=>  -cos(d / R) <= -cos(r / R); bucketize gives each point the first radius that holds it.
    boundaries = -torch.cos(radii / EARTH_RADIUS_KM)
    bins = torch.bucketize(-_cosines(centres, points.to(probs.device)), boundaries).clamp_max_(len(radii) - 1)
    mass = torch.zeros(len(probs), len(radii), dtype=torch.float64, device=probs.device)
    return mass.scatter_add_(1, bins, probs.double().nan_to_num(0.0)).cumsum_(dim=1)


def radius_km(mass: torch.Tensor, level: float) -> torch.Tensor:
    """``(N,)`` km: the smallest of :data:`RADII_KM` whose disc holds at least ``level`` of the mass, from
    :func:`mass_by_radius` ``(N, R)`` (the last, anywhere on Earth, when rounding leaves every disc short)."""
    radii = torch.tensor(RADII_KM, dtype=torch.float64, device=mass.device)
    first = (mass >= level - 1e-9).int().argmax(dim=1)
    return radii[first].masked_fill_(~(mass >= level - 1e-9).any(dim=1), HALF_EARTH_KM).float()


def mass_reaching(
    centres: torch.Tensor, truth: torch.Tensor, points: torch.Tensor, probs: torch.Tensor
) -> torch.Tensor:
    """``(N,)``: the probability mass (``probs`` ``(N, G)`` over ``points`` ``(G, 2)``) inside the disc around each
    centre ``(N, 2)`` that just reaches the true place ``truth`` ``(N, 2)``: the conformal score of a radius answer."""
    reach = (unit_vectors(centres) * unit_vectors(truth)).sum(dim=1)
    inside = _cosines(centres, points) >= reach[:, None] - 1e-12
    return (probs.double() * inside).sum(dim=1)


def conformal_level(scores: torch.Tensor, coverage: float) -> float:
    """The split-conformal quantile of held-out ``scores`` ``(R,)``: the ``ceil((R + 1) * coverage)``-th smallest
    (1.0 when that exceeds ``R``), so that a new picture's score falls at or below it with probability at least
    ``coverage`` when it is exchangeable with the held-out ones."""
    rank = math.ceil((len(scores) + 1) * coverage)
    if rank > len(scores):
        return 1.0
    return float(torch.sort(scores.double()).values[rank - 1])


def best_places(latlon: torch.Tensor, logits: torch.Tensor, candidates: int = PLACE_CANDIDATES) -> torch.Tensor:
    """``(N, 2)``: the best distinct place (:func:`merge_places` of the top ``candidates``) for scaled similarities
    ``logits`` ``(N, G)`` to the GPS gallery ``latlon`` ``(G, 2)``."""
    scores, idx = logits.topk(min(candidates, logits.shape[1]), dim=1)
    probs = torch.exp(scores - torch.logsumexp(logits, dim=1, keepdim=True))
    return merge_places(latlon[idx], probs)[0][:, 0]


def fit_radius_mass(
    logits: torch.Tensor, latlon: torch.Tensor, truth: torch.Tensor, coverage: float, chunk: int = 64
) -> tuple[float, torch.Tensor]:
    """The mass level of the radius answer fitted on held-out pictures (module docstring) and their best places:
    ``logits`` ``(R, G)`` the calibrated scaled similarities to the GPS gallery ``latlon`` ``(G, 2)``, ``truth``
    ``(R, 2)`` the true places. Returns ``(level, best (R, 2))``."""
    best, scores = [], []
    for rows, true in zip(logits.split(chunk), truth.split(chunk), strict=True):
        centre = best_places(latlon, rows)
        best.append(centre)
        scores.append(mass_reaching(centre, true, latlon, torch.softmax(rows.double(), dim=1)))
    return conformal_level(torch.cat(scores), coverage), torch.cat(best)
