"""The ``scene`` source: a photo's place from geotagged photos of the same scene (near-identical features).

Features are the backbone's, centred on the library's mean and whitened on the library's own photos (their
first :data:`WHITEN_DIMS` principal components, each divided by its standard deviation; the usual remedy for
what all photos share, such as daylight and the camera's look, outweighing the scene), then L2-normalised.
:class:`SceneIndex` keeps each photo's :data:`NEIGHBOURS` most similar photos (cosine similarity), computed once
per library.

A photo's answer: among its neighbours that are geotagged (other content than its own), the best similarity
``s1``; the candidates within :data:`MARGIN` of it (at most :data:`MAX_VOTES`); the candidate whose place most of
the candidates' similarity agrees with (within :data:`~gtloc.library.answers.NEAR_KM`). The radius is
``R0 + spread`` (the farthest agreeing candidate) times a scale. The match's *kind* (:func:`match_kind`) is how many
other days the geotagged neighbours about as similar (within one cosine spread, :attr:`SceneIndex.spread`) at
that place were taken on: none (another camera's photo of the same stop, that day), one, or several (a recurring
view: a garden photographed every week). A view matched on one other day only is where one trip is mistaken for
another, so each kind gets its own threshold.

Calibrated on the library itself by hide-and-recover: each geotagged photo is placed by the others, without the
photos of its own session (the same camera's that day, whose near-identical bursts would make the picture look
easier than it is for a camera without GPS, which leaves whole days without). The similarity threshold of a kind
is the lowest ``s1`` at which the photos of that kind at or above it are placed within 25 km for a share
:attr:`SceneSource.precision` of them, and off by more than 200 km for at most ``far_share``
(:data:`~gtloc.library.answers.FAR_BUDGET`); a kind with fewer than
:data:`~gtloc.library.answers.MIN_CALIBRATION` photos takes the threshold of all kinds together. The scale holds
:data:`~gtloc.library.answers.COVERAGE` of the answers. A library without enough repeated scenes to reach that
precision gets no scene answers at all. Each answer's confidence and its share off by more than 200 km (``far``)
are those of the calibration answers of its kind with the nearest similarities.
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
    FAR_BUDGET,
    FAR_KM,
    MIN_CALIBRATION,
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
RECURRING_DAYS = 2
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
    dims: int = 1

    @property
    def spread(self) -> float:
        """The standard deviation of the cosine between unrelated photos in this space (``1 / sqrt(dims)``): what
        counts as "about as similar"."""
        return 1.0 / np.sqrt(max(self.dims, 1))

    @classmethod
    @torch.inference_mode()
    def build(cls, features: torch.Tensor, k: int = NEIGHBOURS) -> SceneIndex:
        """From backbone features ``(N, D)`` (or ten-crop ``(N, C, D)``: the crops' mean)."""
        features = picture_features(features)
        n = len(features)
        k = max(0, min(k, n - 1))
        vectors = F.normalize(whiten(features), dim=1)
        dims = int(vectors.shape[1])
        neighbours, similarity = np.zeros((n, k), int), np.zeros((n, k), np.float32)
        for start in range(0, n, CHUNK):
            sims = vectors[start : start + CHUNK] @ vectors.T
            rows = torch.arange(start, min(start + CHUNK, n))
            sims[rows - start, rows] = -float("inf")
            top = sims.topk(k, dim=1)
            neighbours[start : start + CHUNK] = top.indices.numpy()
            similarity[start : start + CHUNK] = top.values.numpy()
        return cls(neighbours, similarity, dims)

    def recurring(self, day: np.ndarray, threshold: float, min_days: int | None = None) -> np.ndarray:
        """``(N,)`` bool: the photo has neighbours at least ``threshold`` similar taken on at least ``min_days``
        (default :data:`RECURRING_DAYS`) other days (``day`` ``(N,)`` ids, :attr:`LibraryArrays.day`): a view
        photographed again and again, by any camera. One other day is not enough: a view of one trip can look like
        a view of another."""
        min_days = RECURRING_DAYS if min_days is None else min_days
        days = np.where((self.similarity >= threshold) & (day[self.neighbours] != day[:, None]), day[self.neighbours],
                        np.iinfo(np.int64).min)  # fmt: skip
        days = np.sort(days, axis=1)
        distinct = (np.diff(days, axis=1) != 0) & (days[:, 1:] != np.iinfo(np.int64).min)
        count = distinct.sum(axis=1) + (days[:, 0] != np.iinfo(np.int64).min)
        return count >= min_days


@dataclass
class _Guess:
    latlon: np.ndarray
    best: np.ndarray
    spread_km: np.ndarray
    votes: list[list[int]]
    days: np.ndarray


def _guess(index: SceneIndex, arrays: LibraryArrays, queries: np.ndarray, by_session: bool) -> _Guess:
    """The best-supported place among each query's geotagged neighbours (NaN where it has none)."""
    m = len(queries)
    out = _Guess(np.full((m, 2), np.nan), np.full(m, -np.inf), np.zeros(m), [[] for _ in range(m)], np.zeros(m, int))
    labelled = arrays.has_place
    for k, q in enumerate(queries):
        rows, sims = index.neighbours[q], index.similarity[q]
        own = arrays.session if by_session else arrays.group
        allowed = labelled[rows] & (own[rows] != own[q])
        if not allowed.any():
            continue
        rows, sims = rows[allowed], sims[allowed]
        wide = rows[sims >= sims[0] - index.spread]
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
        same_place = haversine_km(arrays.latlon[wide], places[pick][None, :]) <= NEAR_KM
        out.days[k] = len(set(arrays.day[wide[same_place]].tolist()) - {int(arrays.day[q])})
    return out


MATCHES = ("on the same day only", "on one other day", "on several other days")


def match_kind(days: np.ndarray) -> np.ndarray:
    """``(M,)`` 0, 1 or 2: the matches that agree on the place were taken on the query's day only, on one other day,
    or on :data:`RECURRING_DAYS` or more (:data:`MATCHES` in words)."""
    return np.minimum(np.asarray(days, int), RECURRING_DAYS)


class SceneSource:
    """Places from geotagged photos of the same scene (see the module docstring)."""

    name = "scene"

    def __init__(
        self,
        index: SceneIndex,
        precision: float = 0.9,
        max_radius_km: float = 100.0,
        coverage: float = COVERAGE,
        far_share: float = FAR_BUDGET,
    ) -> None:
        self.index, self.precision, self.max_radius_km, self.coverage = index, precision, max_radius_km, coverage
        self.far_share = far_share
        self.threshold = float("inf")
        self.thresholds = [float("inf")] * len(MATCHES)
        self.scale = float("inf")
        self.rates = [LocalRate.fit(np.zeros(0), np.zeros(0)) for _ in MATCHES]
        self.far_rates = [LocalRate.fit(np.zeros(0), np.zeros(0)) for _ in MATCHES]
        self.calibrated_on = 0

    def _limit(self, best: np.ndarray, errors: np.ndarray) -> float:
        return max(
            support_limit(best, errors <= NEAR_KM, self.precision),
            support_limit(best, errors <= FAR_KM, 1 - self.far_share),
        )

    def calibrate(self, arrays: LibraryArrays) -> SceneSource:
        """Fit the similarity thresholds and the radius scale on the labelled photos (see the module docstring)."""
        queries = np.flatnonzero(arrays.has_place)
        guess = _guess(self.index, arrays, queries, by_session=True)
        ok = has_label(guess.latlon)
        errors = haversine_km(guess.latlon[ok], arrays.latlon[queries[ok]])
        self.calibrated_on = int(ok.sum())
        best, kind = guess.best[ok], match_kind(guess.days[ok])
        self.threshold = self._limit(best, errors)
        for k in range(len(MATCHES)):
            mine = kind == k
            enough = mine.sum() >= MIN_CALIBRATION
            self.thresholds[k] = self._limit(best[mine], errors[mine]) if enough else self.threshold
        above = best >= np.array(self.thresholds)[kind]
        self.scale = radius_scale(errors[above], R0_KM + guess.spread_km[ok][above], self.coverage)
        for k in range(len(MATCHES)):
            mine = above & (kind == k)
            self.rates[k] = LocalRate.fit(best[mine], errors[mine] <= NEAR_KM)
            self.far_rates[k] = LocalRate.fit(best[mine], errors[mine] > FAR_KM)
        return self

    def answer(self, arrays: LibraryArrays, targets: np.ndarray, by_session: bool = False) -> PlaceAnswers:
        """Answers for the photos ``targets`` (rows) whose best geotagged match reaches the threshold of its kind
        (:func:`match_kind`); with ``by_session``, matched without the photos of their own session (as in
        calibration). The answers' ``facts`` hold ``similarity`` (the best match's), ``days`` (the other days the
        agreeing matches were taken on) and ``far`` (the share of calibration answers alike off by more than 200 km)."""
        targets = np.asarray(targets, int)
        guess = _guess(self.index, arrays, targets, by_session=by_session)
        kind = match_kind(guess.days)
        threshold = np.array(self.thresholds)[kind]
        radius = np.maximum(self.scale * (R0_KM + guess.spread_km), MIN_RADIUS_KM)
        keep = (guess.best >= threshold) & (radius <= self.max_radius_km) & np.isfinite(guess.latlon[:, 0])
        rows = np.flatnonzero(keep)
        evidence = [guess.votes[k][:3] for k in rows]
        notes = [
            f"same scene as {', '.join(arrays.paths[r] for r in votes)} (similarity {guess.best[k]:.3f}; this "
            f"library's threshold for views matched {MATCHES[kind[k]]}: {threshold[k]:.3f})"
            for k, votes in zip(rows, evidence, strict=True)
        ]
        confidence = np.array([self.rates[kind[k]].at(guess.best[k : k + 1])[0] for k in rows], float)
        far = np.array([self.far_rates[kind[k]].at(guess.best[k : k + 1])[0] for k in rows], float)
        answers = PlaceAnswers(self.name, targets[keep], guess.latlon[keep], radius[keep], confidence, evidence, notes)
        answers.facts = {"similarity": guess.best[keep], "days": guess.days[keep], "far": far}
        return answers
