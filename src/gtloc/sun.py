"""The sun's place in the sky: the NOAA solar-calculator formulas, vectorised over places and instants.

:func:`solar_position` (arrays; used by the world renderer and the sun check) matches ``astral`` (the same NOAA
equations) to a few thousandths of a degree; ``tests/test_sun.py`` checks it. :func:`sun_position` answers for one
place and time, with the light of that sun elevation (:func:`light_at`): ``day`` while the sun's centre is above
-0.833 deg (sunrise/sunset), then ``civil twilight`` to -6 deg, ``nautical twilight`` to -12 deg,
``astronomical twilight`` to -18 deg, and ``night`` below (geometric elevations, the standard definitions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from gtloc.timecode import local_to_utc

UNIX_EPOCH_JULIAN_DAY = 2440587.5
SECONDS_PER_DAY = 86400.0


def _refraction_deg(elevation: np.ndarray) -> np.ndarray:
    """Atmospheric refraction in degrees for a geometric elevation in degrees (NOAA's piecewise fit)."""
    e = np.clip(elevation, -89.0, 89.0)
    te = np.tan(np.radians(e))
    high = 58.1 / te - 0.07 / te**3 + 0.000086 / te**5
    low = 1735.0 + e * (-518.2 + e * (103.4 + e * (-12.79 + e * 0.711)))
    below = -20.774 / te
    arcsec = np.where(e > 5.0, high, np.where(e > -0.575, low, below))
    return np.where(elevation >= 85.0, 0.0, arcsec / 3600.0)


def solar_position(
    lat: np.ndarray | float, lon: np.ndarray | float, unix_ts: np.ndarray | float, *, refraction: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The sun's elevation and azimuth as seen from ``(lat, lon)`` at a UTC instant.

    ``lat``, ``lon``: degrees (north, east positive); ``unix_ts``: seconds since 1970-01-01 UTC. Inputs
    broadcast. Returns ``(elevation, azimuth)`` in degrees: elevation above the horizon (with atmospheric
    refraction unless ``refraction=False``), azimuth clockwise from north in ``[0, 360)``.
    """
    lat = np.clip(np.asarray(lat, dtype=np.float64), -89.8, 89.8)
    lon = np.asarray(lon, dtype=np.float64)
    ts = np.asarray(unix_ts, dtype=np.float64)
    t = (ts / SECONDS_PER_DAY + UNIX_EPOCH_JULIAN_DAY - 2451545.0) / 36525.0  # Julian century

    mean_long = np.mod(280.46646 + t * (36000.76983 + 0.0003032 * t), 360.0)
    mean_anom = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    ecc = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    m = np.radians(mean_anom)
    center = (
        np.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + np.sin(2 * m) * (0.019993 - 0.000101 * t)
        + np.sin(3 * m) * 0.000289
    )
    true_long = mean_long + center
    omega = np.radians(125.04 - 1934.136 * t)
    apparent_long = true_long - 0.00569 - 0.00478 * np.sin(omega)
    mean_obliq = 23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    obliq = np.radians(mean_obliq + 0.00256 * np.cos(omega))
    declination = np.arcsin(np.sin(obliq) * np.sin(np.radians(apparent_long)))

    y = np.tan(obliq / 2.0) ** 2
    l0 = np.radians(mean_long)
    eq_time = 4.0 * np.degrees(
        y * np.sin(2 * l0)
        - 2 * ecc * np.sin(m)
        + 4 * ecc * y * np.sin(m) * np.cos(2 * l0)
        - 0.5 * y * y * np.sin(4 * l0)
        - 1.25 * ecc * ecc * np.sin(2 * m)
    )  # minutes

    utc_minutes = np.mod(ts, SECONDS_PER_DAY) / 60.0
    true_solar = np.mod(utc_minutes + eq_time + 4.0 * lon, 1440.0)
    hour_angle = np.radians(true_solar / 4.0 - 180.0)

    phi = np.radians(lat)
    cos_zen = np.clip(
        np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.cos(hour_angle), -1.0, 1.0
    )
    zenith = np.arccos(cos_zen)
    elevation = 90.0 - np.degrees(zenith)
    # Azimuth clockwise from north: atan2 of the east and north components of the sun direction.
    east = -np.cos(declination) * np.sin(hour_angle)
    north = np.cos(phi) * np.sin(declination) - np.sin(phi) * np.cos(declination) * np.cos(hour_angle)
    azimuth = np.mod(np.degrees(np.arctan2(east, north)), 360.0)
    if refraction:
        elevation = elevation + _refraction_deg(elevation)
    return elevation, azimuth


LIGHT_BANDS = (
    (-0.833, "day"),
    (-6.0, "civil twilight"),
    (-12.0, "nautical twilight"),
    (-18.0, "astronomical twilight"),
)
"""``(lowest geometric sun elevation in degrees, light)``, brightest first; below the last: ``night``."""
COMPASS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")


def light_at(geometric_elevation_deg: float) -> str:
    """``day``, ``civil twilight``, ``nautical twilight``, ``astronomical twilight`` or ``night`` for a geometric
    (refraction-free) sun elevation in degrees."""
    return next((light for lowest, light in LIGHT_BANDS if geometric_elevation_deg > lowest), "night")


@dataclass(frozen=True)
class SunPosition:
    """The sun seen from ``(lat, lon)`` at the instant ``utc`` (aware, UTC).

    ``elevation_deg``: above the horizon as seen (with refraction), degrees; ``azimuth_deg``: clockwise from north,
    ``[0, 360)``; ``light``: :func:`light_at` of the geometric elevation.
    """

    lat: float
    lon: float
    utc: datetime
    elevation_deg: float
    azimuth_deg: float
    light: str

    @property
    def compass(self) -> str:
        """The azimuth as a 16-point compass direction (``WSW``)."""
        return COMPASS[round(self.azimuth_deg / 22.5) % 16]


def sun_position(lat: float, lon: float, when: datetime) -> SunPosition:
    """The sun's elevation, azimuth and light at ``(lat, lon)`` (degrees) at ``when``.

    ``when``: an aware datetime (any zone), or a naive one read as local clock time at the place (its IANA zone and
    DST). Raises :class:`~gtloc.geo.InvalidCoordinateError` for a position out of range.
    """
    utc = local_to_utc(when, lat, lon) if when.tzinfo is None else when.astimezone(timezone.utc)
    ts = utc.timestamp()
    elevation, azimuth = solar_position(lat, lon, ts)
    geometric, _ = solar_position(lat, lon, ts, refraction=False)
    return SunPosition(float(lat), float(lon), utc, float(elevation), float(azimuth), light_at(float(geometric)))
