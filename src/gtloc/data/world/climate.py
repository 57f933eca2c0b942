"""Climate of the synthetic world: zones, real desert regions, seasonal temperature, vegetation state, snow, clouds.

Everything is a smooth, vectorised function of ``lat, lon`` (degrees) and the day of the year, so that nearby
places share a climate. Seasons are flipped in the southern hemisphere because the temperature phase follows
the sign of the latitude. All arrays broadcast; temperatures are degrees Celsius. This is a SYNTHETIC climate:
a handful of fitted curves, not weather data.
"""

from __future__ import annotations

import numpy as np

CLIMATES = ("tropical", "arid", "temperate", "continental", "polar")
TROPICAL, ARID, TEMPERATE, CONTINENTAL, POLAR = range(len(CLIMATES))

# Real deserts and steppes: (lat_min, lat_max, lon_min, lon_max) degrees.
DESERT_BOXES = (
    (15.0, 31.0, -17.0, 33.0),  # Sahara
    (13.0, 31.5, 34.5, 60.0),  # Arabia
    (26.0, 35.0, 52.0, 66.0),  # Iranian plateau, Baluchistan
    (24.0, 30.0, 69.0, 76.0),  # Thar
    (36.0, 46.0, 52.0, 68.0),  # Karakum, Kyzylkum
    (36.0, 42.0, 76.0, 92.0),  # Taklamakan
    (40.0, 46.0, 95.0, 112.0),  # Gobi
    (31.0, 38.0, -116.8, -108.5),  # US south-west (Mojave, Sonoran, Colorado plateau)
    (24.0, 31.0, -115.0, -103.0),  # northern Mexico (Sonora, Chihuahua)
    (-28.0, -17.0, -71.5, -68.5),  # Atacama
    (-50.0, -38.0, -71.0, -65.0),  # Patagonian steppe
    (-28.0, -18.0, 12.0, 25.0),  # Namib, Kalahari
    (2.0, 12.0, 40.0, 51.0),  # Horn of Africa
    (-31.0, -19.0, 118.0, 145.0),  # Australian interior
)
# Continental interiors (cold winters, hot summers) and maritime coasts: (box, continentality).
CONTINENTALITY_BOXES = (
    ((42.0, 75.0, 25.0, 140.0), 0.85),  # Russia, Siberia, Kazakhstan
    ((35.0, 55.0, 100.0, 135.0), 0.75),  # northern China, Mongolia, Manchuria
    ((35.0, 65.0, -120.0, -70.0), 0.75),  # North American interior
    ((44.0, 60.0, 12.0, 30.0), 0.55),  # central / eastern Europe, Scandinavia's east
    ((35.0, 62.0, -11.0, 12.0), 0.15),  # western Europe
    ((38.0, 62.0, -135.0, -120.0), 0.1),  # Pacific north-west
)
DEFAULT_CONTINENTALITY = 0.35
BOX_EDGE_DEG = 1.5
COLDEST_DAY = 18.0  # day of the year of the coldest mean temperature in the northern hemisphere
DAYS_PER_YEAR = 365.2422


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 below ``edge0``, 1 above ``edge1`` (or the reverse when ``edge0 > edge1``), a smooth ramp between."""
    t = np.clip((np.asarray(x) - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _box_membership(lat: np.ndarray, lon: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    lat0, lat1, lon0, lon1 = box
    w = BOX_EDGE_DEG
    return (
        _sigmoid((lat - lat0) / w * 4)
        * _sigmoid((lat1 - lat) / w * 4)
        * _sigmoid((lon - lon0) / w * 4)
        * _sigmoid((lon1 - lon) / w * 4)
    )


def aridity(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """``[0, 1]``: 1 inside a real desert region, 0 far from one, soft at the edges."""
    lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    out = np.zeros(np.broadcast(lat, lon).shape)
    for box in DESERT_BOXES:
        out = np.maximum(out, _box_membership(lat, lon, box))
    return out


def continentality(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """``[0, 1]``: how continental (large seasonal swing) the climate is; deserts count as continental."""
    lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    out = np.full(np.broadcast(lat, lon).shape, DEFAULT_CONTINENTALITY)
    for box, value in CONTINENTALITY_BOXES:
        m = _box_membership(lat, lon, box)
        out = out * (1 - m) + value * m
    a = aridity(lat, lon)
    return out * (1 - a) + 0.7 * a


def season_phase(lat: np.ndarray, day_of_year: np.ndarray) -> np.ndarray:
    """Radians; 0 at the local coldest time of year, pi at the warmest (southern hemisphere shifted by half a year)."""
    lat = np.asarray(lat, np.float64)
    phase = 2 * np.pi * (np.asarray(day_of_year, np.float64) - COLDEST_DAY) / DAYS_PER_YEAR
    return np.where(lat < 0, phase + np.pi, phase)


def temperature_c(lat: np.ndarray, lon: np.ndarray, day_of_year: np.ndarray) -> np.ndarray:
    """Climatological daily-mean temperature in degrees C (no weather, no daily cycle)."""
    lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    alat = np.abs(lat)
    cont = continentality(lat, lon)
    arid = aridity(lat, lon)
    mean = (
        27.0
        - 0.45 * np.maximum(alat - 12.0, 0.0)
        - 0.3 * np.maximum(alat - 60.0, 0.0)
        - 6.0 * np.maximum(cont - DEFAULT_CONTINENTALITY, 0.0) * smoothstep(30.0, 40.0, alat)
        + 3.0 * arid
    )
    amplitude = 0.5 + (0.11 + 0.28 * cont) * np.maximum(alat - 8.0, 0.0)
    return mean - amplitude * np.cos(season_phase(lat, day_of_year))


def climate_zone(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Integer zone index into :data:`CLIMATES` (Koppen-like: from the desert boxes and the coldest/warmest month)."""
    lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    north = lat >= 0
    coldest = temperature_c(lat, lon, np.where(north, COLDEST_DAY, COLDEST_DAY + 182.6))
    warmest = temperature_c(lat, lon, np.where(north, COLDEST_DAY + 182.6, COLDEST_DAY))
    zone = np.full(coldest.shape, TEMPERATE, dtype=np.int64)
    zone = np.where(coldest < -3.0, CONTINENTAL, zone)
    zone = np.where(coldest >= 18.0, TROPICAL, zone)
    zone = np.where(warmest < 10.0, POLAR, zone)
    return np.where(aridity(lat, lon) > 0.5, ARID, zone)


def vegetation_state(lat: np.ndarray, season_temp: np.ndarray, day_of_year: np.ndarray) -> dict[str, np.ndarray]:
    """Phenology from the seasonal temperature (with weather) and the day length, each in ``[0, 1]``.

    ``leaf_off``: deciduous trees bare (cold, or short days outside the tropics);
    ``autumn``: leaves turning (cooling season, mild temperatures); ``spring``: fresh light-green leaves;
    ``dormant``: grass brown/straw (cold). Inputs broadcast.
    """
    lat = np.asarray(lat, np.float64)
    t = np.asarray(season_temp, np.float64)
    phase = season_phase(lat, day_of_year)
    extratropical = smoothstep(23.0, 30.0, np.abs(lat))
    cooling = smoothstep(0.0, -0.3, np.sin(phase))  # after the warmest time of year
    warming = smoothstep(0.0, 0.3, np.sin(phase))
    winterness = np.cos(phase)  # 1 mid-winter, -1 mid-summer
    short_days = smoothstep(0.5, 0.9, winterness) * extratropical
    leaf_off = np.maximum(smoothstep(9.0, 4.0, t), 0.75 * short_days)
    autumn_band = np.exp(-(((t - 10.0) / 4.0) ** 2))
    autumn = cooling * (1.0 - leaf_off) * np.maximum(autumn_band, smoothstep(-0.6, 0.2, winterness) * extratropical)
    spring = warming * (1.0 - leaf_off) * np.exp(-(((t - 11.0) / 4.0) ** 2)) * extratropical
    dormant = np.maximum(smoothstep(7.0, 1.0, t), 0.5 * short_days)
    return {
        "leaf_off": leaf_off,
        "autumn": np.clip(autumn, 0.0, 1.0),
        "spring": np.clip(spring, 0.0, 1.0),
        "dormant": dormant,
    }


def snow_cover(season_temp: np.ndarray) -> np.ndarray:
    """``[0, 1]`` snow on the ground from the seasonal temperature with weather (none above ~2 C)."""
    return smoothstep(2.0, -4.0, np.asarray(season_temp, np.float64))


# Probabilities of (clear, partly cloudy, overcast) by zone, in the order of CLIMATES.
CLOUD_PROBABILITIES = np.array(
    [
        [0.25, 0.50, 0.25],  # tropical
        [0.80, 0.15, 0.05],  # arid
        [0.25, 0.35, 0.40],  # temperate
        [0.30, 0.35, 0.35],  # continental
        [0.20, 0.30, 0.50],  # polar
    ]
)
OVERCAST = 0.8


def sample_cloud_cover(zone: np.ndarray, winterness: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(N,)`` cloud cover in ``[0, 1]`` (``>= OVERCAST`` is overcast), drawn from the zone's mix.

    Winters outside the tropics and deserts are a little cloudier (``winterness`` in ``[-1, 1]``, 1 mid-winter).
    """
    zone = np.asarray(zone)
    p = CLOUD_PROBABILITIES[zone].copy()
    shift = 0.1 * np.clip(winterness, 0, 1) * ((zone == TEMPERATE) | (zone == CONTINENTAL))
    p[:, 0] -= shift
    p[:, 2] += shift
    u = rng.random(zone.shape)
    kind = (u > p[:, 0]).astype(int) + (u > p[:, 0] + p[:, 1])
    lo = np.array([0.0, 0.25, OVERCAST + 0.02])[kind]
    hi = np.array([0.15, 0.65, 1.0])[kind]
    return lo + (hi - lo) * rng.random(zone.shape)
