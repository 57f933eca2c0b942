"""The ``track`` source: a photo's place from the geotagged photos taken just before and after it, by any camera.

On the UTC timeline (:mod:`gtloc.library.timeline`: clock offsets corrected), a photo between two geotagged
photos within :attr:`TrackSource.max_gap_h` each is placed on the great circle between them at the fraction of
the time elapsed when they are at most :data:`INTERPOLATE_KM` apart (a walk, a drive across town), at the place of
the nearer in time when they are farther apart (a journey: whoever took it was at one end or the other far more
often than in between); a photo with only one such neighbour takes its place. The radius grows with how far one may
have gone:

* between two: ``R0 + alpha * distance * 2 * min(f, 1 - f) + speed * min(gap)`` (``f``: the fraction of the time
  elapsed, the distance between the two);
* one side: ``R0 + alpha * moved + speed * gap``, where ``moved`` is the distance from that neighbour to the next
  geotagged photo beyond it (someone who stood still before is likely still there; someone on the move is not).

``alpha``, ``speed`` and a scale are fitted on the library's own geotagged photos, each placed by the others
twice: without its own file (a phone whose location was off for one photo) and without the photos of its own
session (the same camera's that day: a camera without GPS leaves whole days without); separately for the two
kinds. For each (alpha, speed) pair, a limit on the radius before scaling is the largest at which at most
``far_share`` (default :data:`~gtloc.library.answers.FAR_SHARE`) of the calibration answers as tight were off by
more than 200 km (a day at home and an afternoon 200 km away look alike to the clock), and the scale is the
conformal quantile that holds :data:`~gtloc.library.answers.COVERAGE` of the answers within that limit; the pair
that answers the most photos within ``max_radius_km``, then with the smallest median radius, is kept.
Where the scene source says which photos show a view photographed on other days too (``recurring``), the rule is
fitted apart for those and for the one-off photos: the time is a poor guide to a garden photographed every week
(the photo taken nearest in time may be from the office) and a good one on a trip.
No neighbour within the gap, too few photos to calibrate, or a radius over ``max_radius_km``: no answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gtloc.geo import haversine_km
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

R0_KM = 0.2
INTERPOLATE_KM = 25.0
CONTEXT_MIN = 50  # calibration answers a context needs to get a rule of its own
ALPHAS = (0.0, 0.25, 0.5, 1.0)
SPEEDS_KMH = (0.0, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def interpolate(a: np.ndarray, b: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Points at ``fraction`` ``(M,)`` of the way along the great circle from ``a`` to ``b`` (``(M, 2)`` degrees)."""

    def unit(latlon: np.ndarray) -> np.ndarray:
        lat, lon = np.deg2rad(latlon[:, 0]), np.deg2rad(latlon[:, 1])
        return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)

    ua, ub = unit(a), unit(b)
    omega = np.arccos(np.clip((ua * ub).sum(axis=1), -1.0, 1.0))[:, None]
    f = np.asarray(fraction, float)[:, None]
    small = omega < 1e-9
    sin_omega = np.where(small, 1.0, np.sin(omega))
    mixed = np.where(small, ua + f * (ub - ua), (np.sin((1 - f) * omega) * ua + np.sin(f * omega) * ub) / sin_omega)
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return np.stack([np.rad2deg(np.arcsin(mixed[:, 2])), np.rad2deg(np.arctan2(mixed[:, 1], mixed[:, 0]))], axis=1)


@dataclass
class Neighbours:
    """For M query photos: the geotagged photo before (``before``, -1 if none within the gap) and after, the gaps in
    hours (``gap_before``, ``gap_after``; inf where there is none), and the next geotagged photo beyond each of them
    on the same side (``before2``, ``after2``; -1 if none within the gap)."""

    before: np.ndarray
    after: np.ndarray
    gap_before: np.ndarray
    gap_after: np.ndarray
    before2: np.ndarray
    after2: np.ndarray

    FIELDS = ("before", "after", "gap_before", "gap_after", "before2", "after2")


def time_neighbours(
    utc: np.ndarray, labelled: np.ndarray, group: np.ndarray, queries: np.ndarray, max_gap_h: float
) -> Neighbours:
    """The labelled photos nearest in UTC time before and after each query (``queries`` ``(M,)`` rows), and the next
    ones beyond them, skipping photos of the query's own ``group`` (``(N,)`` ids: its content, or its session);
    farther than ``max_gap_h`` hours counts as none."""
    rows = np.flatnonzero(labelled & np.isfinite(utc))
    rows = rows[np.argsort(utc[rows], kind="stable")]
    times = utc[rows]
    m = len(queries)
    out = Neighbours(*(np.full(m, -1) if "gap" not in f else np.full(m, np.inf) for f in Neighbours.FIELDS))
    limit = max_gap_h * 3600.0

    def step(i: int, q: int, direction: int) -> int:
        while 0 <= i < len(rows) and group[rows[i]] == group[q]:
            i += direction
        return i if 0 <= i < len(rows) and abs(times[i] - utc[q]) <= limit else -1

    for k, q in enumerate(queries):
        if not np.isfinite(utc[q]):
            continue
        pos = int(np.searchsorted(times, utc[q], side="right"))
        i, j = step(pos - 1, q, -1), step(pos, q, 1)
        if i >= 0:
            out.before[k], out.gap_before[k] = rows[i], (utc[q] - times[i]) / 3600.0
            second = step(i - 1, q, -1)
            out.before2[k] = rows[second] if second >= 0 else -1
        if j >= 0:
            out.after[k], out.gap_after[k] = rows[j], (times[j] - utc[q]) / 3600.0
            second = step(j + 1, q, 1)
            out.after2[k] = rows[second] if second >= 0 else -1
    return out


@dataclass
class _Guess:
    """Raw track guesses for M queries: ``latlon`` (NaN where none), the two terms of the radius and the kind."""

    latlon: np.ndarray
    spread_km: np.ndarray
    gap_h: np.ndarray
    two_sided: np.ndarray
    neighbours: Neighbours


def _guess(arrays: LibraryArrays, utc: np.ndarray, queries: np.ndarray, max_gap_h: float, group: np.ndarray) -> _Guess:
    near = time_neighbours(utc, arrays.has_place, group, queries, max_gap_h)
    has_a, has_b = near.before >= 0, near.after >= 0
    both = has_a & has_b
    latlon = np.full((len(queries), 2), np.nan)
    spread = np.zeros(len(queries))
    gap = np.minimum(near.gap_before, near.gap_after)
    if both.any():
        a, b = arrays.latlon[near.before[both]], arrays.latlon[near.after[both]]
        total = near.gap_before[both] + near.gap_after[both]
        f = np.where(total > 0, near.gap_before[both] / np.maximum(total, 1e-12), 0.5)
        apart = haversine_km(a, b)
        nearer = np.where((f <= 0.5)[:, None], a, b)
        latlon[both] = np.where((apart <= INTERPOLATE_KM)[:, None], interpolate(a, b, f), nearer)
        spread[both] = apart * 2 * np.minimum(f, 1 - f)
    one = has_a ^ has_b
    nearest, beyond = np.where(has_a, near.before, near.after)[one], np.where(has_a, near.before2, near.after2)[one]
    latlon[one] = arrays.latlon[nearest]
    moved = np.full(len(nearest), np.inf)
    known = beyond >= 0
    moved[known] = haversine_km(arrays.latlon[nearest[known]], arrays.latlon[beyond[known]])
    spread[one] = moved
    return _Guess(latlon, spread, gap, both, near)


def _cat(a: _Guess, b: _Guess) -> _Guess:
    near = Neighbours(
        *(np.concatenate([getattr(a.neighbours, f), getattr(b.neighbours, f)]) for f in Neighbours.FIELDS)
    )
    return _Guess(
        np.concatenate([a.latlon, b.latlon]),
        np.concatenate([a.spread_km, b.spread_km]),
        np.concatenate([a.gap_h, b.gap_h]),
        np.concatenate([a.two_sided, b.two_sided]),
        near,
    )


@dataclass
class _Fit:
    alpha: float
    speed_kmh: float
    scale: float
    rate: LocalRate
    max_base: float = -float("inf")

    def base(self, spread_km: np.ndarray, gap_h: np.ndarray) -> np.ndarray:
        """``(M,)`` km before the scale (inf where the spread is unknown and counts)."""
        moved = np.where(np.isfinite(spread_km), spread_km, np.inf) * self.alpha if self.alpha else 0.0
        return R0_KM + moved + self.speed_kmh * gap_h


def _fit(
    errors: np.ndarray, spread: np.ndarray, gap: np.ndarray, coverage: float, max_radius_km: float, far_share: float
) -> _Fit:
    """The (alpha, speed) whose far-error limit and radius answer the most calibration cases within
    ``max_radius_km`` (then with the smallest median radius); the scale holds ``coverage`` of the answered ones."""
    best, best_key = _Fit(0.0, 0.0, float("inf"), LocalRate.fit(np.zeros(0), np.zeros(0))), None
    for alpha in ALPHAS if spread.any() else (0.0,):
        for speed in SPEEDS_KMH:
            fit = _Fit(alpha, speed, float("inf"), best.rate)
            base = fit.base(spread, gap)
            known = np.isfinite(base)
            base, case_errors = base[known], errors[known]
            fit.max_base = support_limit(base, case_errors <= FAR_KM, 1 - far_share, descending=False)
            answered = base <= fit.max_base
            fit.scale = radius_scale(case_errors[answered], base[answered], coverage)
            if not np.isfinite(fit.scale):
                continue
            radius = np.maximum(fit.scale * base[answered], MIN_RADIUS_KM)
            key = (-int((radius <= max_radius_km).sum()), float(np.median(radius)))
            if best_key is None or key < best_key:
                best_key = key
                fit.rate = LocalRate.fit(np.log(radius), case_errors[answered] <= NEAR_KM)
                best = fit
    return best


class TrackSource:
    """Places from the geotagged photos nearest in time (see the module docstring). Call :meth:`calibrate` on the
    library's arrays and timeline, then :meth:`answer` for the photos without a place."""

    name = "track"

    def __init__(
        self,
        max_gap_h: float = 24.0,
        max_radius_km: float = 100.0,
        coverage: float = COVERAGE,
        far_share: float = FAR_SHARE,
    ) -> None:
        self.max_gap_h, self.max_radius_km, self.coverage = max_gap_h, max_radius_km, coverage
        self.far_share = far_share
        self.fits: dict[tuple[bool, bool | None], _Fit] = {}
        self.calibrated_on = 0

    def calibrate(self, arrays: LibraryArrays, utc: np.ndarray, recurring: np.ndarray | None = None) -> TrackSource:
        """Fit the radius rule on the labelled photos, each placed by the others. ``recurring`` ``(N,)`` bool: the
        photos that look like a view photographed on other days too (:meth:`SceneIndex.recurring`); the rule is then
        fitted apart for them and for the others, where each has enough photos."""
        rows = np.flatnonzero(arrays.has_place & np.isfinite(utc))
        queries = np.concatenate([rows, rows])
        guess = _cat(
            _guess(arrays, utc, rows, self.max_gap_h, arrays.group),
            _guess(arrays, utc, rows, self.max_gap_h, arrays.session),
        )
        ok = has_label(guess.latlon)
        errors = haversine_km(guess.latlon[ok], arrays.latlon[queries[ok]])
        context = np.zeros(len(arrays), bool) if recurring is None else np.asarray(recurring, bool)
        looks = context[queries[ok]]
        self.calibrated_on = int(ok.sum())
        for two in (True, False):
            kind = guess.two_sided[ok] == two
            self.fits[two, None] = self._fit(errors[kind], guess.spread_km[ok][kind], guess.gap_h[ok][kind])
            for view in (True, False):
                part = kind & (looks == view)
                if part.sum() >= CONTEXT_MIN:
                    self.fits[two, view] = self._fit(errors[part], guess.spread_km[ok][part], guess.gap_h[ok][part])
        return self

    def _fit(self, errors: np.ndarray, spread: np.ndarray, gap: np.ndarray) -> _Fit:
        return _fit(errors, spread, gap, self.coverage, self.max_radius_km, self.far_share)

    def answer(
        self, arrays: LibraryArrays, utc: np.ndarray, targets: np.ndarray, recurring: np.ndarray | None = None
    ) -> PlaceAnswers:
        """Answers for the photos ``targets`` (rows); photos without support are left out. ``recurring``: as for
        :meth:`calibrate`."""
        targets = np.asarray(targets, int)
        guess = _guess(arrays, utc, targets, self.max_gap_h, arrays.group)
        context = np.zeros(len(arrays), bool) if recurring is None else np.asarray(recurring, bool)
        looks = context[targets]
        radius = np.full(len(targets), np.inf)
        confidence = np.zeros(len(targets))
        found = has_label(guess.latlon)
        for two in (True, False):
            for view in (True, False):
                fit = self.fits.get((two, view)) or self.fits.get((two, None))
                kind = (guess.two_sided == two) & (looks == view) & found
                if fit is None or not kind.any():
                    continue
                base = fit.base(guess.spread_km[kind], guess.gap_h[kind])
                radius[kind] = np.where(base <= fit.max_base, np.maximum(fit.scale * base, MIN_RADIUS_KM), np.inf)
                confidence[kind] = fit.rate.at(np.log(np.maximum(radius[kind], 1e-9)))
        keep = found & (radius <= self.max_radius_km)
        near = guess.neighbours
        evidence, notes = [], []
        for k in np.flatnonzero(keep):
            rows = [int(r) for r in (near.before[k], near.after[k]) if r >= 0]
            evidence.append(rows)
            parts = []
            if near.before[k] >= 0:
                parts.append(f"{arrays.paths[near.before[k]]} {near.gap_before[k]:.1f} h before")
            if near.after[k] >= 0:
                parts.append(f"{arrays.paths[near.after[k]]} {near.gap_after[k]:.1f} h after")
            notes.append("geotagged photos nearest in time: " + "; ".join(parts))
        return PlaceAnswers(
            self.name, targets[keep], guess.latlon[keep], radius[keep], confidence[keep], evidence, notes
        )
