"""Time math in one place: the month x hour torus, cyclic differences, the protocol's errors, UTC <-> local.

A timestamp is a row ``[month, day, hour, minute, second]`` of *local clock time* (month 1-12, day 1-31,
hour 0-23, minute 0-59, second 0-59.999). Batches are ``(N, 5)`` numpy arrays or torch tensors.

* Torus angles (method.md section 1): ``month_frac = (month-1) + (day-1)*12/365`` in months ``[0, 12)``,
  ``hour_frac = hour + minute/60 + second/3600`` in hours ``[0, 24)``,
  ``theta = 2*pi*month_frac/12 - pi``, ``phi = 2*pi*hour_frac/24 - pi`` (radians, ``[-pi, pi)``).
* Protocol (method.md section 4): month value ``month + (day-1)/31``, hour value as above; errors are cyclic
  with periods 12 months and 24 hours.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from gtloc._array import ArrayLike, as_array, minimum, plain, stack_last, xp
from gtloc.errors import InvalidValueError
from gtloc.labels import has_label

TIME_FIELDS = ("month", "day", "hour", "minute", "second")
MONTH_PERIOD = 12.0
HOUR_PERIOD = 24.0
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class InvalidTimeError(InvalidValueError):
    """A timestamp field is out of range or not a number (``field`` is one of :data:`TIME_FIELDS`)."""


def _bad(field: str, value: float, why: str, where: str = "") -> InvalidTimeError:
    return InvalidTimeError(why, field, plain(value), where)


def validate_time(
    month: float, day: float = 1, hour: float = 0, minute: float = 0, second: float = 0, where: str = ""
) -> None:
    """Raise :class:`InvalidTimeError` naming the first bad field of one local timestamp.

    ``where`` (e.g. ``"records.csv row 12"``) is prefixed to the message.
    """
    values = {"month": month, "day": day, "hour": hour, "minute": minute, "second": second}
    for field, value in values.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise _bad(field, value, "not a number", where) from None
        if math.isnan(v) or math.isinf(v):
            raise _bad(field, value, "not a finite number", where)
    m, d, h, mi, s = (float(values[f]) for f in TIME_FIELDS)
    for field, v in (("month", m), ("day", d), ("hour", h), ("minute", mi)):
        if v != int(v):
            raise _bad(field, values[field], "must be a whole number", where)
    if not 1 <= m <= 12:
        raise _bad("month", values["month"], "must be 1-12", where)
    if not 1 <= d <= DAYS_IN_MONTH[int(m) - 1]:
        raise _bad("day", values["day"], f"month {int(m)} has {DAYS_IN_MONTH[int(m) - 1]} days", where)
    if not 0 <= h <= 23:
        raise _bad("hour", values["hour"], "must be 0-23", where)
    if not 0 <= mi <= 59:
        raise _bad("minute", values["minute"], "must be 0-59", where)
    if not 0 <= s < 60:
        raise _bad("second", values["second"], "must be in [0, 60)", where)


def validate_times(times: ArrayLike) -> None:
    """Validate a batch ``(N, 5)`` of timestamps; the error names the row, field and value."""
    arr = np.asarray(times.detach().cpu() if hasattr(times, "detach") else times, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise InvalidTimeError(f"timestamps must have shape (N, 5) [month, day, hour, minute, second], got {arr.shape}")
    for i, row in enumerate(arr):
        validate_time(*row, where=f"row {i}")


def month_fraction(times: ArrayLike) -> ArrayLike:
    """Months since Jan 1 00:00, in ``[0, 12)``: ``(month-1) + (day-1)*12/365``. ``times``: ``(..., 5)``."""
    t = as_array(times)
    return (t[..., 0] - 1) + (t[..., 1] - 1) * 12.0 / 365.0


def hour_fraction(times: ArrayLike) -> ArrayLike:
    """Hours since midnight, in ``[0, 24)``: ``hour + minute/60 + second/3600``. ``times``: ``(..., 5)``."""
    t = as_array(times)
    return t[..., 2] + t[..., 3] / 60.0 + t[..., 4] / 3600.0


def torus_angles(times: ArrayLike) -> ArrayLike:
    """``(..., 5)`` timestamps -> ``(..., 2)`` angles ``[theta, phi]`` in radians, each in ``[-pi, pi)``."""
    theta = 2 * math.pi * month_fraction(times) / MONTH_PERIOD - math.pi
    phi = 2 * math.pi * hour_fraction(times) / HOUR_PERIOD - math.pi
    return stack_last([theta, phi])


def periodic_time_features(times: ArrayLike) -> ArrayLike:
    """``(..., 5)`` -> ``(..., 4)`` ``[cos theta, sin theta, cos phi, sin phi]``.

    Unlike the raw angles, this input is continuous across Dec/Jan and across midnight.
    """
    angles = torus_angles(times)
    m = xp(angles)
    return stack_last([m.cos(angles[..., 0]), m.sin(angles[..., 0]), m.cos(angles[..., 1]), m.sin(angles[..., 1])])


def cyclic_difference(a: ArrayLike, b: ArrayLike, period: float) -> ArrayLike:
    """Shortest distance between ``a`` and ``b`` on a circle of length ``period``, in ``[0, period/2]``."""
    d = abs(as_array(a) - as_array(b)) % period
    return minimum(d, period - d)


def torus_distance(times_a: ArrayLike, times_b: ArrayLike) -> ArrayLike:
    """Distance on the month x hour torus, ``sqrt((dm/6)^2 + (dh/12)^2)`` in ``[0, sqrt(2)]``.

    ``dm`` is the cyclic month difference (period 12, from :func:`month_fraction`), ``dh`` the cyclic hour
    difference (period 24). Shapes broadcast: ``(N, 1, 5)`` against ``(1, M, 5)`` gives ``(N, M)``.
    """
    dm = cyclic_difference(month_fraction(times_a), month_fraction(times_b), MONTH_PERIOD)
    dh = cyclic_difference(hour_fraction(times_a), hour_fraction(times_b), HOUR_PERIOD)
    return ((dm / 6.0) ** 2 + (dh / 12.0) ** 2) ** 0.5


def protocol_month_value(times: ArrayLike) -> ArrayLike:
    """The evaluation protocol's month value ``month + (day-1)/31``. ``times``: ``(..., 5)``."""
    t = as_array(times)
    return t[..., 0] + (t[..., 1] - 1) / 31.0


def month_error(pred: ArrayLike, true: ArrayLike) -> ArrayLike:
    """Per-sample cyclic month error of the protocol, in months ``[0, 6]``. Inputs ``(..., 5)``."""
    return cyclic_difference(protocol_month_value(pred), protocol_month_value(true), MONTH_PERIOD)


def hour_error(pred: ArrayLike, true: ArrayLike) -> ArrayLike:
    """Per-sample cyclic hour error of the protocol, in hours ``[0, 12]``. Inputs ``(..., 5)``."""
    return cyclic_difference(hour_fraction(pred), hour_fraction(true), HOUR_PERIOD)


def best_constant_time(train_times: np.ndarray) -> np.ndarray:
    """The ``[month, day, hour, minute, 0]`` minimising the mean cyclic month and hour errors on ``train_times``
    ``(N, 5)`` (NaN rows ignored): the best constant guess, the floor every time estimate must beat."""
    times = train_times[has_label(train_times)]
    month_grid = np.array([[m, d] for m in range(1, 13) for d in range(1, 32, 3)], dtype=float)
    month_values = month_grid[:, 0] + (month_grid[:, 1] - 1) / 31.0
    month_cost = cyclic_difference(month_values[:, None], protocol_month_value(times)[None, :], MONTH_PERIOD).mean(1)
    minutes = np.arange(0, 1440, 10, dtype=float)
    hour_cost = cyclic_difference(minutes[:, None] / 60.0, hour_fraction(times)[None, :], HOUR_PERIOD).mean(1)
    month, day = month_grid[int(np.argmin(month_cost))]
    minute = minutes[int(np.argmin(hour_cost))]
    return np.array([month, day, minute // 60, minute % 60, 0.0])


@lru_cache(maxsize=1)
def _timezone_finder():
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def timezone_at(lat: float, lon: float) -> str:
    """IANA time zone name at a GPS point (ocean points get their nautical ``Etc/GMT±N`` zone)."""
    from gtloc.geo import validate_coordinate

    validate_coordinate(lat, lon)
    name = _timezone_finder().timezone_at(lat=float(lat), lng=float(lon))
    if name is None:
        offset = round(float(lon) / 15.0)
        name = "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    return name


def utc_to_local(when_utc: datetime, lat: float, lon: float) -> datetime:
    """UTC instant -> naive local clock time at ``(lat, lon)``. A naive ``when_utc`` is read as UTC."""
    if when_utc.tzinfo is None:
        when_utc = when_utc.replace(tzinfo=timezone.utc)
    return when_utc.astimezone(ZoneInfo(timezone_at(lat, lon))).replace(tzinfo=None)


def local_to_utc(when_local: datetime, lat: float, lon: float) -> datetime:
    """Naive local clock time at ``(lat, lon)`` -> aware UTC datetime (ambiguous DST hours take ``fold=0``)."""
    aware = when_local.replace(tzinfo=ZoneInfo(timezone_at(lat, lon)))
    return aware.astimezone(timezone.utc)


def parse_instant(text: str, lat: float | None = None, lon: float | None = None) -> datetime:
    """The UTC instant (aware) written in ``text``: ISO 8601 with an offset or ``Z`` (``2013-01-20 18:54+01:00``,
    ``2013-01-20T17:54Z``), or a naive time (also EXIF's ``2013:01:20 18:54:00``) read as local clock time at
    ``(lat, lon)``. Raises :class:`InvalidTimeError` saying what is accepted.
    """
    cleaned = text.strip()
    if len(cleaned) >= 10 and cleaned[4] == ":" and cleaned[7] == ":":  # EXIF's date separators
        cleaned = f"{cleaned[:4]}-{cleaned[5:7]}-{cleaned[8:]}"
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InvalidTimeError(
            "not a time: write ISO 8601 such as '2013-01-20 18:54+01:00', '2013-01-20T17:54Z' or, for local time "
            "at the place, '2013-01-20 18:54'",
            "time",
            text,
        ) from None
    if when.tzinfo is not None:
        return when.astimezone(timezone.utc)
    if lat is None or lon is None:
        raise InvalidTimeError(
            "has no UTC offset and no place to read it as local time: add one (+01:00 or Z)", "time", text
        )
    return local_to_utc(when, lat, lon)


def utc_offset_hours(when_utc: datetime, lat: float, lon: float) -> float:
    """Local minus UTC, in hours, at that instant (DST included)."""
    local = utc_to_local(when_utc, lat, lon)
    naive_utc = (
        when_utc.replace(tzinfo=None)
        if when_utc.tzinfo is None
        else when_utc.astimezone(timezone.utc).replace(tzinfo=None)
    )
    return (local - naive_utc) / timedelta(hours=1)


def datetime_to_time_row(when: datetime) -> list[float]:
    """``datetime`` -> ``[month, day, hour, minute, second]`` (seconds keep microseconds)."""
    return [when.month, when.day, when.hour, when.minute, when.second + when.microsecond / 1e6]
