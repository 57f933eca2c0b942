"""A scanned library on disk: one row per photo (:class:`LibraryPhoto`), the files skipped, and the features.

Layout of a library folder ``LIB`` (written by :func:`gtloc.library.scan.scan_library`)::

    library.json   format, the photo folder scanned (``root``), the backbone, counts, the last fill's CSV
    photos.csv     one row per photo (the columns of :data:`PHOTO_COLUMNS`), sorted by path
    skipped.csv    path,reason,detail for every file that gave no row (unreadable, a symlink out of the folder)
    features/      backbone features in the feature store (:mod:`gtloc.data.features`), keyed by content hash

Paths are POSIX and relative to ``root``. Times in ``photos.csv``: ``time`` is the camera's clock
(``YYYY-MM-DDTHH:MM:SS``, naive), ``utc_offset`` its ``OffsetTimeOriginal`` (``+HH:MM``), ``gps_utc`` the GPS
receiver's UTC time (ISO 8601 with ``Z``).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from gtloc.errors import GtlocError
from gtloc.io import atomic_write_text, read_format_json, write_json

FORMAT = "gtloc-library/1"
LIBRARY_JSON = "library.json"
PHOTOS_CSV = "photos.csv"
SKIPPED_CSV = "skipped.csv"
FEATURES_DIR = "features"
CLOCK_VALUES = ("", "ok", "wrong", "unknown")


@dataclass(frozen=True)
class LibraryPhoto:
    """One photo of a library: the file, what its EXIF says, and its camera.

    ``path``: POSIX, relative to the library's root. ``size`` bytes and ``mtime_ns`` tell a re-scan whether the
    file changed; ``sha``: BLAKE2b-128 of its bytes (hex), the key of its features and of duplicates
    (``duplicate_of``: the first path, in path order, with the same bytes). ``lat``/``lon``: degrees, ``None``
    without a usable GPS position (``gps_problem`` says why; 0, 0 counts as none). ``local_time``: the camera's
    clock (naive), ``utc_offset_s`` its ``OffsetTimeOriginal`` in seconds (``None`` when absent).
    ``make``/``model``/``serial``: the camera, as EXIF names it.

    The clock fields come from the clock check (camera time against the GPS receiver's UTC time): ``gps_utc``
    (aware UTC), ``clock_offset_s`` (camera time minus GPS time, seconds), ``clock`` (``ok``, ``wrong``,
    ``unknown``, or ``""`` where not read) and ``clock_note`` (why, in words).
    """

    path: str
    size: int
    mtime_ns: int
    sha: str
    lat: float | None = None
    lon: float | None = None
    local_time: datetime | None = None
    utc_offset_s: int | None = None
    make: str = ""
    model: str = ""
    serial: str = ""
    gps_problem: str = ""
    time_problem: str = ""
    gps_utc: datetime | None = None
    clock_offset_s: float | None = None
    clock: str = ""
    clock_note: str = ""
    duplicate_of: str = ""

    @property
    def has_place(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def has_time(self) -> bool:
        return self.local_time is not None

    @property
    def camera(self) -> str:
        """One name per camera body: make, model and serial (``""`` when EXIF names no camera)."""
        parts = [self.make.strip(), self.model.strip(), self.serial.strip()]
        return " ".join(p for p in parts if p)


PHOTO_COLUMNS = tuple(f.name for f in fields(LibraryPhoto))


@dataclass(frozen=True)
class SkippedFile:
    """A file under the library folder that gave no photo: ``reason`` in a word or two, ``detail`` exactly why."""

    path: str
    reason: str
    detail: str


def _iso_offset(seconds: int) -> str:
    minutes = round(seconds / 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "local_time":
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if name == "gps_utc":
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == "utc_offset_s":
        return _iso_offset(value)
    if isinstance(value, float):
        return f"{value:.7f}".rstrip("0").rstrip(".") if name in ("lat", "lon") else f"{value:g}"
    return str(value)


def _parse(name: str, text: str) -> Any:
    if text == "":
        return None if name in _OPTIONAL else ""
    if name in ("size", "mtime_ns"):
        return int(text)
    if name in ("lat", "lon", "clock_offset_s"):
        number = float(text)
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return number
    if name == "local_time":
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    if name == "gps_utc":
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    if name == "utc_offset_s":
        sign = -1 if text[0] == "-" else 1
        hours, minutes = text[1:].split(":")
        return sign * int(timedelta(hours=int(hours), minutes=int(minutes)).total_seconds())
    if name == "clock" and text not in CLOCK_VALUES:
        raise ValueError(f"not one of {', '.join(v for v in CLOCK_VALUES if v)}")
    return text


_OPTIONAL = {"lat", "lon", "local_time", "utc_offset_s", "gps_utc", "clock_offset_s"}


def photos_to_csv(photos: list[LibraryPhoto]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PHOTO_COLUMNS)
    for photo in photos:
        values = asdict(photo)
        writer.writerow([_cell(name, values[name]) for name in PHOTO_COLUMNS])
    return out.getvalue()


def read_photos(path: Path) -> list[LibraryPhoto]:
    """The photos of a ``photos.csv``; a damaged file is one :class:`GtlocError` naming the row and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GtlocError(f"cannot read {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in PHOTO_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise GtlocError(f"{path} is not a library's photo list: columns {', '.join(missing)} missing")
    photos = []
    for row_number, row in enumerate(reader, start=1):
        values = {}
        for name in PHOTO_COLUMNS:
            try:
                values[name] = _parse(name, row[name] or "")
            except (ValueError, IndexError) as exc:
                raise GtlocError(
                    f"{path}: row {row_number}: invalid {name} {row[name]!r} ({exc}); scan the library again"
                ) from None
        photos.append(LibraryPhoto(**values))
    return photos


def skipped_to_csv(skipped: list[SkippedFile]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("path", "reason", "detail"))
    writer.writerows((s.path, s.reason, s.detail) for s in skipped)
    return out.getvalue()


def read_skipped(path: Path) -> list[SkippedFile]:
    if not path.is_file():
        return []
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return [SkippedFile(r["path"], r["reason"], r["detail"]) for r in rows]


@dataclass
class Library:
    """A scanned library opened for reading: its folder ``lib_dir``, the photo folder ``root``, its photos (sorted by
    path), the files skipped and ``info`` (``library.json``)."""

    lib_dir: Path
    root: Path
    photos: list[LibraryPhoto]
    skipped: list[SkippedFile]
    info: dict[str, Any]

    @classmethod
    def open(cls, lib_dir: str | Path) -> Library:
        """Read ``lib_dir`` (made by ``gtloc library scan``); a folder that is not a library is a clear error."""
        lib = Path(lib_dir)
        info_path = lib / LIBRARY_JSON
        if not info_path.is_file():
            raise GtlocError(f"{lib} is not a scanned library ({LIBRARY_JSON} not found): run `gtloc library scan`")
        info = read_format_json(info_path, FORMAT, "a gtloc library")
        photos = read_photos(lib / PHOTOS_CSV) if (lib / PHOTOS_CSV).is_file() else []
        return cls(lib, Path(info["root"]), photos, read_skipped(lib / SKIPPED_CSV), info)

    @property
    def features_dir(self) -> Path:
        return self.lib_dir / FEATURES_DIR

    def photo_file(self, path: str) -> Path:
        """The file of the photo at ``path`` (relative to the root)."""
        return self.root / path

    def save_info(self, **changes: Any) -> None:
        """Update ``library.json`` with ``changes`` (atomically)."""
        self.info.update(changes)
        write_json(self.lib_dir / LIBRARY_JSON, self.info)


def write_catalog(lib_dir: Path, photos: list[LibraryPhoto], skipped: list[SkippedFile]) -> None:
    """Write ``photos.csv`` and ``skipped.csv`` (each atomically)."""
    atomic_write_text(lib_dir / PHOTOS_CSV, photos_to_csv(photos))
    atomic_write_text(lib_dir / SKIPPED_CSV, skipped_to_csv(skipped))
