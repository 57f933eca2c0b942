"""One records schema for every source: ``path,lat,lon,unix_ts,year,month,day,hour,minute,second``.

Time fields are local clock time. The geo-only form ``path,lat,lon`` is accepted too. Extra columns
(e.g. ``camera``) are kept as strings and written back.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gtloc.io import atomic_write_text
from gtloc.timecode import TIME_FIELDS

RECORD_COLUMNS = ("path", "lat", "lon", "unix_ts", "year", "month", "day", "hour", "minute", "second")
GEO_COLUMNS = ("path", "lat", "lon")


@dataclass
class Records:
    """A table of pictures with optional GPS and local time labels.

    ``paths``: N relative image paths. ``latlon``: ``(N, 2)`` float64 degrees, NaN where unknown.
    ``times``: ``(N, 5)`` float64 ``[month, day, hour, minute, second]`` local time, NaN where unknown.
    ``extras``: other columns by name (``unix_ts``, ``year``, ``camera``, ...), N strings each ("" if empty).
    """

    paths: list[str]
    latlon: np.ndarray
    times: np.ndarray
    extras: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.paths)
        self.latlon = np.asarray(self.latlon, dtype=np.float64).reshape(n, 2)
        self.times = np.asarray(self.times, dtype=np.float64).reshape(n, 5)
        for name, values in self.extras.items():
            if len(values) != n:
                raise ValueError(f"extra column {name!r} has {len(values)} values for {n} records")

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def has_gps(self) -> np.ndarray:
        """``(N,)`` bool: the record has a latitude and longitude."""
        return np.isfinite(self.latlon).all(axis=1)

    @property
    def has_time(self) -> np.ndarray:
        """``(N,)`` bool: the record has a full local timestamp."""
        return np.isfinite(self.times).all(axis=1)

    def subset(self, index: Sequence[int] | np.ndarray) -> Records:
        """The records at ``index`` (integer positions or a boolean mask), in that order."""
        idx = np.arange(len(self))[np.asarray(index)] if np.asarray(index).dtype == bool else np.asarray(index, int)
        return Records(
            paths=[self.paths[i] for i in idx],
            latlon=self.latlon[idx],
            times=self.times[idx],
            extras={k: [v[i] for i in idx] for k, v in self.extras.items()},
        )

    def index_of(self) -> dict[str, int]:
        """``path -> position``."""
        return {p: i for i, p in enumerate(self.paths)}


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value) == int(value):
        return str(int(value))
    return f"{float(value):.6f}".rstrip("0").rstrip(".")


def records_to_csv(records: Records) -> str:
    """Render records in the schema's column order (time columns only if any record has a time)."""
    with_time = bool(records.has_time.any()) or "unix_ts" in records.extras or "year" in records.extras
    base = RECORD_COLUMNS if with_time else GEO_COLUMNS
    extra_names = [k for k in records.extras if k not in base]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*base, *extra_names])
    for i, path in enumerate(records.paths):
        row = {"path": path, "lat": _fmt(records.latlon[i, 0]), "lon": _fmt(records.latlon[i, 1])}
        for j, name in enumerate(TIME_FIELDS):
            row[name] = _fmt(records.times[i, j])
        for name in ("unix_ts", "year"):
            row[name] = records.extras.get(name, [""] * len(records))[i]
        writer.writerow([row[c] for c in base] + [records.extras[k][i] for k in extra_names])
    return out.getvalue()


def write_records(records: Records, path: str | Path) -> None:
    """Write a records CSV atomically."""
    atomic_write_text(path, records_to_csv(records))
