"""Geo math in one place: validation, haversine distance, the Equal Earth projection, accuracy metrics.

Coordinates are ``(..., 2)`` arrays ``[lat, lon]`` in degrees (lat in [-90, 90], lon in [-180, 180]),
numpy arrays or torch tensors. Distances are kilometres on a sphere of radius 6371.0 km.
"""

from __future__ import annotations

import math

import numpy as np

from gtloc._array import ArrayLike, as_array, is_torch, plain, stack_last, xp
from gtloc.errors import InvalidValueError

EARTH_RADIUS_KM = 6371.0
ACCURACY_THRESHOLDS_KM = (1, 25, 200, 750, 2500)

# Equal Earth projection constants (Savric, Patterson & Jenny 2018), scaled as in GeoCLIP by SF / 180.
EE_A1, EE_A2, EE_A3, EE_A4 = 1.340264, -0.081106, 0.000893, 0.003796
EE_SF = 66.50336


class InvalidCoordinateError(InvalidValueError):
    """A latitude or longitude is out of range or not a number (``field`` is ``"lat"`` or ``"lon"``)."""


def validate_coordinate(lat: float, lon: float, where: str = "") -> None:
    """Raise :class:`InvalidCoordinateError` naming the bad field of one ``(lat, lon)`` pair."""
    for field, value, bound in (("lat", plain(lat), 90.0), ("lon", plain(lon), 180.0)):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InvalidCoordinateError("not a number", field, value, where) from None
        if math.isnan(v) or math.isinf(v):
            raise InvalidCoordinateError("not a finite number", field, value, where)
        if abs(v) > bound:
            raise InvalidCoordinateError(f"must be within [-{bound:g}, {bound:g}]", field, value, where)


def validate_coordinates(latlon: ArrayLike) -> None:
    """Validate ``(N, 2)`` coordinates; the error names the first bad row, field and value."""
    arr = np.asarray(latlon.detach().cpu() if is_torch(latlon) else latlon, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InvalidCoordinateError(f"coordinates must have shape (N, 2) [lat, lon], got {arr.shape}")
    bad = ~np.isfinite(arr) | (np.abs(arr) > np.array([90.0, 180.0]))
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        validate_coordinate(arr[row, 0], arr[row, 1], where=f"row {row}")


def haversine_km(a: ArrayLike, b: ArrayLike) -> ArrayLike:
    """Great-circle distance in km between ``a`` and ``b`` (``(..., 2)`` degrees; shapes broadcast)."""
    a, b = as_array(a), as_array(b)
    m = xp(a)
    lat1, lon1 = m.deg2rad(a[..., 0]), m.deg2rad(a[..., 1])
    lat2, lon2 = m.deg2rad(b[..., 0]), m.deg2rad(b[..., 1])
    h = m.sin((lat2 - lat1) / 2) ** 2 + m.cos(lat1) * m.cos(lat2) * m.sin((lon2 - lon1) / 2) ** 2
    h = m.clip(h, 0.0, 1.0)
    return 2 * EARTH_RADIUS_KM * m.arcsin(m.sqrt(h))


def pairwise_haversine_km(a: ArrayLike, b: ArrayLike) -> ArrayLike:
    """``(N, 2)`` x ``(M, 2)`` degrees -> ``(N, M)`` km."""
    return haversine_km(as_array(a)[:, None, :], as_array(b)[None, :, :])


def equal_earth(latlon: ArrayLike) -> ArrayLike:
    """Equal Earth projection of ``(..., 2)`` ``[lat, lon]`` degrees -> ``(..., 2)`` ``[x, y]``, scaled by SF/180.

    This is GeoCLIP's ``equal_earth_projection`` (x in about [-1.0, 1.0], y in about [-0.49, 0.49]).
    """
    ll = as_array(latlon)
    m = xp(ll)
    lat, lon = m.deg2rad(ll[..., 0]), m.deg2rad(ll[..., 1])
    theta = m.arcsin(math.sqrt(3.0) / 2 * m.sin(lat))
    denominator = 3 * (9 * EE_A4 * theta**8 + 7 * EE_A3 * theta**6 + 3 * EE_A2 * theta**2 + EE_A1)
    x = 2 * math.sqrt(3.0) * lon * m.cos(theta) / denominator
    y = EE_A4 * theta**9 + EE_A3 * theta**7 + EE_A2 * theta**3 + EE_A1 * theta
    return stack_last([x, y]) * EE_SF / 180.0


def accuracy_at(errors_km: ArrayLike, thresholds_km: tuple[float, ...] = ACCURACY_THRESHOLDS_KM) -> dict[str, float]:
    """Fraction of errors ``<=`` each threshold, keyed ``acc_{t}km`` (e.g. ``acc_25km``)."""
    err = np.asarray(errors_km, dtype=np.float64)
    if err.size == 0:
        raise ValueError("accuracy_at: no errors given")
    return {f"acc_{t:g}km": float(np.mean(err <= t)) for t in thresholds_km}


def median_error_km(errors_km: ArrayLike) -> float:
    """Median great-circle error in km."""
    err = np.asarray(errors_km, dtype=np.float64)
    if err.size == 0:
        raise ValueError("median_error_km: no errors given")
    return float(np.median(err))


def geo_metrics(pred_latlon: ArrayLike, true_latlon: ArrayLike) -> dict[str, float]:
    """The protocol's geo table: ``median_km`` and ``acc_{1,25,200,750,2500}km`` for ``(N, 2)`` degrees."""
    err = haversine_km(np.asarray(pred_latlon, dtype=np.float64), np.asarray(true_latlon, dtype=np.float64))
    return {"median_km": median_error_km(err), **accuracy_at(err)}
