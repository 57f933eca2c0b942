"""The ``track`` source: a photo's place from the geotagged photos taken just before and after it.

On the UTC timeline (:mod:`gtloc.library.timeline`: clock offsets corrected), a photo between two geotagged
photos within :attr:`TrackSource.max_gap_h` each is placed on the great circle between them at the fraction of
the time elapsed when they are at most :data:`INTERPOLATE_KM` apart (a walk, a drive across town), at the place of
the nearer in time when they are farther apart (a journey: whoever took it was at one end or the other far more
often than in between); a photo with only one such neighbour takes its place.

One such guess is made from the geotagged photos of each camera of the library, and the camera kept is the one
that has been where this photo's camera was most often: a camera's own photos are usually the best guide, a
travel companion's may be as good, a partner's phone may be at home while the user's is on a trip, and an
unrelated photographer's never says where this camera was. How often each was right is read off the library's own
geotagged photos, each placed by the others twice: without its own file (a phone whose location was off for one
photo) and without the photos of its own session (the same camera's that day, as a camera without GPS leaves
them); and off the photos without GPS that ``scene`` placed (``placed``): they show whom a camera without GPS
travels with. Those calibration cases are split by *context*, coarsest first: whether the camera was moving (its
two neighbours, or its one neighbour and the next beyond, more than :data:`INTERPOLATE_KM` apart); the same camera
or another; whether the neighbour is itself a photo of a recurring view
(:meth:`~gtloc.library.scene.SceneIndex.recurring`: a garden photographed every week says little about where the
next photo of the day was taken); the pair of cameras; and the pair with the recurring view. Within a context the
share of cases within 25 km and the share off by more than 200 km are read at the gap in time
(:class:`~gtloc.library.answers.LocalRate`, on the log of the gap), each finer context shrunk towards the coarser
with the weight of :data:`SHRINK` cases. The guess with the highest share within 25 km is kept (the nearer in time
on a tie), and given where that share is at least :data:`MIN_NEAR`: the time rule right more often than not, as
PhotoPrism's rule assumes. Where the share is lower but at least :data:`FALLBACK_NEAR`, the guess is given as a
*fallback* (``facts["fallback"]``): the choice between sources takes it only where no other source answers (a
one-off photo between two photos of recurring views, whose places say less about it, is still more often near
one of them than not placed at all). Its confidence is that share; its ``far`` fact the share off by more than
200 km, which the choice between sources budgets (:mod:`~gtloc.library.choose`).

One camera is in one place at a time: the same camera's photo ``gap`` hours away is at most
:data:`FLIGHT_KMH` x ``gap`` km from it, so distances between a photo's same-camera neighbours are capped there, and
a same-camera neighbour within that reach of 25 km (a minute and a half) is a sure answer whose radius is the
reach.

The radius grows with how far one may have gone:

* between two: ``R0 + alpha * distance * 2 * min(f, 1 - f) + speed * min(gap)`` (``f``: the fraction of the time
  elapsed, the distance between the two);
* one side: ``R0 + alpha * moved + speed * gap``, where ``moved`` is the distance from that neighbour to the next
  geotagged photo beyond it (someone who stood still before is likely still there; someone on the move is not;
  0 when there is none).

``alpha``, ``speed`` and a scale are fitted per kind (two-sided or one-sided, the same camera or another) on the
calibration cases that would be given within the far budget (``far_budget``, by default
:data:`~gtloc.library.answers.FAR_BUDGET`: the 5 % the choice between sources keeps to as well): the pair whose
conformal scale holds :data:`~gtloc.library.answers.COVERAGE` of them and answers the most within
``max_radius_km``, then with the smallest median radius. No neighbour within the gap, too few photos to
calibrate, or a radius over ``max_radius_km``: no answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gtloc.geo import haversine_km
from gtloc.library.answers import (
    COVERAGE,
    FAR_BUDGET,
    FAR_KM,
    LOCAL_WINDOW,
    MIN_CALIBRATION,
    MIN_RADIUS_KM,
    NEAR_KM,
    LocalRate,
    PlaceAnswers,
    radius_scale,
    within_budget,
)
from gtloc.library.arrays import LibraryArrays

R0_KM = 0.2
INTERPOLATE_KM = 25.0
MIN_NEAR = 0.5
FALLBACK_NEAR = 0.3
CONTEXT_MIN = 30  # calibration cases a kind of answer needs for a radius rule of its own
SHRINK = 10
FLIGHT_KMH = 1000.0  # faster than anyone travels between two photos
GAP_FLOOR_H = 1.0 / 60.0  # gaps are compared on a log scale; below a minute they are alike
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

    @classmethod
    def empty(cls, m: int) -> Neighbours:
        return cls(*(np.full(m, -1) if "gap" not in f else np.full(m, np.inf) for f in cls.FIELDS))

    @property
    def nearest(self) -> np.ndarray:
        """``(M,)`` the nearer of the two in time (-1 where there is none)."""
        return np.where(self.gap_before <= self.gap_after, self.before, self.after)


def time_neighbours(
    utc: np.ndarray, labelled: np.ndarray, group: np.ndarray, queries: np.ndarray, max_gap_h: float
) -> Neighbours:
    """The labelled photos nearest in UTC time before and after each query (``queries`` ``(M,)`` rows), and the next
    ones beyond them, skipping photos of the query's own ``group`` (``(N,)`` ids: its content, or its session);
    farther than ``max_gap_h`` hours counts as none."""
    rows = np.flatnonzero(labelled & np.isfinite(utc))
    rows = rows[np.argsort(utc[rows], kind="stable")]
    times = utc[rows]
    out = Neighbours.empty(len(queries))
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
    """Track guesses: for query photo ``query[k]``, from the geotagged photos of camera ``camera[k]`` alone,
    ``latlon[k]``; the two terms of its radius, its kind, how far the camera moved around it (``moved_km``: between
    the two neighbours, or from the one neighbour to the next beyond it; 0 if unknown), whether that camera is the
    query's own (``same_camera``), and its neighbours in time."""

    query: np.ndarray
    camera: np.ndarray
    latlon: np.ndarray
    spread_km: np.ndarray
    gap_h: np.ndarray
    two_sided: np.ndarray
    moved_km: np.ndarray
    same_camera: np.ndarray
    neighbours: Neighbours

    ARRAYS = ("query", "camera", "latlon", "spread_km", "gap_h", "two_sided", "moved_km", "same_camera")

    def take(self, keep: np.ndarray) -> _Guess:
        near = Neighbours(*(getattr(self.neighbours, f)[keep] for f in Neighbours.FIELDS))
        return _Guess(*(getattr(self, f)[keep] for f in self.ARRAYS), near)

    @classmethod
    def cat(cls, parts: list[_Guess]) -> _Guess:
        near = Neighbours(*(np.concatenate([getattr(g.neighbours, f) for g in parts]) for f in Neighbours.FIELDS))
        return cls(*(np.concatenate([getattr(g, f) for g in parts]) for f in cls.ARRAYS), near)


def _guess(arrays: LibraryArrays, queries: np.ndarray, camera: int, near: Neighbours) -> _Guess:
    """The guesses from ``near`` (neighbours of camera ``camera``), for the queries that have one."""
    has_a, has_b = near.before >= 0, near.after >= 0
    both = has_a & has_b
    latlon = np.full((len(queries), 2), np.nan)
    spread, moved = np.zeros(len(queries)), np.zeros(len(queries))
    gap = np.minimum(near.gap_before, near.gap_after)
    if both.any():
        a, b = arrays.latlon[near.before[both]], arrays.latlon[near.after[both]]
        total = near.gap_before[both] + near.gap_after[both]
        f = np.where(total > 0, near.gap_before[both] / np.maximum(total, 1e-12), 0.5)
        apart = haversine_km(a, b)
        nearer = np.where((f <= 0.5)[:, None], a, b)
        latlon[both] = np.where((apart <= INTERPOLATE_KM)[:, None], interpolate(a, b, f), nearer)
        spread[both] = apart * 2 * np.minimum(f, 1 - f)
        moved[both] = apart
    one = has_a ^ has_b
    nearest, beyond = np.where(has_a, near.before, near.after)[one], np.where(has_a, near.before2, near.after2)[one]
    latlon[one] = arrays.latlon[nearest]
    onward = np.zeros(len(nearest))
    known = beyond >= 0
    onward[known] = haversine_km(arrays.latlon[nearest[known]], arrays.latlon[beyond[known]])
    spread[one] = moved[one] = onward
    same = (arrays.camera[queries] == camera) & (camera >= 0)
    reach = np.where(same, FLIGHT_KMH * gap, np.inf)  # one camera is in one place at a time
    spread, moved = np.minimum(spread, reach), np.minimum(moved, reach)
    cams = np.full(len(queries), camera)
    guess = _Guess(queries, cams, latlon, spread, gap, both, moved, same, near)
    return guess.take(has_a | has_b)


def _candidates(
    arrays: LibraryArrays, utc: np.ndarray, queries: np.ndarray, group: np.ndarray, max_gap_h: float
) -> _Guess:
    """Every query's guess from each camera's geotagged photos (a query without a camera's photo within the gap
    has no guess from it); photos of the query's own ``group`` are left out."""
    labelled = arrays.has_place & np.isfinite(utc)
    parts = []
    for c in np.unique(arrays.camera[labelled]):
        near = time_neighbours(utc, labelled & (arrays.camera == c), group, queries, max_gap_h)
        parts.append(_guess(arrays, queries, int(c), near))
    if not parts:
        return _guess(arrays, queries[:0], -1, Neighbours.empty(0))
    return _Guess.cat(parts)


def _log_gap(gap_h: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(gap_h, GAP_FLOOR_H))


class _Rates:
    """The share of calibration cases within 25 km and off by more than 200 km, read at a gap, per context. Contexts,
    coarsest first: all; whether the camera was moving (``moved_km`` over :data:`INTERPOLATE_KM`); and the same
    camera or another; and whether the neighbour is a recurring view; the camera and the neighbour's camera (and
    moving); and whether the neighbour is a recurring view. A context's share is the share among its
    (at most :data:`~gtloc.library.answers.LOCAL_WINDOW`) cases with the nearest gaps, shrunk towards the coarser
    context's share at that gap with the weight of :data:`SHRINK` cases: a context seen a few times says a little,
    one seen often says most."""

    def __init__(self, cameras: int) -> None:
        self.cameras = cameras
        self.near: list[dict[int, LocalRate]] = []
        self.far: list[dict[int, LocalRate]] = []
        self.counts: list[dict[int, int]] = []

    def codes(self, guess: _Guess, view: np.ndarray, queries_camera: np.ndarray) -> list[np.ndarray]:
        """The context of each guess at each level, coarsest first, as integers."""
        k = self.cameras + 1
        moving = (guess.moved_km > INTERPOLATE_KM).astype(int)
        pair = ((queries_camera + 1) * k + (guess.camera + 1)) * 2 + moving
        same = guess.same_camera.astype(int) * 2 + moving
        return [np.zeros(len(pair), int), moving, same, same * 2 + view, pair, pair * 2 + view]

    @classmethod
    def fit(cls, cameras: int, codes: list[np.ndarray], gap_h: np.ndarray, errors: np.ndarray) -> _Rates:
        out = cls(cameras)
        support = _log_gap(gap_h)
        for code in codes:
            near, far, counts = {}, {}, {}
            for value in np.unique(code):
                part = code == value
                counts[int(value)] = int(part.sum())
                near[int(value)] = LocalRate.fit(support[part], errors[part] <= NEAR_KM)
                far[int(value)] = LocalRate.fit(support[part], errors[part] > FAR_KM)
            out.near.append(near)
            out.far.append(far)
            out.counts.append(counts)
        return out

    def at(self, codes: list[np.ndarray], gap_h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(M,)`` shares within 25 km and off by more than 200 km among calibration cases like these (0 and 1
        with fewer than :data:`~gtloc.library.answers.MIN_CALIBRATION` cases in all), and the number of cases of
        the finest context each was read in."""
        m = len(gap_h)
        near, far, count = np.zeros(m), np.ones(m), np.zeros(m, int)
        if not self.counts or sum(self.counts[0].values()) < MIN_CALIBRATION:
            return near, far, count
        support = _log_gap(gap_h)
        for level, code in enumerate(codes):
            for value, n in self.counts[level].items():
                part = code == value
                if not part.any():
                    continue
                weight = min(n, LOCAL_WINDOW) if level else float("inf")  # the root is read as it is
                here_near = self.near[level][value].at(support[part])
                here_far = self.far[level][value].at(support[part])
                near[part] = here_near if not level else (weight * here_near + SHRINK * near[part]) / (weight + SHRINK)
                far[part] = here_far if not level else (weight * here_far + SHRINK * far[part]) / (weight + SHRINK)
                count[part] = n
        return near, far, count


@dataclass
class _Fit:
    alpha: float
    speed_kmh: float
    scale: float

    def base(self, spread_km: np.ndarray, gap_h: np.ndarray) -> np.ndarray:
        """``(M,)`` km before the scale."""
        return R0_KM + self.alpha * spread_km + self.speed_kmh * gap_h


def _fit(errors: np.ndarray, spread: np.ndarray, gap: np.ndarray, coverage: float, max_radius_km: float) -> _Fit:
    """The (alpha, speed) whose conformal scale (holding ``coverage`` of the cases) answers the most cases within
    ``max_radius_km``, then with the smallest median radius; a scale of inf with too few cases."""
    best, best_key = _Fit(0.0, 0.0, float("inf")), None
    for alpha in ALPHAS if spread.any() else (0.0,):
        for speed in SPEEDS_KMH:
            fit = _Fit(alpha, speed, float("inf"))
            base = fit.base(spread, gap)
            fit.scale = radius_scale(errors, base, coverage)
            if not np.isfinite(fit.scale):
                continue
            radius = np.maximum(fit.scale * base, MIN_RADIUS_KM)
            key = (-int((radius <= max_radius_km).sum()), float(np.median(radius)))
            if best_key is None or key < best_key:
                best, best_key = fit, key
    return best


class TrackSource:
    """Places from the geotagged photos nearest in time (see the module docstring). Call :meth:`calibrate` on the
    library's arrays and timeline, then :meth:`answer` for the photos without a place."""

    name = "track"

    def __init__(
        self,
        max_gap_h: float = 36.0,
        max_radius_km: float = 100.0,
        coverage: float = COVERAGE,
        far_budget: float = FAR_BUDGET,
    ) -> None:
        self.max_gap_h, self.max_radius_km, self.coverage = max_gap_h, max_radius_km, coverage
        self.far_budget = far_budget
        self.rates = _Rates(0)
        self.fits: dict[tuple[bool, bool | None], _Fit] = {}
        self.calibrated_on = 0

    def calibrate(
        self,
        arrays: LibraryArrays,
        utc: np.ndarray,
        recurring: np.ndarray | None = None,
        placed: PlaceAnswers | None = None,
    ) -> TrackSource:
        """Fit the rates and the radius rule on the labelled photos, each placed by the others (module docstring).
        ``recurring`` ``(N,)`` bool: the photos of a view photographed on other days too
        (:meth:`~gtloc.library.scene.SceneIndex.recurring`). ``placed``: places of photos without a label found
        otherwise (``scene``'s), calibration cases too: they show where a camera without GPS was."""
        truth = arrays.latlon.copy()
        rows = np.flatnonzero(arrays.has_place & np.isfinite(utc))
        parts = [_candidates(arrays, utc, rows, group, self.max_gap_h) for group in (arrays.group, arrays.session)]
        if placed is not None and len(placed):
            truth[placed.index] = placed.latlon
            parts.append(_candidates(arrays, utc, placed.index, arrays.group, self.max_gap_h))
        guess = _Guess.cat(parts)
        errors = haversine_km(guess.latlon, truth[guess.query]) if len(guess.query) else np.zeros(0)
        self.calibrated_on = len(guess.query)
        self.rates = _Rates(len(arrays.camera_names))
        codes = self.rates.codes(guess, self._view(recurring, guess.neighbours.nearest, len(arrays)),
                                 arrays.camera[guess.query])  # fmt: skip
        self.rates = _Rates.fit(len(arrays.camera_names), codes, guess.gap_h, errors)
        near, far, _ = self.rates.at(codes, guess.gap_h)
        given = within_budget(far, near, self.far_budget) & (near >= FALLBACK_NEAR)
        for two in (True, False):
            kind = given & (guess.two_sided == two)
            self.fits[two, None] = self._fit(errors[kind], guess.spread_km[kind], guess.gap_h[kind])
            for same in (True, False):
                part = kind & (guess.same_camera == same)
                if part.sum() >= CONTEXT_MIN:
                    self.fits[two, same] = self._fit(errors[part], guess.spread_km[part], guess.gap_h[part])
        return self

    @staticmethod
    def _view(recurring: np.ndarray | None, rows: np.ndarray, n: int) -> np.ndarray:
        """``(M,)`` whether each neighbour row (-1: none) is a photo of a recurring view (0/1)."""
        flags = np.zeros(n, bool) if recurring is None else np.asarray(recurring, bool)
        return (flags[np.maximum(rows, 0)] & (rows >= 0)).astype(int)

    def _fit(self, errors: np.ndarray, spread: np.ndarray, gap: np.ndarray) -> _Fit:
        return _fit(errors, spread, gap, self.coverage, self.max_radius_km)

    def answer(
        self,
        arrays: LibraryArrays,
        utc: np.ndarray,
        targets: np.ndarray,
        recurring: np.ndarray | None = None,
        by_session: bool = False,
    ) -> PlaceAnswers:
        """Answers for the photos ``targets`` (rows); photos without support are left out. ``recurring``: as for
        :meth:`calibrate`; ``by_session``: placed without the photos of their own session (as in calibration). The
        answers' ``facts`` hold ``gap_h``, ``same_camera``, ``neighbour_recurring``, ``nearest`` (a row), ``far``
        (the share of calibration cases alike off by more than 200 km), ``fallback`` (a share within 25 km below
        :data:`MIN_NEAR`: to be taken only where no other source answers) and ``reach_km`` (how far the photo can be
        from the answer's neighbour: a same camera's photo at :data:`FLIGHT_KMH` times the gap, inf for another
        camera's)."""
        targets = np.asarray(targets, int)
        group = arrays.session if by_session else arrays.group
        guess = _candidates(arrays, utc, targets, group, self.max_gap_h)
        view = self._view(recurring, guess.neighbours.nearest, len(arrays))
        near, far, count = self.rates.at(self.rates.codes(guess, view, arrays.camera[guess.query]), guess.gap_h)
        order = np.lexsort((guess.gap_h, -near, guess.query))  # per photo: the camera most often right, the nearest
        first = order[np.r_[True, guess.query[order][1:] != guess.query[order][:-1]]] if len(order) else order
        guess, view, near, far, count = guess.take(first), view[first], near[first], far[first], count[first]
        radius = np.full(len(guess.query), np.inf)
        for two in (True, False):
            for same in (True, False):
                fit = self.fits.get((two, same)) or self.fits.get((two, None))
                kind = (guess.two_sided == two) & (guess.same_camera == same)
                if fit is None or not kind.any():
                    continue
                radius[kind] = np.maximum(fit.scale * fit.base(guess.spread_km[kind], guess.gap_h[kind]), MIN_RADIUS_KM)
        reach = np.maximum(FLIGHT_KMH * guess.gap_h, MIN_RADIUS_KM)
        sure = guess.same_camera & (reach <= NEAR_KM)  # the same camera minutes before: no one gets farther
        near, far = np.where(sure, 1.0, near), np.where(sure, 0.0, far)
        radius = np.where(sure, np.minimum(radius, reach), radius)
        keep = (radius <= self.max_radius_km) & (near >= FALLBACK_NEAR)
        out, near, far, count = guess.take(keep), near[keep], far[keep], count[keep]
        evidence, notes = [], []
        for k in range(len(out.query)):
            n = out.neighbours
            rows = [int(r) for r in (n.before[k], n.after[k]) if r >= 0]
            evidence.append(rows)
            parts = []
            if n.before[k] >= 0:
                parts.append(f"{arrays.paths[n.before[k]]} {n.gap_before[k]:.1f} h before")
            if n.after[k] >= 0:
                parts.append(f"{arrays.paths[n.after[k]]} {n.gap_after[k]:.1f} h after")
            whose = "this camera's" if out.same_camera[k] else f"camera {arrays.camera_names[out.camera[k]]}'s"
            notes.append(
                f"geotagged photos nearest in time ({whose}): "
                + "; ".join(parts)
                + f"; such photos were within 25 km in {100 * near[k]:.0f} % of {count[k]} cases alike"
                + ("" if near[k] >= MIN_NEAR else " (a fallback, taken only where no other source answers)")
            )
        answers = PlaceAnswers(self.name, out.query, out.latlon, radius[keep], near, evidence, notes)
        answers.facts = {
            "gap_h": out.gap_h, "same_camera": out.same_camera, "neighbour_recurring": view[keep].astype(bool),
            "nearest": out.neighbours.nearest, "far": far, "fallback": near < MIN_NEAR,
            "reach_km": np.where(out.same_camera, FLIGHT_KMH * out.gap_h, np.inf),
        }  # fmt: skip
        return answers
