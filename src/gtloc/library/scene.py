"""The ``scene`` source: a photo's place from geotagged photos of the same scene (near-identical features).

Features are the backbone's, centred on the library's mean and whitened on the library's own photos (their
first :data:`WHITEN_DIMS` principal components, each divided by its standard deviation; the usual remedy for
what all photos share, such as daylight and the camera's look, outweighing the scene), then L2-normalised.
:class:`SceneIndex` keeps each photo's :data:`NEIGHBOURS` most similar photos (cosine similarity), computed once
per library.

A photo's answer: among its neighbours that are geotagged (other content than its own), the best similarity
``s1``; the candidates within :data:`MARGIN` of it (at most :data:`MAX_VOTES`); the candidate whose place most of
the candidates' similarity agrees with (within :data:`~gtloc.library.answers.NEAR_KM`). The radius is
``R0 + spread`` (the farthest agreeing candidate) times a scale.

Calibrated on the library itself by hide-and-recover: each geotagged photo is placed by the others, without the
photos of its own session (the same camera's that day, whose near-identical bursts would make the picture look
easier than it is for a camera without GPS, which leaves whole days without). The similarity threshold is the
lowest ``s1`` at which the photos at or above it are placed within 25 km for a share
:attr:`SceneSource.precision` of them, and off by more than 200 km for at most ``far_share``
(:data:`~gtloc.library.answers.FAR_SHARE`); the scale holds :data:`~gtloc.library.answers.COVERAGE` of them. A
library without enough repeated scenes to reach that precision gets no scene answers at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gtloc.data.features import picture_features
from gtloc.geo import haversine_km, pairwise_haversine_km
from gtloc.labels import has_label
from gtloc.library.answers import (
    COVERAGE,
    FAR_KM,
    FAR_SHARE,
    MIN_RADIUS_KM,
    NEAR_KM,
    LocalRate,
    PlaceAnswers,
    radius_scale,
    support_limit,
)
from gtloc.library.arrays import LibraryArrays

NEIGHBOURS = 64
WHITEN_DIMS = 128
WHITEN_MIN_PHOTOS = 3  # photos per whitened dimension: fewer photos keep fewer components
MARGIN = 0.02
MAX_VOTES = 10
R0_KM = 0.2
CHUNK = 1024


def whiten(features: torch.Tensor, dims: int = WHITEN_DIMS) -> torch.Tensor:
    """``(N, D)`` features centred and projected on their first ``min(dims, N // 3)`` principal components, each
    scaled to unit variance ``(N, d)``; with fewer than 2 components possible, just centred."""
    centred = features.float() - features.float().mean(dim=0, keepdim=True)
    d = min(dims, len(features) // WHITEN_MIN_PHOTOS, features.shape[1])
    if d < 2:
        return centred
    covariance = (centred.T @ centred).double() / max(len(features) - 1, 1)
    values, vectors = torch.linalg.eigh(covariance)  # ascending
    values, vectors = values.flip(0)[:d], vectors.flip(1)[:, :d]
    return centred @ (vectors / values.clamp_min(1e-12).sqrt()).float()


@dataclass
class SceneIndex:
    """Each photo's most similar photos: ``neighbours`` ``(N, K)`` rows and ``similarity`` ``(N, K)`` cosine, best
    first (the photo itself left out)."""

    neighbours: np.ndarray
    similarity: np.ndarray

    @classmethod
    @torch.inference_mode()
    def build(cls, features: torch.Tensor, k: int = NEIGHBOURS) -> SceneIndex:
        """From backbone features ``(N, D)`` (or ten-crop ``(N, C, D)``: the crops' mean)."""
        features = picture_features(features)
        n = len(features)
        k = max(0, min(k, n - 1))
        vectors = F.normalize(whiten(features), dim=1)
        neighbours, similarity = np.zeros((n, k), int), np.zeros((n, k), np.float32)
        for start in range(0, n, CHUNK):
            sims = vectors[start : start + CHUNK] @ vectors.T
            rows = torch.arange(start, min(start + CHUNK, n))
            sims[rows - start, rows] = -float("inf")
            top = sims.topk(k, dim=1)
            neighbours[start : start + CHUNK] = top.indices.numpy()
            similarity[start : start + CHUNK] = top.values.numpy()
        return cls(neighbours, similarity)

    def recurring(self, day: np.ndarray, threshold: float) -> np.ndarray:
        """``(N,)`` bool: the photo has a neighbour at least ``threshold`` similar taken on another day (``(N,)``
        ids, :attr:`LibraryArrays.day`): a view photographed on other days too, by any camera."""
        other = day[self.neighbours] != day[:, None]
        return ((self.similarity >= threshold) & other).any(axis=1)


@dataclass
class _Guess:
    latlon: np.ndarray
    best: np.ndarray
    spread_km: np.ndarray
    votes: list[list[int]]


def _guess(index: SceneIndex, arrays: LibraryArrays, queries: np.ndarray, by_session: bool) -> _Guess:
    """The best-supported place among each query's geotagged neighbours (NaN where it has none)."""
    m = len(queries)
    out = _Guess(np.full((m, 2), np.nan), np.full(m, -np.inf), np.zeros(m), [[] for _ in range(m)])
    labelled = arrays.has_place
    for k, q in enumerate(queries):
        rows, sims = index.neighbours[q], index.similarity[q]
        own = arrays.session if by_session else arrays.group
        allowed = labelled[rows] & (own[rows] != own[q])
        if not allowed.any():
            continue
        rows, sims = rows[allowed], sims[allowed]
        close = sims >= sims[0] - MARGIN
        rows, sims = rows[close][:MAX_VOTES], sims[close][:MAX_VOTES]
        places = arrays.latlon[rows]
        agree = pairwise_haversine_km(places, places) <= NEAR_KM
        support = (agree * sims[None, :]).sum(axis=1)
        pick = int(np.argmax(support))
        members = np.flatnonzero(agree[pick])
        out.latlon[k] = places[pick]
        out.best[k] = sims[0]
        out.spread_km[k] = float(haversine_km(places[members], places[pick]).max())
        out.votes[k] = [int(rows[pick])] + [int(rows[i]) for i in members if i != pick]
    return out


class SceneSource:
    """Places from geotagged photos of the same scene (see the module docstring)."""

    name = "scene"

    def __init__(
        self,
        index: SceneIndex,
        precision: float = 0.9,
        max_radius_km: float = 100.0,
        coverage: float = COVERAGE,
        far_share: float = FAR_SHARE,
    ) -> None:
        self.index, self.precision, self.max_radius_km, self.coverage = index, precision, max_radius_km, coverage
        self.far_share = far_share
        self.threshold = float("inf")
        self.scale = float("inf")
        self.rate = LocalRate.fit(np.zeros(0), np.zeros(0))
        self.calibrated_on = 0

    def calibrate(self, arrays: LibraryArrays) -> SceneSource:
        """Fit the similarity threshold and the radius scale on the labelled photos (see the module docstring)."""
        queries = np.flatnonzero(arrays.has_place)
        guess = _guess(self.index, arrays, queries, by_session=True)
        ok = has_label(guess.latlon)
        errors = haversine_km(guess.latlon[ok], arrays.latlon[queries[ok]])
        hits = errors <= NEAR_KM
        self.calibrated_on = int(ok.sum())
        best = guess.best[ok]
        self.threshold = max(
            support_limit(best, hits, self.precision), support_limit(best, errors <= FAR_KM, 1 - self.far_share)
        )
        above = guess.best[ok] >= self.threshold
        self.scale = radius_scale(errors[above], R0_KM + guess.spread_km[ok][above], self.coverage)
        self.rate = LocalRate.fit(guess.best[ok][above], hits[above])
        return self

    def answer(self, arrays: LibraryArrays, targets: np.ndarray) -> PlaceAnswers:
        """Answers for the photos ``targets`` (rows) whose best geotagged match reaches the threshold."""
        targets = np.asarray(targets, int)
        guess = _guess(self.index, arrays, targets, by_session=False)
        radius = np.maximum(self.scale * (R0_KM + guess.spread_km), MIN_RADIUS_KM)
        keep = (guess.best >= self.threshold) & (radius <= self.max_radius_km) & np.isfinite(guess.latlon[:, 0])
        evidence = [guess.votes[k][:3] for k in np.flatnonzero(keep)]
        notes = [
            f"same scene as {', '.join(arrays.paths[r] for r in rows)} (similarity {guess.best[k]:.3f}, "
            f"threshold {self.threshold:.3f})"
            for k, rows in zip(np.flatnonzero(keep), evidence, strict=True)
        ]
        return PlaceAnswers(
            self.name,
            targets[keep],
            guess.latlon[keep],
            radius[keep],
            self.rate.at(guess.best[keep]),
            evidence,
            notes,
        )
