"""What photo managers do today, as references for ``gtloc library evaluate``.

* ``photoprism``: PhotoPrism's rule, the place of the geotagged photo nearest in time, only within +/-36 h.
* ``nearest_in_time``: the same with no limit.

Neither states a radius (their ``radius_km`` is NaN) nor a confidence. Both read the same UTC timeline as the
sources (:mod:`gtloc.library.timeline`), so they differ from the sources only in their rule.
"""

from __future__ import annotations

import numpy as np

from gtloc.library.answers import PlaceAnswers
from gtloc.library.arrays import LibraryArrays
from gtloc.library.track import time_neighbours

PHOTOPRISM_WINDOW_H = 36.0


def nearest_in_time(
    arrays: LibraryArrays, utc: np.ndarray, targets: np.ndarray, window_h: float = np.inf, name: str = ""
) -> PlaceAnswers:
    """The place of the geotagged photo nearest in UTC time to each target, within ``window_h`` hours."""
    targets = np.asarray(targets, int)
    near = time_neighbours(utc, arrays.has_place, arrays.group, targets, window_h)
    pick = np.where(near.gap_before <= near.gap_after, near.before, near.after)
    keep = pick >= 0
    rows = pick[keep]
    return PlaceAnswers(
        name or ("nearest_in_time" if np.isinf(window_h) else "photoprism"),
        targets[keep],
        arrays.latlon[rows],
        np.full(len(rows), np.nan),
        np.full(len(rows), np.nan),
        [[int(r)] for r in rows],
        [f"nearest geotagged photo in time: {arrays.paths[r]}" for r in rows],
    )


def photoprism(arrays: LibraryArrays, utc: np.ndarray, targets: np.ndarray) -> PlaceAnswers:
    """PhotoPrism's rule: the nearest geotagged photo in time within +/-36 h."""
    return nearest_in_time(arrays, utc, targets, PHOTOPRISM_WINDOW_H, "photoprism")
