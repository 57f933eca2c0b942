"""Numbers and answers as people read them, one way everywhere (the terminal, the files' text columns, the web page).

Probabilities as percentages with the digits that matter (``37 %``, ``3.2 %``, ``0.4 %``, ``< 0.1 %``), distances
rounded to what a radius means (``350 km``, ``1,900 km``), times with the precision the model has: a month and a
window of clock hours (``July, 14:00-16:00``), never the day of the time gallery's grid.
"""

from __future__ import annotations

import calendar
import math

from gtloc.data.exif import PhotoExif
from gtloc.geo import EARTH_RADIUS_KM

ANYWHERE_KM = math.pi * EARTH_RADIUS_KM - 1.0
"""A radius this large (half the Earth's circumference, less rounding) holds every place on Earth."""


def percent(p: float) -> str:
    """``0.3712`` -> ``"37 %"``; ``0.032`` -> ``"3.2 %"``; ``0.0042`` -> ``"0.4 %"``; below 0.05 % -> ``"< 0.1 %"``."""
    value = 100.0 * float(p)
    if not math.isfinite(value):
        return "-"
    if value >= 99.5:
        return "100 %" if value >= 99.95 else f"{value:.1f} %"
    if value >= 9.95:
        return f"{value:.0f} %"
    if value >= 0.05:
        return f"{value:.1f} %"
    return "< 0.1 %" if value > 0 else "0 %"


def distance_text(km: float) -> str:
    """``350.0`` -> ``"350 km"``; ``1900.0`` -> ``"1,900 km"``; ``1.5`` -> ``"1.5 km"``; half the Earth's
    circumference or more -> ``"anywhere on Earth"``."""
    if km >= ANYWHERE_KM:
        return "anywhere on Earth"
    return f"{km:,.1f} km" if km < 10 and km != int(km) else f"{km:,.0f} km"


def radius_text(km: float, coverage: float) -> str:
    """``"80 % within 350 km"`` (or ``"80 %: anywhere on Earth"``)."""
    where = distance_text(km)
    return f"{percent(coverage)}: {where}" if km >= ANYWHERE_KM else f"{percent(coverage)} within {where}"


def hours_text(first: int, hours: int) -> str:
    """A window of ``hours`` clock hours from ``first`` (0..23): ``(14, 2)`` -> ``"14:00-16:00"``, ``(23, 2)`` ->
    ``"23:00-01:00"``; all 24 -> ``"any hour"``."""
    if hours >= 24:
        return "any hour"
    return f"{first % 24:02d}:00-{(first + hours) % 24:02d}:00"


def month_text(month: int) -> str:
    """``7`` -> ``"July"``."""
    return calendar.month_name[int(month)]


def latlon_text(lat: float, lon: float) -> str:
    """``"51.5072, -0.1276"`` (4 decimals: about 10 m)."""
    return f"{lat:.4f}, {lon:.4f}"


def exif_text(exif: PhotoExif | None) -> str:
    """What a photo's EXIF says about where and when, in one line: ``"51.5007, -0.1246; 2019-07-14 15:32:10"``, with
    ``no GPS`` / ``no time`` where it lacks one (and why, where a tag is there but broken); ``"not read"`` for
    ``None``."""
    if exif is None:
        return "not read"
    place = latlon_text(exif.lat, exif.lon) if exif.has_gps else _missing("no GPS", exif.gps_problem)
    when = f"{exif.local_time:%Y-%m-%d %H:%M:%S}" if exif.has_time else _missing("no time", exif.time_problem)
    return f"{place}; {when}"


def _missing(what: str, why: str) -> str:
    """``what`` is missing; ``why`` when it says more than that the tag is absent (a broken value)."""
    return f"{what} ({why})" if why and not why.lower().startswith("no ") else what
