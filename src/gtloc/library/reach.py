"""One camera is in one place at a time: where a photo cannot have been, given its own camera's geotagged photos.

A camera's photo taken ``gap`` hours before or after another of its geotagged photos is at most
:data:`~gtloc.library.track.FLIGHT_KMH` x ``gap`` km from it (faster than anyone travels between two photos). A
place answered by the picture (``scene``) or a model for a photo whose own camera took a geotagged photo shortly
before or after, farther from that photo than the camera could have travelled plus the answer's own radius, cannot
be right: it is left out, so the choice between sources never takes it and it spends none of the far budget. Only
the same camera's photos bound a photo (another camera's owner may be anywhere), on the UTC timeline (clock
offsets corrected: :mod:`gtloc.library.timeline`), and only within :data:`REACH_MAX_GAP_H` hours (farther in time,
anywhere on Earth can be reached).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gtloc.geo import haversine_km
from gtloc.library.answers import PlaceAnswers
from gtloc.library.arrays import LibraryArrays
from gtloc.library.track import FLIGHT_KMH, time_neighbours

REACH_MAX_GAP_H = 20.0
"""At :data:`~gtloc.library.track.FLIGHT_KMH`, 20 h reach any point of the Earth (20,000 km away at most)."""


@dataclass
class CameraReach:
    """For M photos (``index`` ``(M,)`` rows): the same camera's geotagged photo nearest in time before and after
    (``rows`` ``(M, 2)``, -1 where there is none within :data:`REACH_MAX_GAP_H`) and how far the photo can be from
    each (``reach_km`` ``(M, 2)``: :data:`~gtloc.library.track.FLIGHT_KMH` x the gap; inf where there is none)."""

    index: np.ndarray
    rows: np.ndarray
    reach_km: np.ndarray

    def impossible(self, answers: PlaceAnswers, latlon: np.ndarray) -> np.ndarray:
        """``(M',)`` bool: ``answers``' places farther from one of their photo's bounding photos (whose places are
        in ``latlon`` ``(N, 2)``) than its reach plus the answer's radius. Photos not in :attr:`index` are not
        bounded."""
        out = np.zeros(len(answers), bool)
        position = {int(p): k for k, p in enumerate(self.index)}
        k = np.array([position.get(int(photo), -1) for photo in answers.index], int)
        bounded = np.flatnonzero(k >= 0)
        for side in (0, 1):
            rows = self.rows[k[bounded], side]
            near = bounded[rows >= 0]
            if not len(near):
                continue
            apart = haversine_km(answers.latlon[near], latlon[rows[rows >= 0]])
            out[near] |= apart > self.reach_km[k[near], side] + answers.radius_km[near]
        return out

    def keep_possible(self, answers: PlaceAnswers, latlon: np.ndarray) -> PlaceAnswers:
        """``answers`` without the :meth:`impossible` ones."""
        keep = ~self.impossible(answers, latlon)
        return answers if keep.all() else answers.take(keep)


def camera_reach(arrays: LibraryArrays, utc: np.ndarray, targets: np.ndarray, group: np.ndarray) -> CameraReach:
    """The :class:`CameraReach` of the photos ``targets`` (rows) on the UTC timeline ``utc`` ``(N,)`` seconds,
    leaving out photos of each target's own ``group`` (``(N,)`` ids: its content, or its session)."""
    targets = np.asarray(targets, int)
    rows = np.full((len(targets), 2), -1)
    gaps = np.full((len(targets), 2), np.inf)
    labelled = arrays.has_place & np.isfinite(utc)
    for camera in np.unique(arrays.camera[targets]):
        if camera < 0:
            continue
        mine = np.flatnonzero(arrays.camera[targets] == camera)
        near = time_neighbours(utc, labelled & (arrays.camera == camera), group, targets[mine], REACH_MAX_GAP_H)
        rows[mine, 0], rows[mine, 1] = near.before, near.after
        gaps[mine, 0], gaps[mine, 1] = near.gap_before, near.gap_after
    return CameraReach(targets, rows, np.where(rows >= 0, FLIGHT_KMH * gaps, np.inf))
