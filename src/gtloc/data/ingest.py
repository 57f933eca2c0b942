"""Turn a folder of photos into a records CSV: GPS and local capture time from EXIF, or from a webcam's names.

Each photo under ``photo_dir`` (recursively; suffixes in :data:`IMAGE_SUFFIXES`, any case) becomes one
record with its path relative to ``photo_dir`` (POSIX separators, sorted). Photos without a usable position
or time are skipped with a reason: ``not an image``, ``unreadable``, ``no GPS`` or ``no date``.

Time sources (``utc_from``):

* ``None`` (default): EXIF ``DateTimeOriginal`` is the local clock time. ``unix_ts`` uses
  ``OffsetTimeOriginal`` when present, else the time zone at the GPS point.
* ``"exif"``: the EXIF clock is UTC (webcams often run on UTC); any offset tag is ignored.
* ``"mtime"``: the file's modification time is the UTC instant.
* ``"filename"``: the file name holds the UTC time, read with ``name_pattern`` (see :class:`NamePattern`).
* ``"gps"``: the GPS receiver's UTC time (``GPSDateStamp`` + ``GPSTimeStamp``) where the photo has one and its fix
  is not older than the photo (:mod:`gtloc.data.clock`); the camera's time otherwise, as by default.

With ``utc_from``, local time is the UTC instant seen on the clock of the GPS point's time zone.
``lat``/``lon`` give one position to every photo (a fixed webcam), overriding EXIF GPS; ``cameras`` (a CSV
``folder,lat,lon``, :mod:`gtloc.data.cameras`) gives one to each camera folder and writes a ``camera`` column.

Every record also says what its clocks say, each camera's clock judged on all of its photos
(:func:`gtloc.data.clock.clocks_by_camera`): ``gps_utc`` (ISO 8601 UTC, empty without a GPS time),
``clock_offset_s`` (camera time minus GPS time, seconds), ``clock`` (``ok``, ``wrong`` or ``unknown``) and
``clock_note`` (why, e.g. "camera set to UTC+2, 10 h ahead of local time"); :func:`summarize` lists the clocks
found wrong.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gtloc.data.cameras import Camera, camera_of, read_cameras
from gtloc.data.clock import ClockReading, clocks_by_camera, gps_local_time
from gtloc.data.exif import PhotoExif, PhotoReadError, read_photo_exif
from gtloc.data.formats import IMAGE_SUFFIXES, RAW_SUFFIXES, raw_advice
from gtloc.data.schema import Records, paths_for_csv, write_records
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.geo import validate_coordinate
from gtloc.io import atomic_write_text
from gtloc.timecode import datetime_to_time_row, local_to_utc, utc_to_local

UTC_SOURCES = ("exif", "mtime", "filename", "gps")
CLOCK_COLUMNS = ("gps_utc", "clock_offset_s", "clock", "clock_note")
SKIPPED_COLUMNS = ("path", "reason", "detail")
NAME_DIRECTIVES = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "f": r"\d{1,6}",
}


@dataclass(frozen=True)
class SkippedPhoto:
    """A file that gave no record: ``reason`` is a short category, ``detail`` says exactly what was wrong."""

    path: str
    reason: str
    detail: str


@dataclass
class IngestResult:
    """The records read, the files skipped, how many other files were ignored, by suffix, and (once written)
    ``paths_root``, the folder the written paths are relative to."""

    records: Records
    skipped: list[SkippedPhoto]
    ignored: Counter[str] = field(default_factory=Counter)
    partial: int = 0
    paths_root: Path | None = None
    camera_time_kept: int = 0
    """With ``utc_from="gps"``: records whose time is the camera's (no usable GPS time, or a stale fix)."""
    clocks: list[ClockReading] = field(default_factory=list)
    """Each record's clock reading, in the records' order."""


class NamePattern:
    """A strftime-style pattern that finds a UTC time in a file name, e.g. ``%Y%m%d_%H%M``.

    Directives: ``%Y %y %m %d %H %M %S %f`` (each at most once; ``%Y`` or ``%y``, ``%m``, ``%d`` and ``%H``
    required; numbers zero-padded) and ``%%``; other text matches itself. The pattern may match anywhere in
    the file name without its suffix (``cam3_20190612_1530.jpg`` matches ``%Y%m%d_%H%M``); a pattern with a
    ``/`` is matched against the path relative to the photo folder instead (``%Y/%m/%d/%H%M``).
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        parts, seen, i = [], set(), 0
        while i < len(pattern):
            char = pattern[i]
            if char != "%":
                parts.append(re.escape(char))
                i += 1
                continue
            code = pattern[i + 1 : i + 2]
            if code == "%":
                parts.append("%")
            elif code in NAME_DIRECTIVES and code not in seen:
                seen.add(code)
                parts.append(f"(?P<{code}>{NAME_DIRECTIVES[code]})")
            else:
                why = f"%{code} appears twice" if code in seen else f"unsupported directive %{code}"
                supported = " ".join(f"%{c}" for c in NAME_DIRECTIVES)
                raise ParameterError(Param("name_pattern"), f" {pattern!r}: {why} (supported: {supported} %%)")
            i += 2
        missing = [f"%{c}" for c in ("m", "d", "H") if c not in seen]
        if not seen & {"Y", "y"}:
            missing.insert(0, "%Y")
        if missing:
            raise ParameterError(
                Param("name_pattern"), f" {pattern!r}: missing {', '.join(missing)} (a date and an hour)"
            )
        self.regex = re.compile("".join(parts))
        self.uses_path = "/" in pattern

    def parse(self, relative_path: str) -> datetime:
        """The UTC time in ``relative_path`` (POSIX, relative to the photo folder); ValueError says why not."""
        target = relative_path.rsplit(".", 1)[0] if "." in Path(relative_path).name else relative_path
        if not self.uses_path:
            target = target.rsplit("/", 1)[-1]
        match = self.regex.search(target)
        if not match:
            raise ValueError(f"name {target!r} does not match the name pattern {self.pattern!r}")
        g = match.groupdict()
        year = int(g["Y"]) if g.get("Y") else 2000 + int(g["y"])
        fraction = (g.get("f") or "0").ljust(6, "0")
        try:
            when = datetime(year, int(g["m"]), int(g["d"]), int(g["H"]), int(g.get("M") or 0), int(g.get("S") or 0))
        except ValueError as exc:
            raise ValueError(f"name {target!r} holds no valid time for {self.pattern!r} ({exc})") from None
        return when.replace(microsecond=int(fraction), tzinfo=timezone.utc)


def list_photos(photo_dir: Path) -> tuple[list[str], Counter[str], list[SkippedPhoto]]:
    """Image files under ``photo_dir`` as sorted POSIX relative paths, other files counted by suffix, and what could
    not be read: folders that could not be listed, and camera RAW files (with what to do instead)."""
    photos: list[str] = []
    ignored: Counter[str] = Counter()
    unlisted: list[SkippedPhoto] = []

    def on_error(exc: OSError) -> None:
        rel = Path(exc.filename).relative_to(photo_dir).as_posix() if exc.filename else str(photo_dir)
        unlisted.append(SkippedPhoto(_printable(rel), "unreadable", f"cannot list folder: {exc.strerror}"))

    for root, dirs, files in os.walk(photo_dir, onerror=on_error):
        dirs.sort()
        for name in files:
            rel = Path(root, name).relative_to(photo_dir).as_posix()
            suffix = Path(name).suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                photos.append(rel)
            elif suffix in RAW_SUFFIXES:
                unlisted.append(SkippedPhoto(_printable(rel), "not an image", raw_advice(name)))
            else:
                ignored[suffix or "(no suffix)"] += 1
    return sorted(photos), ignored, unlisted


def expand_photos(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[SkippedPhoto]]:
    """The photos named on a command line: a file stands for itself (the reader says what is wrong with it), a folder
    for every photo under it by :func:`list_photos`'s rules (recursive, sorted, RAW files skipped with advice).

    Returns the photo paths in the order given (each folder's photos sorted) and the folder entries skipped (with
    their folder-relative path prefixed by the folder). A path that does not exist is a :class:`GtlocError`.
    """
    photos: list[Path] = []
    skipped: list[SkippedPhoto] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found, _, unlisted = list_photos(path)
            photos += [path / rel for rel in found]
            skipped += [SkippedPhoto(_printable(str(path / s.path)), s.reason, s.detail) for s in unlisted]
        elif path.exists():
            photos.append(path)
        else:
            raise GtlocError(f"{path}: no such file or folder ({path.resolve()})")
    return photos, skipped


def _printable(path: str) -> str:
    """``path`` safe to write as UTF-8 (undecodable bytes of a file name shown as ``\\xNN``)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _instant(
    rel: str, full: Path, exif: PhotoExif, utc_from: str | None, pattern: NamePattern | None
) -> tuple[datetime | None, str]:
    """The UTC instant the chosen source gives (``None`` for the default EXIF-local source), and why not."""
    if utc_from == "exif":
        if exif.local_time is None:
            return None, exif.time_problem
        return exif.local_time.replace(tzinfo=timezone.utc), ""
    if utc_from == "mtime":
        try:
            return datetime.fromtimestamp(full.stat().st_mtime, timezone.utc), ""
        except OSError as exc:
            return None, f"cannot read the file's modification time: {exc.strerror}"
    if utc_from == "filename" and pattern is not None:
        try:
            return pattern.parse(rel), ""
        except ValueError as exc:
            return None, str(exc)
    return None, ""


@dataclass(frozen=True)
class _PhotoRead:
    """One photo's labels: position, local time, UTC instant (each ``None`` when unknown, with the problems),
    its clock reading and whether ``utc_from="gps"`` had to keep the camera's time."""

    latlon: tuple[float, float] | None
    local: datetime | None
    instant: datetime | None
    gps_problem: str
    time_problem: str
    clock: ClockReading
    camera_time_kept: bool = False


def _camera_time(exif: PhotoExif, latlon: tuple[float, float] | None) -> tuple[datetime | None, datetime | None]:
    """The default time source: EXIF local time, and its UTC instant from the offset tag or the place's zone."""
    local, instant = exif.local_time, None
    if local is not None and exif.utc_offset is not None:
        instant = (local - exif.utc_offset).replace(tzinfo=timezone.utc)
    elif local is not None and latlon:
        instant = local_to_utc(local, *latlon)
    return local, instant


def _read_exif(photo_dir: Path, rel: str) -> PhotoExif | SkippedPhoto:
    """One photo's EXIF, or why it is skipped."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return SkippedPhoto(_printable(rel), "unreadable", "file name is not valid UTF-8")
    try:
        return read_photo_exif(photo_dir / rel)
    except PhotoReadError as exc:
        return SkippedPhoto(rel, exc.reason, exc.detail)


def _place(exif: PhotoExif, fixed: tuple[float, float] | None) -> tuple[float, float] | None:
    """Where the photo was taken: the ``fixed`` place (a webcam's), else its EXIF GPS position, else ``None``."""
    return fixed or ((exif.lat, exif.lon) if exif.has_gps else None)


def _labels(
    photo_dir: Path,
    rel: str,
    exif: PhotoExif,
    fixed: tuple[float, float] | None,
    clock: ClockReading,
    utc_from: str | None,
    pattern: NamePattern | None,
) -> _PhotoRead:
    """What one photo gives (see :class:`_PhotoRead`) from its ``exif`` and its ``clock`` reading."""
    full = photo_dir / rel
    latlon = _place(exif, fixed)
    gps_problem = "" if latlon else exif.gps_problem
    if utc_from in (None, "gps"):
        gps_local = gps_local_time(clock, *latlon) if utc_from == "gps" and latlon else None
        if gps_local is not None and clock.gps_utc is not None:
            return _PhotoRead(latlon, gps_local, clock.gps_utc, gps_problem, "", clock)
        local, instant = _camera_time(exif, latlon)
        return _PhotoRead(latlon, local, instant, gps_problem, exif.time_problem, clock, utc_from == "gps")
    instant, time_problem = _instant(rel, full, exif, utc_from, pattern)
    if instant is None:
        return _PhotoRead(latlon, None, None, gps_problem, time_problem, clock)
    if latlon is None:
        why = "no GPS position to turn the UTC time into local time"
        return _PhotoRead(None, None, instant, gps_problem, why, clock)
    return _PhotoRead(latlon, utc_to_local(instant, *latlon), instant, "", "", clock)


def ingest_photos(
    photo_dir: str | Path,
    *,
    utc_from: str | None = None,
    name_pattern: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    keep_partial: bool = False,
    camera_from_folder: bool = False,
    cameras: str | Path | list[Camera] | None = None,
    progress: bool = False,
) -> IngestResult:
    """Read every photo under ``photo_dir`` into records (see the module docstring for the time sources).

    ``keep_partial``: keep photos that have only a position or only a time (the other label left empty);
    by default both are required. ``camera_from_folder``: add a ``camera`` column holding each photo's folder
    relative to ``photo_dir`` (for :class:`~gtloc.data.samplers.CameraBalancedSampler`). ``cameras``: fixed cameras
    (a ``folder,lat,lon`` CSV or :func:`~gtloc.data.cameras.read_cameras`' list): each photo takes its camera
    folder's place and name (``camera`` column); a photo in no listed folder is skipped (``no camera``).
    """
    root = Path(photo_dir)
    if not root.is_dir():
        raise GtlocError(f"photo folder not found: {root}")
    if utc_from is not None and utc_from not in UTC_SOURCES:
        raise ParameterError(Param("utc_from"), f" {utc_from!r}: choose one of {', '.join(UTC_SOURCES)}")
    if (name_pattern is not None) != (utc_from == "filename"):
        raise ParameterError(
            Param("name_pattern"), " and ", Param("utc_from", "filename"), " go together: give both or neither"
        )
    if (lat is None) != (lon is None):
        raise ParameterError(Param("lat"), " and ", Param("lon"), " go together: give both or neither")
    if cameras is not None and (lat is not None or camera_from_folder):
        raise ParameterError(
            Param("cameras"), " gives each camera folder its place and name: leave out ", Param("lat"), "/",
            Param("lon"), " and ", Param("camera_from_folder"),
        )  # fmt: skip
    if cameras is not None and not isinstance(cameras, list):
        cameras = read_cameras(cameras, root)
    fixed = None
    if lat is not None and lon is not None:
        validate_coordinate(lat, lon)
        fixed = (float(lat), float(lon))
    pattern = NamePattern(name_pattern) if name_pattern is not None else None

    photos, ignored, skipped = list_photos(root)
    paths: list[str] = []
    latlon: list[tuple[float, float]] = []
    times: list[list[float]] = []
    unix_ts: list[str] = []
    years: list[str] = []
    clocks: dict[str, list[str]] = {name: [] for name in CLOCK_COLUMNS}
    partial = kept = 0
    readings: list[ClockReading] = []
    camera_names: list[str] = []
    read: list[tuple[str, PhotoExif, Camera | None, tuple[float, float] | None]] = []
    dropped: dict[str, SkippedPhoto] = {}  # listed in the photos' order at the end
    for rel in tqdm(photos, desc="reading EXIF", unit="photo", disable=not progress):
        camera = camera_of(rel, cameras) if cameras is not None else None
        if cameras is not None and camera is None:
            dropped[rel] = SkippedPhoto(rel, "no camera", "not inside a folder listed in the cameras file")
            continue
        exif = _read_exif(root, rel)
        if isinstance(exif, SkippedPhoto):
            dropped[rel] = exif
            continue
        read.append((rel, exif, camera, (camera.lat, camera.lon) if camera else fixed))
    clock_readings = clocks_by_camera([r[1] for r in read], [_place(r[1], r[3]) for r in read])
    for (rel, exif, camera, place), clock in zip(read, clock_readings, strict=True):
        got = _labels(root, rel, exif, place, clock, utc_from, pattern)
        position, local, instant = got.latlon, got.local, got.instant
        if position is None or local is None:
            problems = "; ".join(p for p in (got.gps_problem, got.time_problem) if p)
            if not keep_partial or (position is None and local is None):
                dropped[rel] = SkippedPhoto(rel, "no GPS" if position is None else "no date", problems)
                continue
            partial += 1
        kept += got.camera_time_kept
        paths.append(rel)
        latlon.append(position or (np.nan, np.nan))
        times.append(datetime_to_time_row(local) if local else [np.nan] * 5)
        unix_ts.append(str(int(instant.timestamp())) if instant and local else "")
        years.append(str(local.year) if local else "")
        readings.append(got.clock)
        for name, value in zip(CLOCK_COLUMNS, _clock_cells(got.clock), strict=True):
            clocks[name].append(value)
        camera_names.append(camera.name if camera else "")
    extras = {"unix_ts": unix_ts, "year": years, **clocks}
    if cameras is not None:
        extras["camera"] = camera_names
    if camera_from_folder:
        extras["camera"] = [p.rsplit("/", 1)[0] if "/" in p else "." for p in paths]
    records = Records(paths=paths, latlon=np.array(latlon).reshape(-1, 2), times=np.array(times), extras=extras)
    skipped += [dropped[rel] for rel in photos if rel in dropped]
    return IngestResult(records, skipped, ignored, partial, camera_time_kept=kept, clocks=readings)


def _clock_cells(clock: ClockReading) -> tuple[str, str, str, str]:
    """The records' ``gps_utc, clock_offset_s, clock, clock_note`` cells of one photo."""
    offset = "" if clock.offset_s is None else str(round(clock.offset_s))
    return clock.gps_utc_text, offset, clock.status, clock.note


def write_skipped(skipped: list[SkippedPhoto], path: str | Path) -> None:
    """Write the skipped files as a CSV ``path,reason,detail`` atomically."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SKIPPED_COLUMNS)
    writer.writerows((s.path, s.reason, s.detail) for s in skipped)
    atomic_write_text(path, out.getvalue())


def summarize(result: IngestResult, out: str | Path, max_listed: int = 20, full_list_hint: str = "") -> str:
    """A short human summary: records written, skipped files by reason (the first ``max_listed`` named, then
    ``full_list_hint``, e.g. how to get them all)."""
    lines = [f"wrote {len(result.records)} records to {out}"]
    if result.partial:
        lines.append(f"  {result.partial} of them have only a position or only a time (the other left empty)")
    if result.skipped:
        reasons = ", ".join(f"{r} {n}" for r, n in Counter(s.reason for s in result.skipped).items())
        n = len(result.skipped)
        lines.append(f"skipped {n} file{'s' if n != 1 else ''}: {reasons}")
        lines += [f"  {s.path}: {s.reason}: {s.detail}" for s in result.skipped[:max_listed]]
        if len(result.skipped) > max_listed:
            hint = f" ({full_list_hint})" if full_list_hint else ""
            lines.append(f"  ... and {len(result.skipped) - max_listed} more{hint}")
    if result.camera_time_kept:
        n = result.camera_time_kept
        lines.append(f"  {n} of them keep the camera's time (no usable GPS time, or a GPS fix older than the photo)")
    lines += _clock_summary(result.records.paths, result.clocks, max_listed)
    if result.ignored:
        counts = ", ".join(f"{suffix} {n}" for suffix, n in sorted(result.ignored.items()))
        n = sum(result.ignored.values())
        lines.append(f"ignored {n} non-image file{'s' if n != 1 else ''} (by suffix: {counts})")
    return "\n".join(lines)


def _clock_summary(paths: list[str], clocks: list[ClockReading], max_listed: int) -> list[str]:
    """Lines naming the photos whose camera clock was found wrong (the first ``max_listed``), and counting the GPS
    fixes older than their photo and the photos ahead of their GPS time that could be either."""
    wrong = [(path, c.note) for path, c in zip(paths, clocks, strict=True) if c.status == "wrong"]
    checked = sum(1 for c in clocks if c.status in ("ok", "wrong"))
    stale = sum(1 for c in clocks if c.fix == "stale" and c.status == "unknown")
    doubtful = sum(1 for c in clocks if c.fix == "unknown" and c.status == "unknown")
    lines = []
    if wrong:
        n = len(wrong)
        lines.append(f"camera clock wrong in {n} of the {checked} photos whose GPS time could check it:")
        lines += [f"  {path}: {note}" for path, note in wrong[:max_listed]]
        if n > max_listed:
            lines.append(f"  ... and {n - max_listed} more (the records' clock and clock_note columns list them all)")
    elif checked:
        lines.append(f"camera clock right in all {checked} photos whose GPS time could check it")
    if stale:
        lines.append(f"{_files(stale, 'photo')} with a GPS fix older than the photo (their clock not checked)")
    if doubtful:
        lines.append(
            f"{_files(doubtful, 'photo')} with the camera ahead of the GPS time: an old fix or a fast clock, which "
            "one photo cannot tell (clock unknown; clock_note says by how much)"
        )
    return lines


def ingest_to_csv(
    photo_dir: str | Path,
    out: str | Path,
    *,
    skipped_path: str | Path | None = None,
    utc_from: str | None = None,
    name_pattern: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    keep_partial: bool = False,
    camera_from_folder: bool = False,
    cameras: str | Path | None = None,
    progress: bool = False,
) -> IngestResult:
    """:func:`ingest_photos`, then write the records CSV (and the skipped list, if asked) atomically.

    When ``photo_dir`` lies inside the CSV's folder, the CSV names each photo relative to that folder
    (:func:`~gtloc.data.schema.paths_for_csv`), as the predictions of ``gtloc predict PHOTO... --out`` do, so that
    records and predictions of the same photos match, and the commands that read records find the photos with
    their default image root, the CSV's folder. Otherwise paths stay relative to ``photo_dir`` (readers refuse
    paths that leave their image root): ``result.paths_root`` says which. The skipped list names its files the
    same way. With no record at all, nothing is written but the skipped list, and :class:`NoRecordsError` counts
    the reasons.
    """
    result = ingest_photos(
        photo_dir,
        utc_from=utc_from,
        name_pattern=name_pattern,
        lat=lat,
        lon=lon,
        keep_partial=keep_partial,
        camera_from_folder=camera_from_folder,
        cameras=cameras,
        progress=progress,
    )
    base, root = Path(os.path.abspath(Path(out).parent)), Path(os.path.abspath(photo_dir))
    if root.is_relative_to(base):
        result.records.paths = paths_for_csv([Path(photo_dir, p) for p in result.records.paths], out)
        named = paths_for_csv([Path(photo_dir, s.path) for s in result.skipped], out)
        result.skipped = [replace(s, path=path) for s, path in zip(result.skipped, named, strict=True)]
        result.paths_root = Path(out).parent
    else:
        result.paths_root = Path(photo_dir)
    if skipped_path is not None:
        write_skipped(result.skipped, skipped_path)
    if not len(result.records):
        raise NoRecordsError(photo_dir, result)
    write_records(result.records, out)
    return result


class NoRecordsError(GtlocError):
    """No photo gave a record; the message counts the skipped files by reason and the ignored ones."""

    def __init__(self, photo_dir: str | Path, result: IngestResult) -> None:
        parts = []
        if result.skipped:
            reasons = ", ".join(f"{r} {n}" for r, n in Counter(s.reason for s in result.skipped).items())
            parts.append(f"skipped {_files(len(result.skipped))} ({reasons})")
        if result.ignored:
            parts.append(f"ignored {_files(sum(result.ignored.values()), 'non-image file')}")
        found = ", ".join(parts) if parts else "the folder holds no files"
        super().__init__(f"no records from {photo_dir}: {found}; nothing written")


def _files(n: int, noun: str = "file") -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"
