"""Regional appearance: smooth random fields on the sphere that make a place recognisable beyond its latitude.

Each field is a sum of plane waves ``cos(k . x + phase)`` over the point's position ``x`` on the globe (unit
vector times the Earth's radius, km), with wavelengths ``2*pi/|k|`` between ~2,000 and ~13,000 km. Nearby places
therefore look alike and the look drifts slowly across continents. The fields belong to the (fixed) planet, not
to a sample: every world seed sees the same geography.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from gtloc.geo import EARTH_RADIUS_KM

APPEARANCE_FIELDS = (
    "facade_hue",
    "facade_light",
    "roof_hue",
    "roof_light",
    "roof_pitch",
    "soil_hue",
    "soil_light",
    "window_style",
    "window_size",
    "urban_density",
    "building_height",
    "tree_density",
    "evergreen",
    "veg_hue",
    "road_light",
    "hill_height",
)
PLANET_SEED = 20250607
WAVES_PER_FIELD = 24
WAVELENGTH_KM = (2000.0, 13000.0)


@lru_cache(maxsize=1)
def _waves() -> tuple[np.ndarray, np.ndarray]:
    """Wave vectors ``(F, K, 3)`` in radians/km and phases ``(F, K)`` of the planet's fields."""
    rng = np.random.default_rng(PLANET_SEED)
    f, k = len(APPEARANCE_FIELDS), WAVES_PER_FIELD
    direction = rng.standard_normal((f, k, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    wavelength = np.exp(rng.uniform(*np.log(WAVELENGTH_KM), size=(f, k)))
    vectors = direction * (2 * np.pi / wavelength)[..., None]
    return vectors, rng.uniform(0, 2 * np.pi, size=(f, k))


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """``(N,)`` degrees -> ``(N, 3)`` points on the unit sphere."""
    la, lo = np.radians(np.asarray(lat, np.float64)), np.radians(np.asarray(lon, np.float64))
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def appearance_fields(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """``(N,)`` degrees -> ``(N, F)`` field values in ``(0, 1)``, roughly uniform, columns as ``APPEARANCE_FIELDS``."""
    vectors, phases = _waves()
    x = unit_vectors(np.atleast_1d(lat), np.atleast_1d(lon)) * EARTH_RADIUS_KM  # (N, 3) km
    arg = np.einsum("nd,fkd->nfk", x, vectors) + phases[None]
    gauss = np.cos(arg).sum(axis=-1) / np.sqrt(WAVES_PER_FIELD / 2.0)  # ~ N(0, 1)
    return _normal_cdf(gauss)
