"""The ``clock`` source: the local time of photos from a camera whose clock was found wrong, corrected.

The clock check compares a photo's camera time with its GPS receiver's UTC time (``clock_offset_s``, camera
minus GPS) and judges it ``ok`` or ``wrong`` (a stale GPS fix is not a wrong clock: the check leaves such photos
``unknown``). With the time zone at the photo's GPS place, a ``wrong`` photo's clock error is
``clock_offset_s - zone_offset_s``: how far the camera's clock is from the local time where the photo was taken.

Each photo of a camera takes the verdict of the same camera's judged photo nearest in camera time (its own first,
within :data:`MAX_GAP_DAYS`): where that photo's clock was ``wrong``, the photo's local time is its camera time
minus that clock error. The radius is the spread of the clock errors the camera's ``wrong`` photos of those days
show (at least :data:`MIN_RADIUS_H`); the confidence the share of its judged photos of those days that agree
within :data:`AGREE_S`.
"""

from __future__ import annotations

import numpy as np

from gtloc.library.answers import TimeAnswers
from gtloc.library.arrays import LibraryArrays, clock_time

MAX_GAP_DAYS = 2.0
MIN_RADIUS_H = 1.0 / 60.0
AGREE_S = 600.0


def _describe(error_s: float) -> str:
    minutes = round(abs(error_s) / 60)
    way = "ahead of" if error_s > 0 else "behind"
    amount = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    return f"camera clock {amount} {way} local time"


class ClockSource:
    """Corrected local times for the photos of cameras with a wrong clock (see the module docstring)."""

    name = "clock"

    def answer(self, arrays: LibraryArrays, targets: np.ndarray) -> TimeAnswers:
        """Answers for the ``targets`` (rows) whose camera's clock was wrong at that time; others are left out."""
        targets = np.asarray(targets, int)
        judged = arrays.judged_clock & np.isfinite(arrays.zone_offset_s) & (arrays.camera >= 0)
        error = np.where(judged, arrays.clock_offset_s - arrays.zone_offset_s, np.nan)
        wrong = judged & (arrays.clock == "wrong")
        limit = MAX_GAP_DAYS * 86400.0
        out: dict[str, list] = {k: [] for k in ("index", "local", "radius", "confidence", "evidence", "notes")}
        for q in targets:
            if arrays.camera[q] < 0 or not np.isfinite(arrays.local_s[q]):
                continue
            mine = np.flatnonzero(judged & (arrays.camera == arrays.camera[q]))
            if not len(mine):
                continue
            gaps = np.abs(arrays.local_s[mine] - arrays.local_s[q])
            nearest = mine[np.argmin(gaps)]
            if gaps.min() > limit or not wrong[nearest]:
                continue
            period = mine[gaps <= limit]
            errors = error[period][wrong[period]]
            spread_h = float(np.abs(errors - error[nearest]).max()) / 3600.0
            agree = np.abs(np.where(wrong[period], error[period], 0.0) - error[nearest]) <= AGREE_S
            out["index"].append(int(q))
            out["local"].append(arrays.local_s[q] - error[nearest])
            out["radius"].append(max(MIN_RADIUS_H, spread_h))
            out["confidence"].append(float(agree.mean()))
            out["evidence"].append([int(nearest)])
            out["notes"].append(f"{_describe(error[nearest])}, from the GPS time of {arrays.paths[nearest]}")
        local = np.array(out["local"], float)
        whens = [clock_time(s) for s in local]
        return TimeAnswers(
            self.name,
            np.array(out["index"], int),
            local,
            np.array([w.month for w in whens], float),
            np.array([w.day for w in whens], float),
            np.array([w.hour + w.minute / 60.0 for w in whens], float),
            np.array(out["radius"], float),
            np.array(out["confidence"], float),
            out["evidence"],
            out["notes"],
        )
