"""Time math: torus angles, cyclic differences, the protocol's errors, validation messages, UTC <-> local."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest
import torch

from gtloc.errors import GtlocError
from gtloc.timecode import (
    InvalidTimeError,
    cyclic_difference,
    datetime_to_time_row,
    hour_error,
    hour_fraction,
    local_to_utc,
    month_error,
    month_fraction,
    periodic_time_features,
    protocol_month_value,
    timezone_at,
    torus_angles,
    torus_distance,
    utc_offset_hours,
    utc_to_local,
    validate_time,
    validate_times,
)

PARIS = (48.8566, 2.3522)
SYDNEY = (-33.8688, 151.2093)
NEW_YORK = (40.7128, -74.0060)


def random_times(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 5)`` valid local timestamps (day <= 28 so every month accepts it)."""
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            rng.integers(1, 13, n),
            rng.integers(1, 29, n),
            rng.integers(0, 24, n),
            rng.integers(0, 60, n),
            rng.uniform(0, 60, n),
        ],
        axis=1,
    ).astype(np.float64)


# --- torus angles -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "theta", "phi"),
    [
        ([1, 1, 0, 0, 0], -math.pi, -math.pi),  # Jan 1 00:00: the corner of the torus
        ([7, 1, 12, 0, 0], 0.0, 0.0),  # Jul 1 12:00: month_frac 6, hour_frac 12
        ([4, 1, 6, 0, 0], -math.pi / 2, -math.pi / 2),  # Apr 1 06:00: a quarter of each circle
        ([10, 1, 18, 0, 0], math.pi / 2, math.pi / 2),
        ([1, 1, 0, 30, 0], -math.pi, -math.pi + 2 * math.pi * 0.5 / 24),  # half an hour after midnight
        ([12, 31, 23, 59, 59], 2 * math.pi * (11 + 30 * 12 / 365) / 12 - math.pi, math.pi - 2 * math.pi / 86400),
    ],
)
def test_torus_angles_of_known_stamps(stamp, theta, phi):
    got = torus_angles(np.array(stamp, dtype=np.float64))
    np.testing.assert_allclose(got, [theta, phi], atol=1e-12)


def test_fractions_follow_method_formulas():
    t = np.array([[3, 11, 7, 45, 36]], dtype=np.float64)
    assert month_fraction(t)[0] == pytest.approx(2 + 10 * 12 / 365)
    assert hour_fraction(t)[0] == pytest.approx(7 + 45 / 60 + 36 / 3600)
    assert protocol_month_value(t)[0] == pytest.approx(3 + 10 / 31)


def test_angles_stay_in_half_open_range():
    angles = torus_angles(random_times(2000))
    assert angles.shape == (2000, 2)
    assert np.all(angles >= -math.pi) and np.all(angles < math.pi)


def test_periodic_features_are_cos_sin_of_angles_and_continuous_across_new_year_midnight():
    t = random_times(50)
    feats, angles = periodic_time_features(t), torus_angles(t)
    np.testing.assert_allclose(feats[:, 0], np.cos(angles[:, 0]))
    np.testing.assert_allclose(feats[:, 1], np.sin(angles[:, 0]))
    np.testing.assert_allclose(feats[:, 2], np.cos(angles[:, 1]))
    np.testing.assert_allclose(feats[:, 3], np.sin(angles[:, 1]))
    last, first = np.array([12, 31, 23, 59, 59.0]), np.array([1, 1, 0, 0, 0.0])
    assert np.abs(periodic_time_features(last) - periodic_time_features(first)).max() < 0.02
    assert np.abs(torus_angles(last) - torus_angles(first)).max() > 6.0  # raw angles jump by ~2*pi


# --- cyclic differences and the torus distance ---------------------------------------------------------------


@pytest.mark.parametrize("period", [12.0, 24.0])
def test_cyclic_difference_symmetric_bounded_and_equal_to_brute_force(period):
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-3 * period, 3 * period, 1000), rng.uniform(-3 * period, 3 * period, 1000)
    d = cyclic_difference(a, b, period)
    np.testing.assert_array_equal(d, cyclic_difference(b, a, period))
    assert np.all(d >= 0) and np.all(d <= period / 2)
    brute = np.min(np.abs(a[:, None] - b[:, None] + period * np.arange(-8, 9)[None, :]), axis=1)
    np.testing.assert_allclose(d, brute, atol=1e-9)


def test_cyclic_difference_hand_values():
    assert cyclic_difference(23.5, 0.5, 24.0) == pytest.approx(1.0)
    assert cyclic_difference(0.5, 23.5, 24.0) == pytest.approx(1.0)
    assert cyclic_difference(0.0, 12.0, 24.0) == pytest.approx(12.0)
    assert cyclic_difference(11.5, 0.0, 12.0) == pytest.approx(0.5)


def test_torus_distance_range_and_extremes():
    t = random_times(300, seed=2)
    d = torus_distance(t[:, None, :], t[None, :, :])
    assert d.shape == (300, 300)
    assert np.all(d >= 0) and np.all(d <= math.sqrt(2) + 1e-12)
    np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-12)
    np.testing.assert_allclose(d, d.T, atol=1e-12)
    # The far corner: six months and twelve hours away.
    assert torus_distance(np.array([1, 1, 0, 0, 0.0]), np.array([7, 1, 12, 0, 0.0])) == pytest.approx(math.sqrt(2))


def test_torus_distance_wraps_december_to_january_and_midnight():
    dec31, jan1, jun30 = np.array([12, 31, 12, 0, 0.0]), np.array([1, 1, 12, 0, 0.0]), np.array([6, 30, 12, 0, 0.0])
    near = torus_distance(dec31, jan1)
    # month_frac(Dec 31) = 11 + 30*12/365, so the gap to Jan 1 (= 12) is 5/365 of a month; no hour difference.
    assert near == pytest.approx((5 / 365) / 6)
    assert near < 0.01 < torus_distance(dec31, jun30)
    late, early, noon = np.array([3, 5, 23, 30, 0.0]), np.array([3, 5, 0, 30, 0.0]), np.array([3, 5, 12, 0, 0.0])
    assert torus_distance(late, early) == pytest.approx(1 / 12)  # one hour of 12 -> 1/12
    assert torus_distance(late, early) < torus_distance(late, noon)


# --- the protocol's errors -----------------------------------------------------------------------------------


def test_month_error_dec31_jan1_is_one_31st():
    err = month_error(np.array([12, 31, 0, 0, 0.0]), np.array([1, 1, 0, 0, 0.0]))
    assert err == pytest.approx(1 / 31, abs=1e-12)


def test_hour_error_2330_0030_is_one_hour():
    assert hour_error(np.array([6, 1, 23, 30, 0.0]), np.array([6, 2, 0, 30, 0.0])) == pytest.approx(1.0, abs=1e-12)


def test_errors_are_symmetric_and_equal_the_shortest_way_round():
    a, b = random_times(500, seed=3), random_times(500, seed=4)
    me, he = month_error(a, b), hour_error(a, b)
    np.testing.assert_allclose(me, month_error(b, a))
    np.testing.assert_allclose(he, hour_error(b, a))
    # Brute force from the protocol's values: the smallest |a - b + k * period| over whole turns k.
    turns = np.arange(-2, 3)[None, :]
    months_a, months_b = a[:, 0] + (a[:, 1] - 1) / 31, b[:, 0] + (b[:, 1] - 1) / 31
    hours_a = a[:, 2] + a[:, 3] / 60 + a[:, 4] / 3600
    hours_b = b[:, 2] + b[:, 3] / 60 + b[:, 4] / 3600
    np.testing.assert_allclose(me, np.abs((months_a - months_b)[:, None] + 12 * turns).min(axis=1), atol=1e-12)
    np.testing.assert_allclose(he, np.abs((hours_a - hours_b)[:, None] + 24 * turns).min(axis=1), atol=1e-12)
    assert month_error(np.array([1, 1, 0, 0, 0.0]), np.array([7, 1, 0, 0, 0.0])) == pytest.approx(6.0)


def test_numpy_and_torch_give_the_same_numbers():
    a, b = random_times(200, seed=5), random_times(200, seed=6)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for fn in (torus_angles, periodic_time_features, month_fraction, hour_fraction, protocol_month_value):
        out = fn(ta)
        assert isinstance(out, torch.Tensor)
        np.testing.assert_allclose(out.numpy(), fn(a), atol=1e-12)
    for fn in (torus_distance, month_error, hour_error):
        out = fn(ta, tb)
        assert isinstance(out, torch.Tensor)
        np.testing.assert_allclose(out.numpy(), fn(a, b), atol=1e-12)
    np.testing.assert_allclose(
        torus_distance(ta[:, None], tb[None]).numpy(), torus_distance(a[:, None], b[None]), atol=1e-12
    )


# --- validation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((13, 1), "invalid month 13: must be 1-12"),
        ((0, 1), "invalid month 0: must be 1-12"),
        ((2, 30), "invalid day 30: month 2 has 29 days"),
        ((4, 31), "invalid day 31: month 4 has 30 days"),
        ((1, 0), "invalid day 0: month 1 has 31 days"),
        ((1, 1, 24), "invalid hour 24: must be 0-23"),
        ((1, 1, -1), "invalid hour -1: must be 0-23"),
        ((1, 1, 0, 60), "invalid minute 60: must be 0-59"),
        ((1, 1, 0, 0, 60), "invalid second 60: must be in [0, 60)"),
        ((float("nan"), 1), "invalid month nan: not a finite number"),
        ((1, 1, float("inf")), "invalid hour inf: not a finite number"),
        ((1, 1, 12, float("nan")), "invalid minute nan: not a finite number"),
        (("abc", 1), "invalid month 'abc': not a number"),
        ((1, 1, None), "invalid hour None: not a number"),
        ((1.5, 1), "invalid month 1.5: must be a whole number"),
        ((np.float64(13.0), 1), "invalid month 13.0: must be 1-12"),
    ],
)
def test_invalid_times_raise_with_exact_message(fields, message):
    with pytest.raises(InvalidTimeError) as info:
        validate_time(*fields)
    assert str(info.value) == message


def test_invalid_time_error_is_a_gtloc_error_and_value_error():
    with pytest.raises(GtlocError):
        validate_time(13)
    with pytest.raises(ValueError):
        validate_time(13)


def test_where_prefixes_the_message():
    with pytest.raises(InvalidTimeError) as info:
        validate_time(1, 32, where="records.csv row 12")
    assert str(info.value) == "records.csv row 12: invalid day 32: month 1 has 31 days"
    exc = info.value
    assert (exc.field, exc.value, exc.reason, exc.where) == ("day", 32, "month 1 has 31 days", "records.csv row 12")
    with pytest.raises(InvalidTimeError) as info:
        validate_time("7", "14", "8", "61")
    assert (info.value.field, info.value.value, info.value.reason) == ("minute", "61", "must be 0-59")


def test_valid_edge_times_pass():
    validate_time(2, 29, 23, 59, 59.999)
    validate_time(12, 31, 0, 0, 0)
    validate_time("7", "14", "8", "5", "1.5")  # numeric strings are numbers


def test_validate_times_names_row_field_and_plain_value():
    rows = np.array([[1, 1, 0, 0, 0], [6, 15, 12, 0, 0], [2, 30, 0, 0, 0]], dtype=np.float64)
    with pytest.raises(InvalidTimeError) as info:
        validate_times(rows)
    assert str(info.value) == "row 2: invalid day 30.0: month 2 has 29 days"
    with pytest.raises(InvalidTimeError) as info:
        validate_times(torch.tensor([[1.0, 1, 24, 0, 0]]))
    assert str(info.value) == "row 0: invalid hour 24.0: must be 0-23"
    with pytest.raises(InvalidTimeError) as info:
        validate_times(np.zeros((3, 4)))
    assert str(info.value) == "timestamps must have shape (N, 5) [month, day, hour, minute, second], got (3, 4)"
    validate_times(random_times(100))


# --- UTC <-> local clock time --------------------------------------------------------------------------------


def test_timezones_of_known_places():
    assert timezone_at(*PARIS) == "Europe/Paris"
    assert timezone_at(*SYDNEY) == "Australia/Sydney"
    assert timezone_at(*NEW_YORK) == "America/New_York"


@pytest.mark.parametrize(
    ("place", "when_utc", "offset"),
    [
        (PARIS, datetime(2024, 7, 15, 12, 0), 2.0),  # CEST
        (PARIS, datetime(2024, 1, 15, 12, 0), 1.0),  # CET
        (SYDNEY, datetime(2024, 7, 15, 12, 0), 10.0),  # AEST (southern winter)
        (SYDNEY, datetime(2024, 1, 15, 12, 0), 11.0),  # AEDT (southern summer)
        (NEW_YORK, datetime(2024, 1, 15, 12, 0), -5.0),  # EST
        (NEW_YORK, datetime(2024, 7, 15, 12, 0), -4.0),  # EDT
    ],
)
def test_utc_offsets_with_dst(place, when_utc, offset):
    assert utc_offset_hours(when_utc, *place) == offset
    local = utc_to_local(when_utc, *place)
    assert local.tzinfo is None
    assert (local - when_utc).total_seconds() == offset * 3600


def test_paris_spring_forward_and_aware_input():
    # 2024-03-31: clocks jump from 02:00 CET to 03:00 CEST at 01:00 UTC.
    assert utc_to_local(datetime(2024, 3, 31, 0, 59), *PARIS) == datetime(2024, 3, 31, 1, 59)
    assert utc_to_local(datetime(2024, 3, 31, 1, 0), *PARIS) == datetime(2024, 3, 31, 3, 0)
    aware = datetime(2024, 7, 15, 12, 0, tzinfo=timezone.utc)
    assert utc_to_local(aware, *PARIS) == datetime(2024, 7, 15, 14, 0)
    assert utc_offset_hours(aware, *PARIS) == 2.0


def test_ambiguous_autumn_hour_takes_the_first_occurrence():
    # 2024-10-27 02:30 happens twice in Paris; fold=0 is the first (CEST, UTC+2).
    assert local_to_utc(datetime(2024, 10, 27, 2, 30), *PARIS) == datetime(2024, 10, 27, 0, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("place", [PARIS, SYDNEY, NEW_YORK, (35.6762, 139.6503), (-22.9068, -43.1729)])
def test_utc_local_round_trip(place):
    for month in range(1, 13):
        when = datetime(2023, month, 10, 17, 45, 12, tzinfo=timezone.utc)
        assert local_to_utc(utc_to_local(when, *place), *place) == when


def test_ocean_point_gets_nautical_zone():
    name = timezone_at(0.0, -140.0)
    assert name.startswith("Etc/GMT")
    assert utc_offset_hours(datetime(2024, 1, 1), 0.0, -140.0) == -9.0


def test_timezone_at_rejects_bad_coordinates_by_name():
    with pytest.raises(GtlocError) as info:
        timezone_at(123.0, 0.0)
    assert str(info.value) == "invalid lat 123.0: must be within [-90, 90]"


def test_datetime_to_time_row_keeps_microseconds_and_round_trips_through_validation():
    row = datetime_to_time_row(datetime(2024, 2, 29, 23, 59, 58, 500000))
    assert row == [2, 29, 23, 59, 58.5]
    validate_time(*row)
