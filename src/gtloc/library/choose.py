"""The chosen place: one answer per photo from the sources' answers, by a rule calibrated on the library itself.

* ``scene`` and ``track`` agree (their circles overlap): the one with the smaller radius;
* they disagree (circles apart): as the library's own labelled photos decided that kind of disagreement (below);
* one of them answers: that one; neither: ``model``, where it answers; a ``track`` *fallback* (its share within
  25 km on photos alike below a half: :data:`~gtloc.library.track.MIN_NEAR`) only where no other source answers;
* then, of the answers chosen, as many are kept as the far budget allows: in order of their share of calibration
  answers alike that were off by more than 200 km, for as long as the mean of that share stays within
  ``far_budget`` (:data:`~gtloc.library.answers.FAR_BUDGET`, 5 %): the expected share of far-off estimates held
  to it. Where ``scene`` and ``track`` agree, the share counted is the lower of theirs: two independent sources
  that agree on a place are off by more than 200 km at most as often as the surer of them.

A disagreement's *kind*: whether the picture's match is a recurring view (the matches that agree on its place were
taken on at least :data:`~gtloc.library.scene.RECURRING_DAYS` other days) and whether the photo nearest in time
that ``track`` read is itself a photo of a recurring view. On recurring views the picture is the better guide (a
garden photographed every week, and the photo taken nearest in time at the office); on one-off photos the time is
(a view of one trip can look like a view of another, and the photo taken minutes before is of the same trip);
and whether ``track`` is a sure guide (its confidence, the share of its calibration cases alike within 25 km, at
least :data:`SURE_TRACK`). Without calibration: ``track`` wins where it is sure, else ``scene`` wins where its
match or the time neighbour is a recurring view, else ``track``. Whatever the kind, ``track`` wins where the
picture's place is farther from its answer than the same camera could have travelled in the time between
(``reach_km``, at :data:`~gtloc.library.track.FLIGHT_KMH`, plus both radii).

Calibration (:meth:`Chooser.calibrate`): the library's labelled photos answered by both sources, each without its
own label (``scene`` without the photos of its session, ``track`` without its own file, then without its session).
In each disagreement where exactly one of the two was within 25 km, that one *won*. A kind with at least
:data:`MIN_DECIDE` wins goes to the source that won more of them. Where ``track`` takes a kind, ``scene`` still
overrides a close neighbour in time from the similarity up at which, among that kind's disagreements at least as
similar, ``scene`` won at least as often as ``track`` (and at least :data:`MIN_DECIDE` were decided): only a match
much stronger than the library's threshold overrides the time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gtloc.geo import haversine_km
from gtloc.library.answers import FAR_BUDGET, NEAR_KM, PlaceAnswers, support_limit, within_budget
from gtloc.library.scene import RECURRING_DAYS

MIN_DECIDE = 10
SURE_TRACK = 0.9  # track's confidence (its share within 25 km on photos alike) from which it is a sure guide
ORDER = ("scene", "track", "model")


def kind_name(kind: tuple[bool, bool, bool]) -> str:
    view, neighbour, close = kind
    return (
        f"the picture matched {'a recurring' if view else 'a one-off'} view and the photo nearest in time was "
        f"{'a recurring' if neighbour else 'a one-off'} view, {'a sure' if close else 'a less sure'} guide"
    )


@dataclass
class Verdict:
    """How one kind of disagreement is settled: ``winner`` (``scene`` or ``track``), the wins counted on the library
    (0 and 0 without calibration), and ``override``: the similarity from which ``scene`` wins even where ``track``
    takes the kind (inf: never)."""

    winner: str
    scene_wins: int = 0
    track_wins: int = 0
    override: float = float("inf")

    @property
    def calibrated(self) -> bool:
        return self.scene_wins + self.track_wins >= MIN_DECIDE


KINDS = tuple((v, n, c) for v in (True, False) for n in (True, False) for c in (True, False))


def _kinds(scene: PlaceAnswers, sk: np.ndarray, track: PlaceAnswers, tk: np.ndarray) -> list[tuple[bool, bool, bool]]:
    views = np.asarray(scene.facts.get("days", np.zeros(len(scene))))[sk] >= RECURRING_DAYS
    neighbours = np.asarray(track.facts.get("neighbour_recurring", np.zeros(len(track), bool)))[tk]
    close = track.confidence[tk] >= SURE_TRACK
    return [(bool(v), bool(n), bool(c)) for v, n, c in zip(views, neighbours, close, strict=True)]


def _reach(track: PlaceAnswers, k: int) -> float:
    """How far (km) the photo can be from ``track``'s answer ``k`` (inf where that is not known)."""
    return float(track.facts["reach_km"][k]) if "reach_km" in track.facts else float("inf")


def _fallback(track: PlaceAnswers, k: int) -> bool:
    """Whether ``track``'s answer ``k`` is a fallback, to be taken only where no other source answers."""
    return bool(track.facts["fallback"][k]) if "fallback" in track.facts else False


def _far(answers: PlaceAnswers, k: int) -> float:
    """Answer ``k``'s share of calibration answers alike off by more than 200 km (0 where the source has none)."""
    return float(answers.facts["far"][k]) if "far" in answers.facts else 0.0


def _pairs(scene: PlaceAnswers, track: PlaceAnswers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions in ``scene`` and ``track`` of the photos both answer, and whether they disagree there."""
    common, sk, tk = np.intersect1d(scene.index, track.index, return_indices=True)
    if not len(common):
        return sk, tk, np.zeros(0, bool)
    apart = haversine_km(scene.latlon[sk], track.latlon[tk])
    return sk, tk, np.asarray(apart > scene.radius_km[sk] + track.radius_km[tk])


class Chooser:
    """The rule of the module docstring: :meth:`calibrate` on answers for labelled photos, then :meth:`choose`."""

    def __init__(self, far_budget: float = FAR_BUDGET) -> None:
        self.far_budget = far_budget
        self.verdicts = {kind: Verdict("track" if kind[2] or not (kind[0] or kind[1]) else "scene") for kind in KINDS}

    def calibrate(self, pairs: list[tuple[PlaceAnswers, PlaceAnswers]], truth: np.ndarray) -> Chooser:
        """Settle each kind on ``pairs`` of (scene, track) answers for labelled photos whose places are ``truth``
        ``(N, 2)``."""
        cases: dict[tuple[bool, bool, bool], list[tuple[float, bool]]] = {kind: [] for kind in KINDS}
        for scene, track in pairs:
            sk, tk, disagree = _pairs(scene, track)
            reach = np.array([_reach(track, k) for k in tk]) + scene.radius_km[sk] + track.radius_km[tk]
            possible = haversine_km(scene.latlon[sk], track.latlon[tk]) <= reach
            sk, tk = sk[disagree & possible], tk[disagree & possible]
            if not len(sk):
                continue
            scene_right = haversine_km(scene.latlon[sk], truth[scene.index[sk]]) <= NEAR_KM
            track_right = haversine_km(track.latlon[tk], truth[track.index[tk]]) <= NEAR_KM
            similarity = np.asarray(scene.facts.get("similarity", np.zeros(len(scene))))[sk]
            for kind, s, a, b in zip(_kinds(scene, sk, track, tk), similarity, scene_right, track_right, strict=True):
                if a != b:
                    cases[kind].append((float(s), bool(a)))
        for kind, decided in cases.items():
            wins = sum(won for _, won in decided)
            verdict = Verdict(self.verdicts[kind].winner, wins, len(decided) - wins)
            if verdict.calibrated:
                verdict.winner = "scene" if verdict.scene_wins >= verdict.track_wins else "track"
                if verdict.winner == "track":
                    similarity = np.array([s for s, _ in decided])
                    verdict.override = support_limit(similarity, np.array([w for _, w in decided]), 0.5)
            self.verdicts[kind] = verdict
        return self

    def _settle(self, kind: tuple[bool, bool, bool], similarity: float) -> tuple[str, str]:
        """The winner of a disagreement of ``kind`` at ``similarity``, and why in words."""
        verdict = self.verdicts[kind]
        winner = "scene" if verdict.winner == "scene" or similarity >= verdict.override else "track"
        if not verdict.calibrated:
            why = f"{kind_name(kind)} (too few such disagreements on this library: the default)"
        else:
            why = (f"{kind_name(kind)}; on this library's labelled photos scene won {verdict.scene_wins} and track "
                   f"{verdict.track_wins} such disagreements")  # fmt: skip
            if winner != verdict.winner:
                why += f", but a match this strong ({similarity:.3f} >= {verdict.override:.3f}) won most"
        return winner, why

    def choose(self, answers: list[PlaceAnswers], budget: bool = True) -> PlaceAnswers:
        """One answer per photo, as ``combined`` answers (``origins`` names the source of each), as many as the far
        budget allows (:meth:`keep_within_budget`; ``budget=False``: all of them, for a caller that budgets answers
        gathered from several calls at once). An answer's ``far`` fact is its source's (0 without one), and where
        ``scene`` and ``track`` agree, the lower of theirs: two independent sources that agree are off by more than
        200 km at most as often as the surer of them."""
        by = {a.source: (a, a.by_photo()) for a in answers}
        photos = sorted({int(i) for a in answers for i in a.index})
        rows: list[tuple[PlaceAnswers, int, str, float]] = []
        for p in photos:
            have = {name: (a, pos[p]) for name, (a, pos) in by.items() if p in pos}
            if len(have) > 1 and "track" in have and _fallback(*have["track"]):
                del have["track"]
            note, far = "", None
            if "scene" in have and "track" in have:
                (sa, sk), (ta, tk) = have["scene"], have["track"]
                apart = float(haversine_km(sa.latlon[sk], ta.latlon[tk]))
                if apart <= sa.radius_km[sk] + ta.radius_km[tk]:
                    pick = "scene" if sa.radius_km[sk] <= ta.radius_km[tk] else "track"
                    far = min(_far(sa, sk), _far(ta, tk))
                elif apart > _reach(ta, tk) + sa.radius_km[sk] + ta.radius_km[tk]:
                    pick = "track"
                    note = (
                        f"; scene disagrees by {apart:.0f} km: track chosen, as the same camera took a geotagged "
                        f"photo {float(ta.facts['gap_h'][tk]):.1f} h away, too little time to travel that far"
                    )
                else:
                    kind = _kinds(sa, np.array([sk]), ta, np.array([tk]))[0]
                    similarity = float(np.asarray(sa.facts.get("similarity", np.zeros(len(sa))))[sk])
                    pick, why = self._settle(kind, similarity)
                    other = "track" if pick == "scene" else "scene"
                    note = f"; {other} disagrees by {apart:.0f} km: {pick} chosen, as {why}"
            else:
                pick = next(name for name in ORDER if name in have)
            source, k = have[pick]
            rows.append((source, k, note, _far(source, k) if far is None else far))
        out = PlaceAnswers("combined")
        out.index = np.array(photos, int)
        out.latlon = np.array([s.latlon[k] for s, k, _, _ in rows]).reshape(-1, 2)
        out.radius_km = np.array([s.radius_km[k] for s, k, _, _ in rows], float)
        out.confidence = np.array([s.confidence[k] for s, k, _, _ in rows], float)
        out.evidence = [s.evidence[k] for s, k, _, _ in rows]
        out.notes = [s.notes[k] + note for s, k, note, _ in rows]
        out.origins = [s.source for s, _, _, _ in rows]
        out.facts = {"far": np.array([far for _, _, _, far in rows], float)}
        return self.keep_within_budget(out) if budget else out

    def keep_within_budget(self, combined: PlaceAnswers) -> PlaceAnswers:
        """The ``combined`` answers kept by :func:`~gtloc.library.answers.within_budget` on their ``far`` facts."""
        return combined.take(within_budget(combined.facts["far"], combined.confidence, self.far_budget))


def choose_places(answers: list[PlaceAnswers], chooser: Chooser | None = None) -> PlaceAnswers:
    """One answer per photo by ``chooser``'s rule (the uncalibrated defaults without one)."""
    return (chooser or Chooser()).choose(answers)
