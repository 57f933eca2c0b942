"""Geo math: haversine, the Equal Earth projection, accuracy thresholds, median, coordinate validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gtloc.errors import GtlocError
from gtloc.geo import (
    EARTH_RADIUS_KM,
    InvalidCoordinateError,
    accuracy_at,
    equal_earth,
    geo_metrics,
    haversine_km,
    median_error_km,
    pairwise_haversine_km,
    validate_coordinate,
    validate_coordinates,
)

PARIS = [48.8566, 2.3522]
LONDON = [51.5074, -0.1278]


def random_latlon(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-90, 90, n), rng.uniform(-180, 180, n)], axis=1)


def equal_earth_reference(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Equal Earth (Savric, Patterson & Jenny 2018) from the published constants, scaled by SF/180 as GeoCLIP does."""
    a1, a2, a3, a4, sf = 1.340264, -0.081106, 0.000893, 0.003796, 66.50336
    m = math.sqrt(3.0) / 2.0
    theta = np.arcsin(m * np.sin(np.radians(lat_deg)))
    x = np.radians(lon_deg) * np.cos(theta) / (m * (a1 + 3 * a2 * theta**2 + theta**6 * (7 * a3 + 9 * a4 * theta**2)))
    y = theta * (a1 + a2 * theta**2 + theta**6 * (a3 + a4 * theta**2))
    return np.stack([x, y], axis=-1) * sf / 180.0


# --- haversine -----------------------------------------------------------------------------------------------


def test_paris_london_is_343_5_km():
    assert EARTH_RADIUS_KM == 6371.0
    assert haversine_km(np.array(PARIS), np.array(LONDON)) == pytest.approx(343.5, abs=0.5)


def test_antipodes_are_half_the_circumference():
    half = math.pi * 6371.0
    assert half == pytest.approx(20015.09, abs=0.01)
    assert haversine_km(np.array([0.0, 0.0]), np.array([0.0, 180.0])) == pytest.approx(half, rel=1e-12)
    assert haversine_km(np.array([45.0, 10.0]), np.array([-45.0, -170.0])) == pytest.approx(half, rel=1e-9)
    assert haversine_km(np.array([90.0, 0.0]), np.array([-90.0, 77.0])) == pytest.approx(half, rel=1e-12)


def test_hand_values_along_meridian_and_equator():
    one_degree = 2 * math.pi * 6371.0 / 360
    assert haversine_km(np.array([0.0, 0.0]), np.array([1.0, 0.0])) == pytest.approx(one_degree)
    assert haversine_km(np.array([0.0, 179.5]), np.array([0.0, -179.5])) == pytest.approx(one_degree)  # dateline
    assert haversine_km(np.array([60.0, 0.0]), np.array([60.0, 180.0])) == pytest.approx(60 * one_degree)  # over pole


def test_haversine_metric_properties():
    a, b, c = random_latlon(500, 1), random_latlon(500, 2), random_latlon(500, 3)
    ab, ba = haversine_km(a, b), haversine_km(b, a)
    np.testing.assert_allclose(ab, ba)
    np.testing.assert_allclose(haversine_km(a, a), 0.0, atol=1e-9)
    # The spherical law of cosines (another formula for the same distance; fine in float64 away from 0 km).
    (la, oa), (lb, ob) = np.radians(a).T, np.radians(b).T
    cosine = np.sin(la) * np.sin(lb) + np.cos(la) * np.cos(lb) * np.cos(oa - ob)
    np.testing.assert_allclose(ab, 6371.0 * np.arccos(np.clip(cosine, -1, 1)), rtol=1e-6)
    assert np.all(ab <= haversine_km(a, c) + haversine_km(c, b) + 1e-6)


def test_pairwise_matches_elementwise_and_torch_matches_numpy():
    a, b = random_latlon(7, 4), random_latlon(5, 5)
    pw = pairwise_haversine_km(a, b)
    assert pw.shape == (7, 5)
    for i in range(7):
        np.testing.assert_allclose(pw[i], haversine_km(np.repeat(a[i : i + 1], 5, 0), b))
    tpw = pairwise_haversine_km(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(tpw, torch.Tensor)
    np.testing.assert_allclose(tpw.numpy(), pw, rtol=1e-12)
    t32 = pairwise_haversine_km(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    np.testing.assert_allclose(t32.numpy(), pw, atol=0.05)


# --- metrics -------------------------------------------------------------------------------------------------


def test_accuracy_thresholds_are_inclusive():
    errors = np.array([0.5, 1.0, 1.0001, 25.0, 199.9, 750.0, 2500.0, 2500.1])
    assert accuracy_at(errors) == {
        "acc_1km": 2 / 8,
        "acc_25km": 4 / 8,
        "acc_200km": 5 / 8,
        "acc_750km": 6 / 8,
        "acc_2500km": 7 / 8,
    }
    assert accuracy_at(torch.tensor([10.0, 30.0]), thresholds_km=(10, 20.5)) == {"acc_10km": 0.5, "acc_20.5km": 0.5}


def test_median_error():
    assert median_error_km([5.0, 1.0, 3.0]) == 3.0
    assert median_error_km(np.array([1.0, 2.0, 3.0, 10.0])) == 2.5


def test_empty_errors_raise():
    with pytest.raises(ValueError, match="no errors"):
        accuracy_at(np.array([]))
    with pytest.raises(ValueError, match="no errors"):
        median_error_km([])


def test_geo_metrics_table():
    true = np.array([PARIS, PARIS, [0.0, 0.0]])
    pred = np.array([PARIS, LONDON, [0.0, 180.0]])
    m = geo_metrics(pred, true)
    assert m["median_km"] == pytest.approx(343.5, abs=0.5)
    assert m["acc_1km"] == pytest.approx(1 / 3)
    assert m["acc_200km"] == pytest.approx(1 / 3)
    assert m["acc_750km"] == pytest.approx(2 / 3)
    assert m["acc_2500km"] == pytest.approx(2 / 3)
    assert set(m) == {"median_km", "acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km"}
    assert geo_metrics(torch.tensor(pred), torch.tensor(true)) == m


# --- validation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (123, 0, "invalid lat 123: must be within [-90, 90]"),
        (-90.5, 0, "invalid lat -90.5: must be within [-90, 90]"),
        (0, -181, "invalid lon -181: must be within [-180, 180]"),
        (0, 180.01, "invalid lon 180.01: must be within [-180, 180]"),
        (float("nan"), 0, "invalid lat nan: not a finite number"),
        (0, float("nan"), "invalid lon nan: not a finite number"),
        (0, float("-inf"), "invalid lon -inf: not a finite number"),
        ("north", 0, "invalid lat 'north': not a number"),
        (0, None, "invalid lon None: not a number"),
        (np.float32(100.0), 0, "invalid lat 100.0: must be within [-90, 90]"),
    ],
)
def test_invalid_coordinate_messages(lat, lon, message):
    with pytest.raises(InvalidCoordinateError) as info:
        validate_coordinate(lat, lon)
    assert str(info.value) == message
    assert isinstance(info.value, GtlocError) and isinstance(info.value, ValueError)


def test_boundary_coordinates_are_valid():
    for lat, lon in ((90, 180), (-90, -180), (0, 0), ("45.5", "-3")):
        validate_coordinate(lat, lon)
    validate_coordinates(random_latlon(1000))


def test_validate_coordinates_names_first_bad_row():
    with pytest.raises(InvalidCoordinateError) as info:
        validate_coordinates(np.array([[0.0, 0.0], [10.0, 200.0], [123.0, 0.0]]))
    assert str(info.value) == "row 1: invalid lon 200.0: must be within [-180, 180]"
    with pytest.raises(InvalidCoordinateError) as info:
        validate_coordinates(torch.tensor([[0.0, 0.0], [float("nan"), 5.0]]))
    assert str(info.value) == "row 1: invalid lat nan: not a finite number"
    with pytest.raises(InvalidCoordinateError) as info:
        validate_coordinates(np.zeros((4, 3)))
    assert str(info.value) == "coordinates must have shape (N, 2) [lat, lon], got (4, 3)"
    with pytest.raises(InvalidCoordinateError) as info:
        validate_coordinate(123, 0, where="places.csv row 7")
    assert str(info.value) == "places.csv row 7: invalid lat 123: must be within [-90, 90]"


def test_invalid_coordinate_error_carries_field_value_reason_and_where():
    with pytest.raises(InvalidCoordinateError) as info:
        validate_coordinates(np.array([[0.0, 0.0], [10.0, 200.0]]))
    exc = info.value
    assert (exc.field, exc.value, exc.reason, exc.where) == ("lon", 200.0, "must be within [-180, 180]", "row 1")
    located = exc.located("gallery.csv")
    assert type(located) is InvalidCoordinateError and located.field == "lon"
    assert str(located) == "gallery.csv: row 1: invalid lon 200.0: must be within [-180, 180]"
    with pytest.raises(InvalidCoordinateError) as info:
        validate_coordinates(np.zeros((4, 3)))
    assert info.value.field is None  # the whole array is refused, not one field


# --- Equal Earth ---------------------------------------------------------------------------------------------


def test_equal_earth_matches_the_published_formula():
    ll = np.concatenate([random_latlon(2000, 6), [[0, 0], [90, 180], [-90, -180], [45, 0], [0, 90]]])
    ref = equal_earth_reference(ll[:, 0], ll[:, 1])
    np.testing.assert_allclose(equal_earth(ll), ref, rtol=1e-12, atol=1e-15)


def test_equal_earth_torch_float32_float64_and_numpy_agree():
    ll = random_latlon(500, 7)
    ref = equal_earth(ll)
    np.testing.assert_allclose(equal_earth(torch.from_numpy(ll)).numpy(), ref, atol=1e-14)
    np.testing.assert_allclose(equal_earth(torch.from_numpy(ll).float()).numpy(), ref, atol=1e-6)


def test_equal_earth_hand_values_and_symmetry():
    np.testing.assert_allclose(equal_earth(np.array([0.0, 0.0])), [0.0, 0.0], atol=1e-15)
    x_edge = 2 * math.sqrt(3) * math.pi / (3 * 1.340264) * 66.50336 / 180  # lon 180 on the equator
    np.testing.assert_allclose(equal_earth(np.array([0.0, 180.0])), [x_edge, 0.0], atol=1e-12)
    assert x_edge == pytest.approx(1.0, abs=1e-3)  # GeoCLIP's scaling puts x in about [-1, 1]
    ll = random_latlon(100, 8)
    flipped = equal_earth(ll * np.array([-1.0, -1.0]))
    np.testing.assert_allclose(flipped, -equal_earth(ll), atol=1e-15)  # odd in lat (y) and in lon (x)
    assert equal_earth(ll).shape == (100, 2)
    assert equal_earth(ll.reshape(10, 10, 2)).shape == (10, 10, 2)
