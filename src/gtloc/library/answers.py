"""What a source answers for some photos, and the two calibration rules every source shares.

A source answers a place with a radius (km) that should hold the truth for at least 80 % of its answers
(:data:`COVERAGE` is the share aimed at on the library's own labelled photos, a little above 80 % so that the
photos it has not seen still get 80 %), and a confidence: the share of its answers on the labelled photos, with
similar support, that were within :data:`NEAR_KM` of the truth. Wrong answers far away are what users complain
about: a source answers only where at most :data:`FAR_BUDGET` of its answers on the labelled photos with as much
support were off by more than :data:`FAR_KM` (:func:`support_limit`), and the answers chosen among the sources
are held to the same share (:mod:`gtloc.library.choose`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COVERAGE = 0.85
NEAR_KM = 25.0
FAR_KM = 200.0
MIN_RADIUS_KM = 0.1  # no radius below this: a GPS fix itself is good to tens of metres
FAR_BUDGET = 0.05
MIN_CALIBRATION = 10
LOCAL_WINDOW = 50


@dataclass
class PlaceAnswers:
    """One source's place answers for ``M`` photos: ``index`` ``(M,)`` photo rows, ``latlon`` ``(M, 2)`` degrees,
    ``radius_km`` ``(M,)``, ``confidence`` ``(M,)`` in [0, 1], ``evidence`` M lists of photo rows, ``notes`` M
    texts (what supports each answer, in words); ``origins``: for a combination, the source of each answer;
    ``facts``: named ``(M,)`` arrays a source adds for the choice between sources (:mod:`gtloc.library.choose`)."""

    source: str
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    latlon: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    radius_km: np.ndarray = field(default_factory=lambda: np.zeros(0))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))
    evidence: list[list[int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    facts: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)

    def by_photo(self) -> dict[int, int]:
        """Photo row -> position in these answers."""
        return {int(i): k for k, i in enumerate(self.index)}

    def take(self, keep: np.ndarray) -> PlaceAnswers:
        """The answers where ``keep`` ``(M,)`` bool is true, every field and fact with them."""
        keep = np.asarray(keep, bool)

        def kept(items: list) -> list:
            return [item for item, k in zip(items, keep, strict=True) if k]

        out = PlaceAnswers(self.source, self.index[keep], self.latlon[keep], self.radius_km[keep],
                           self.confidence[keep], kept(self.evidence), kept(self.notes))  # fmt: skip
        out.origins = kept(self.origins) if self.origins else []
        out.facts = {name: np.asarray(value)[keep] for name, value in self.facts.items()}
        return out


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
    """The share of calibration answers that were right (within :data:`NEAR_KM`, or any other yes/no), among the
    :data:`LOCAL_WINDOW` whose support (a similarity, a gap in time: any number where nearby values mean alike
    answers) is nearest to a given support."""

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


def within_budget(far: np.ndarray, confidence: np.ndarray, budget: float) -> np.ndarray:
    """``(M,)`` bool: the answers kept when answers are taken in order of ``far`` (each one's share of calibration
    answers alike off by more than :data:`FAR_KM`; ties: the higher ``confidence`` first) for as long as the mean
    ``far`` of those taken stays within ``budget``: as many answers as the library allows, with the expected share
    of far-off ones held to ``budget``."""
    far, confidence = np.asarray(far, float), np.asarray(confidence, float)
    order = np.lexsort((-confidence, far))
    mean = np.cumsum(far[order]) / np.arange(1, len(order) + 1)
    keep = np.zeros(len(far), bool)
    keep[order[: int((mean <= budget).sum())]] = True
    return keep
