"""The clock check: does a claimed time agree with the photo's own clocks (its camera and its GPS receiver)?

:func:`gtloc.data.clock.read_clock` says whether the camera's clock is right and whether the GPS fix is fresh; this
check turns that into a verdict on a claim.

* No claimed instant: the claim is the camera's own time. ``consistent`` when the clock reads ``ok``,
  ``inconsistent`` when it reads ``wrong`` (its note says how), ``cannot judge`` otherwise.
* A claimed UTC instant, against the GPS time (``gps_utc``): within :data:`CLAIM_TOLERANCE_S` and with a fresh fix
  (the clock read ``ok`` or ``wrong``): ``consistent``. *Earlier* than the fix by more than that: ``inconsistent``,
  whatever the camera says, since a fix is never taken after the photo. *Later*: ``inconsistent`` only when the fix
  is known to be fresh; a stale or doubtful fix only says the photo is not older than it.
* A stamp without a date (time of day only) is never used to contradict a claim: the date is a guess.
"""

from __future__ import annotations

from datetime import datetime, timezone

from gtloc.data.clock import ClockReading, duration_text, read_clock
from gtloc.data.exif import PhotoExif
from gtloc.evidence.check import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, Check

CLAIM_TOLERANCE_S = 900.0
"""A claimed time within 15 min of the GPS time agrees with it (claims are often given to the quarter hour)."""


def check_clock(
    exif: PhotoExif, utc_time: datetime | None = None, lat: float | None = None, lon: float | None = None
) -> Check:
    """The clock check of a claim (the rule in the module docstring).

    ``exif``: the photo's EXIF (:func:`~gtloc.data.exif.read_photo_exif`). ``utc_time``: the claimed instant (aware;
    naive is read as UTC); ``None`` to judge the camera's own time. ``lat``/``lon``: where the photo was taken, for
    the local time zone (default: the photo's own GPS position).
    """
    reading = read_clock(exif, lat, lon)
    figures = _figures(reading)
    if utc_time is None:
        if reading.status == "ok":
            return Check("clock", CONSISTENT, "the camera's clock agrees with its GPS time", figures)
        if reading.status == "wrong":
            return Check("clock", INCONSISTENT, f"the camera's clock is wrong: {reading.note}", figures)
        return Check("clock", CANNOT_JUDGE, reading.note or "the camera's clock cannot be checked", figures)
    if reading.gps_utc is None:
        return Check("clock", CANNOT_JUDGE, reading.note or "no GPS time in EXIF", figures)
    claimed = utc_time.replace(tzinfo=timezone.utc) if utc_time.tzinfo is None else utc_time.astimezone(timezone.utc)
    gap = (claimed - reading.gps_utc).total_seconds()
    figures["claim_minus_gps_s"] = round(gap)
    stamp = f"the photo's GPS time ({reading.gps_utc_text})"
    if not reading.gps_date_known:
        return Check("clock", CANNOT_JUDGE, f"{stamp} has no date, so it cannot settle the claim", figures)
    fresh = reading.fix == "fresh"
    if abs(gap) <= CLAIM_TOLERANCE_S and fresh:
        return Check("clock", CONSISTENT, f"the claimed time agrees with {stamp}", figures)
    if gap < -CLAIM_TOLERANCE_S:
        why = f"the claimed time is {duration_text(-gap)} before {stamp}, and a GPS fix is never taken after the photo"
        return Check("clock", INCONSISTENT, why, figures)
    if gap > CLAIM_TOLERANCE_S and fresh:
        return Check("clock", INCONSISTENT, f"the claimed time is {duration_text(gap)} after {stamp}", figures)
    why = f"{stamp} may be an old fix ({reading.note}); it only says the photo is not older than that"
    return Check("clock", CANNOT_JUDGE, why, figures)


def _figures(reading: ClockReading) -> dict[str, object]:
    return {
        "clock": reading.status,
        "clock_note": reading.note,
        "gps_utc": reading.gps_utc_text,
        "clock_offset_s": None if reading.offset_s is None else round(reading.offset_s),
        "clock_error_s": None if reading.error_s is None else round(reading.error_s),
        "gps_fix": reading.fix,
    }
