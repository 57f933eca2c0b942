"""What a source answers for some photos, and the two calibration rules every source shares.

A source answers a place with a radius (km) that should hold the truth for at least 80 % of its answers
(:data:`COVERAGE` is the share aimed at on the library's own labelled photos, a little above 80 % so that the
photos it has not seen still get 80 %), and a confidence: the share of its answers on the labelled photos, with
similar support, that were within :data:`NEAR_KM` of the truth. Wrong answers far away are what users complain
about: a source answers only where at most :data:`FAR_SHARE` of its answers on the labelled photos with as much
support were off by more than :data:`FAR_KM` (:func:`support_limit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COVERAGE = 0.85
NEAR_KM = 25.0
FAR_KM = 200.0
MIN_RADIUS_KM = 0.1  # no radius below this: a GPS fix itself is good to tens of metres
FAR_SHARE = 0.03
MIN_CALIBRATION = 10
LOCAL_WINDOW = 50


@dataclass
class PlaceAnswers:
    """One source's place answers for ``M`` photos: ``index`` ``(M,)`` photo rows, ``latlon`` ``(M, 2)`` degrees,
    ``radius_km`` ``(M,)``, ``confidence`` ``(M,)`` in [0, 1], ``evidence`` M lists of photo rows, ``notes`` M
    texts (what supports each answer, in words); ``origins``: for a combination, the source of each answer."""

    source: str
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    latlon: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    radius_km: np.ndarray = field(default_factory=lambda: np.zeros(0))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))
    evidence: list[list[int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.index)

    def by_photo(self) -> dict[int, int]:
        """Photo row -> position in these answers."""
        return {int(i): k for k, i in enumerate(self.index)}


@dataclass
class TimeAnswers:
    """One source's time answers for ``M`` photos: ``index`` ``(M,)``; ``local_s`` ``(M,)`` the local clock time as
    seconds (see :mod:`gtloc.library.arrays`) where the source knows the date, NaN otherwise; ``month``/``hour``
    ``(M,)`` (always set; hour with minutes as a fraction); ``radius_h`` ``(M,)`` hours; ``confidence``,
    ``evidence``, ``notes`` as for places."""

    source: str
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    local_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    month: np.ndarray = field(default_factory=lambda: np.zeros(0))
    day: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hour: np.ndarray = field(default_factory=lambda: np.zeros(0))
    radius_h: np.ndarray = field(default_factory=lambda: np.zeros(0))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))
    evidence: list[list[int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.index)


def radius_scale(errors: np.ndarray, base: np.ndarray, coverage: float = COVERAGE) -> float:
    """The factor ``c`` such that ``errors <= c * base`` for a share ``coverage`` of the cases (a conformal
    quantile, rounded up); ``inf`` with fewer than :data:`MIN_CALIBRATION` cases."""
    errors, base = np.asarray(errors, float), np.asarray(base, float)
    if len(errors) < MIN_CALIBRATION:
        return float("inf")
    ratios = np.sort(errors / np.maximum(base, 1e-9))
    rank = min(len(ratios) - 1, int(np.ceil(coverage * (len(ratios) + 1))) - 1)
    return float(ratios[rank])


@dataclass
class LocalRate:
    """The share of calibration answers within :data:`NEAR_KM`, among the :data:`LOCAL_WINDOW` whose support
    (a similarity, a radius: any number where nearby values mean alike answers) is nearest to a given support."""

    support: np.ndarray
    hits: np.ndarray

    @classmethod
    def fit(cls, support: np.ndarray, hits: np.ndarray) -> LocalRate:
        order = np.argsort(support, kind="stable")
        return cls(np.asarray(support, float)[order], np.asarray(hits, float)[order])

    def at(self, support: np.ndarray) -> np.ndarray:
        """``(M,)`` rates for ``support`` ``(M,)``; 0 where there is no calibration at all."""
        support = np.asarray(support, float)
        n = len(self.support)
        if n == 0:
            return np.zeros(len(support))
        cumulative = np.concatenate([[0.0], np.cumsum(self.hits)])
        half = min(LOCAL_WINDOW, n) // 2
        centre = np.clip(np.searchsorted(self.support, support), 0, n - 1)
        low = np.clip(centre - half, 0, max(0, n - 2 * half))
        high = np.minimum(n, low + max(1, 2 * half))
        return (cumulative[high] - cumulative[low]) / (high - low)


def support_limit(support: np.ndarray, good: np.ndarray, share: float, descending: bool = True) -> float:
    """The weakest support at which the calibration cases with at least that support are ``good`` for a share
    ``share`` of them, and at least :data:`MIN_CALIBRATION` of them; ``inf`` (``-inf`` when not ``descending``)
    if there is none.

    ``support`` ``(M,)``: a number where more means better supported if ``descending`` (a similarity), less if not
    (a gap in hours); ``good`` ``(M,)`` bool.
    """
    support, good = np.asarray(support, float), np.asarray(good, bool)
    order = np.argsort(-support if descending else support, kind="stable")
    counts = np.arange(1, len(order) + 1)
    rate = np.cumsum(good[order]) / counts
    ok = np.flatnonzero((rate >= share) & (counts >= MIN_CALIBRATION))
    if not len(ok):
        return float("inf") if descending else -float("inf")
    return float(support[order][ok[-1]])
