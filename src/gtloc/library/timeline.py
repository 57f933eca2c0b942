"""One timeline for every photo of a library: UTC seconds, whatever each camera's clock was set to.

A photo's UTC time is its camera clock minus an offset (camera time minus UTC), the first of:

1. its own clock check: camera time minus the GPS receiver's UTC time, where the check judged it (``ok``/``wrong``);
2. its own ``OffsetTimeOriginal``;
3. the judged offset of the same camera's photo nearest in camera time (within :data:`SAME_CAMERA_DAYS`): a camera
   whose clock is off is off for all its photos of that period, GPS or not;
4. the time zone at its own GPS place;
5. the offset of the photo nearest in camera time (any camera) that has one from 1-4: people and their cameras
   are usually in one time zone at a time;
6. none known anywhere: the clock is taken as UTC (one consistent timeline for a library in one zone).
"""

from __future__ import annotations

import numpy as np

from gtloc.library.arrays import LibraryArrays

SAME_CAMERA_DAYS = 30.0


def _nearest_fill(times: np.ndarray, values: np.ndarray, want: np.ndarray, max_gap_s: float = np.inf) -> np.ndarray:
    """For each ``want`` row with a finite time: the value of the finite-valued row nearest in time (within
    ``max_gap_s``); NaN otherwise. ``times``/``values`` ``(N,)``, ``want`` ``(N,)`` bool."""
    out = np.full(len(times), np.nan)
    have = np.isfinite(values) & np.isfinite(times)
    if not have.any():
        return out
    order = np.argsort(times[have], kind="stable")
    ref_t, ref_v = times[have][order], values[have][order]
    rows = np.flatnonzero(want & np.isfinite(times))
    pos = np.searchsorted(ref_t, times[rows])
    before, after = np.clip(pos - 1, 0, len(ref_t) - 1), np.clip(pos, 0, len(ref_t) - 1)
    gap_before, gap_after = np.abs(times[rows] - ref_t[before]), np.abs(ref_t[after] - times[rows])
    pick = np.where(gap_before <= gap_after, before, after)
    gap = np.minimum(gap_before, gap_after)
    out[rows] = np.where(gap <= max_gap_s, ref_v[pick], np.nan)
    return out


def camera_offsets(arrays: LibraryArrays) -> np.ndarray:
    """``(N,)`` camera time minus UTC, seconds, by the rules of the module docstring (NaN for photos without time)."""
    offset = np.where(arrays.judged_clock, arrays.clock_offset_s, np.nan)
    offset = np.where(np.isnan(offset), arrays.utc_offset_s, offset)
    judged = np.where(arrays.judged_clock, arrays.clock_offset_s, np.nan)
    for camera in np.unique(arrays.camera[arrays.camera >= 0]):
        mine = arrays.camera == camera
        if not np.isfinite(judged[mine]).any():
            continue
        filled = _nearest_fill(
            np.where(mine, arrays.local_s, np.nan), np.where(mine, judged, np.nan), mine & np.isnan(offset),
            SAME_CAMERA_DAYS * 86400.0,
        )  # fmt: skip
        offset = np.where(np.isnan(offset) & np.isfinite(filled), filled, offset)
    offset = np.where(np.isnan(offset), arrays.zone_offset_s, offset)
    filled = _nearest_fill(arrays.local_s, offset, np.isnan(offset))
    offset = np.where(np.isnan(offset), filled, offset)
    offset = np.where(np.isnan(offset), 0.0, offset)
    return np.where(arrays.has_time, offset, np.nan)


def utc_timeline(arrays: LibraryArrays) -> np.ndarray:
    """``(N,)`` each photo's time as UTC seconds since 1970 (NaN without a time)."""
    return arrays.local_s - camera_offsets(arrays)
