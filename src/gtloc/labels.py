"""A missing label is NaN: the one rule for whether a row of labels is there.

Every table of labels in gtloc, numpy or torch, marks an unknown label by NaN in its fields: ``latlon`` ``(N, 2)``
degrees, ``times`` ``(N, 5)`` ``[month, day, hour, minute, second]``, and the same for predicted places and times
(NaN where there is no answer). A row has a label when every one of its fields is finite; a row with any NaN (or
infinite) field has none, and loss terms, metrics and galleries leave it out.
"""

from __future__ import annotations

from gtloc._array import ArrayLike, xp


def has_label(rows: ArrayLike) -> ArrayLike:
    """Label rows ``(..., K)`` (e.g. ``(N, 2)`` lat/lon or ``(N, 5)`` times; numpy array or torch tensor) ->
    ``(...)`` bool of the same kind: the row's ``K`` fields are all finite. One row ``(K,)`` gives a 0-d bool."""
    return xp(rows).isfinite(rows).all(-1)
