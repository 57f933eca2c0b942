"""The vectorised NOAA solar position against astral (the maintained reference)."""

from datetime import datetime, timezone

import numpy as np
import pytest
from astral import Observer
from astral.sun import azimuth, elevation

from gtloc.sun import solar_position


@pytest.fixture(scope="module")
def random_points():
    rng = np.random.default_rng(42)
    n = 400
    lat = rng.uniform(-85.0, 85.0, n)
    lon = rng.uniform(-180.0, 180.0, n)
    ts = rng.integers(946684800, 1893456000, n)  # 2000-2030
    return lat, lon, ts


def _astral(lat, lon, ts, refraction=True):
    elev, azim = [], []
    for a, b, t in zip(lat, lon, ts, strict=True):
        when = datetime.fromtimestamp(int(t), timezone.utc)
        obs = Observer(float(a), float(b))
        elev.append(elevation(obs, when, with_refraction=refraction))
        azim.append(azimuth(obs, when))
    return np.array(elev), np.array(azim)


def test_matches_astral_elevation_and_azimuth(random_points):
    lat, lon, ts = random_points
    ours_e, ours_a = solar_position(lat, lon, ts)
    ref_e, ref_a = _astral(lat, lon, ts)
    assert np.abs(ours_e - ref_e).max() < 0.05
    steep = ref_e < 89.0  # the azimuth is undefined with the sun overhead
    daz = np.abs((ours_a - ref_a + 180.0) % 360.0 - 180.0)[steep]
    assert daz.max() < 0.05


def test_matches_astral_without_refraction(random_points):
    lat, lon, ts = random_points
    ours_e, _ = solar_position(lat, lon, ts, refraction=False)
    ref_e, _ = _astral(lat, lon, ts, refraction=False)
    assert np.abs(ours_e - ref_e).max() < 0.05


def test_known_positions_and_broadcasting():
    noon_equinox = datetime(2021, 3, 20, 12, 7, tzinfo=timezone.utc).timestamp()
    e, a = solar_position(0.0, 0.0, noon_equinox)
    assert e.shape == () and e > 88.0
    # Midnight in London in June: the sun is below the horizon, to the north.
    e, a = solar_position(51.5, 0.0, datetime(2021, 6, 21, 0, 0, tzinfo=timezone.utc).timestamp())
    assert e < -10.0 and (a > 300.0 or a < 60.0)
    lats, lons = np.array([[-30.0], [0.0], [45.0]]), np.array([[-90.0, 0.0, 60.0, 170.0]])
    e, a = solar_position(lats, lons, noon_equinox)
    assert e.shape == a.shape == (3, 4)
    for i, j in np.ndindex(3, 4):  # every broadcast cell is the answer for its own latitude and longitude
        assert (e[i, j], a[i, j]) == pytest.approx(solar_position(lats[i, 0], lons[0, j], noon_equinox), abs=1e-9)
