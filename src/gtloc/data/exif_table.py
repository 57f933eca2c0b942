"""What the EXIF of photos named on a command line says, as a records table: ``exif.csv`` in a feature directory.

``gtloc features PHOTO|DIR ... --out FEATDIR`` writes it beside the features (one row per photo, every photo kept:
``lat``/``lon`` and the local time fields empty where the EXIF has none, ``gps_problem``/``time_problem`` saying
why), named as the feature cache names the photos; ``gtloc predict --features FEATDIR`` reads it to show each
photo's EXIF beside its answer and to answer its time given its EXIF place. It is a records CSV
(:mod:`gtloc.data.schema`), so ``gtloc train --records FEATDIR/exif.csv`` trains on the photos' own labels (rows
without a label are masked for that half).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from gtloc.data.exif import PhotoExif, photo_exif
from gtloc.data.schema import Records, load_records, write_records
from gtloc.timecode import datetime_to_time_row

EXIF_TABLE = "exif.csv"
PROBLEM_COLUMNS = ("gps_problem", "time_problem")


def exif_table(photos: Sequence[str | Path], names: Sequence[str]) -> Records:
    """The EXIF place and local time of each photo file (``names``: how the table names them), as records; a photo
    whose EXIF cannot be read gets empty cells and its problem."""
    latlon = np.full((len(photos), 2), np.nan)
    times = np.full((len(photos), 5), np.nan)
    extras: dict[str, list[str]] = {"year": [""] * len(photos), **{c: [""] * len(photos) for c in PROBLEM_COLUMNS}}
    for i, photo in enumerate(photos):
        exif = photo_exif(photo)
        if exif is None:
            extras["gps_problem"][i] = extras["time_problem"][i] = "not an image that can be read"
            continue
        if exif.has_gps:
            latlon[i] = exif.lat, exif.lon
        if exif.has_time:
            times[i] = datetime_to_time_row(exif.local_time)
            extras["year"][i] = str(exif.local_time.year)
        extras["gps_problem"][i], extras["time_problem"][i] = exif.gps_problem, exif.time_problem
    return Records(paths=list(names), latlon=latlon, times=times, extras=extras)


def write_exif_table(records: Records, feature_dir: str | Path) -> Path:
    """Write ``records`` (:func:`exif_table`) as ``feature_dir/exif.csv``, atomically; returns its path."""
    path = Path(feature_dir) / EXIF_TABLE
    write_records(records, path)
    return path


def read_exif_table(feature_dir: str | Path) -> dict[str, PhotoExif] | None:
    """The EXIF of each photo in ``feature_dir/exif.csv`` by its name, as :class:`PhotoExif` (place and local time
    only); ``None`` when the directory has no such table (its features came from a records CSV)."""
    path = Path(feature_dir) / EXIF_TABLE
    if not path.is_file():
        return None
    table = load_records(path)
    years = table.extras.get("year", [""] * len(table))
    problems = {c: table.extras.get(c, [""] * len(table)) for c in PROBLEM_COLUMNS}
    out = {}
    for i, name in enumerate(table.paths):
        lat, lon = (None if math.isnan(v) else float(v) for v in table.latlon[i])
        when = None
        if table.has_time[i] and years[i]:
            month, day, hour, minute, second = (int(v) for v in table.times[i])
            when = datetime(int(years[i]), month, day, hour, minute, second)
        out[name] = PhotoExif(
            lat=lat,
            lon=lon,
            local_time=when,
            gps_problem=problems["gps_problem"][i],
            time_problem=problems["time_problem"][i],
        )
    return out
