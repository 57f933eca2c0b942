"""The claim to verify for a photo: "taken here, then". From its EXIF unless given (flags, or a claims CSV).

A :class:`Claim` holds a place (degrees) and a time, each optional, and says where each came from:

* ``time``: the local clock time at the claimed place (what the model reads); ``utc``: the same instant in UTC
  (what the sun and the photo's GPS clock read). A time given without a UTC offset is local clock time at the
  claimed place; one given with an offset (``2013-01-20 18:54+01:00``, ``...Z``) is an instant, seen on the local
  clock of the claimed place (on its own offset's clock when no place is claimed).
* The photo's own claim (EXIF): ``DateTimeOriginal`` is the camera's clock. Its instant is that time less
  ``OffsetTimeOriginal`` where the camera wrote one, else the time read on the clock of the claimed place's time
  zone (DST included); ``camera_time`` marks such a claim, so that the clock check judges the camera's clock itself.
* Given values win and EXIF fills the rest: ``--lat/--lon`` with the EXIF time, a claims CSV row with a place only.
  Why a field could not be taken from EXIF is kept in ``problems``.

A claims CSV is a records CSV (:mod:`gtloc.data.schema`: ``path,lat,lon[,year,month,day,hour,minute[,second]]``,
local clock time at the place); each bad row is named with its file, row, field and value (:func:`read_claims`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gtloc.data.exif import PhotoExif, read_photo_exif
from gtloc.data.schema import RecordProblem, check_records
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.geo import validate_coordinate
from gtloc.timecode import InvalidTimeError, datetime_to_time_row, local_to_utc, parse_instant, utc_to_local

NO_YEAR = 2001
"""The year of a claimed time given without one (``07-04 09:05``): only the day of the year and the time matter."""
_CLAIM_TIME = re.compile(
    r"^\s*(?:(\d{4})[-:/])?(\d{1,2})[-:/](\d{1,2})[ T_]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$",
)
TIME_FORMS = (
    "'YYYY-MM-DD HH:MM[:SS]' (local time at the place), ISO 8601 with an offset or Z ('2013-01-20 18:54+01:00', "
    "'2013-01-20T17:54Z') or 'MM-DD HH:MM'"
)


@dataclass
class ClaimedTime:
    """A time as written by the user: ``when`` naive (local clock time at the claimed place) or aware (an instant);
    ``year_known`` is false for ``MM-DD HH:MM`` (the year is :data:`NO_YEAR`)."""

    when: datetime
    year_known: bool = True


def read_claim_time(text: str) -> ClaimedTime:
    """The time in ``text``: one of :data:`TIME_FORMS` (EXIF's ``2023:01:15 16:30:00`` too); a clear error else."""
    match = _CLAIM_TIME.match(text)
    if match:
        year, month, day, hour, minute, second = (int(g) if g else None for g in match.groups())
        try:
            return ClaimedTime(datetime(year or NO_YEAR, month, day, hour, minute, second or 0), year is not None)
        except ValueError as exc:
            raise GtlocError(f"cannot read the time {text!r}: {exc}") from None
    try:
        return ClaimedTime(parse_instant(text))  # ISO 8601 with an offset (parse_instant's rule)
    except InvalidTimeError:
        raise GtlocError(f"cannot read the time {text!r}: use {TIME_FORMS}") from None


def parse_claim_time(text: str) -> datetime:
    """:func:`read_claim_time`'s datetime: naive local time (``2001`` when no year is written), or aware."""
    return read_claim_time(text).when


@dataclass
class Claim:
    """A claimed place (``lat``/``lon`` degrees) and/or time (module docstring): ``time`` naive local clock time at
    the place, ``utc`` the aware UTC instant (``None`` when the time is unknown, or local without a place to read
    it at); ``year_known``: the claimed time has a year; ``camera_time``: the time is the camera's own (EXIF).
    ``source`` says where each part came from (``place``, ``time``); ``problems`` why an EXIF field could not be
    used."""

    lat: float | None = None
    lon: float | None = None
    time: datetime | None = None
    utc: datetime | None = None
    year_known: bool = True
    camera_time: bool = False
    source: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def has_place(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def has_time(self) -> bool:
        return self.time is not None

    @property
    def is_empty(self) -> bool:
        return not (self.has_place or self.has_time)

    def time_row(self) -> list[float]:
        """``[month, day, hour, minute, second]`` of the local time (the model's time label)."""
        return datetime_to_time_row(self.time)

    def why_empty(self) -> str:
        """Why nothing is claimed, in words (the EXIF problems)."""
        return "; ".join(self.problems) or "no place or time given"


def require_claim(claim: Claim) -> None:
    """Raise a :class:`~gtloc.errors.ParameterError` saying what to pass when ``claim`` claims nothing."""
    if claim.is_empty:
        raise ParameterError(
            f"no claim to verify ({claim.why_empty()}): pass ",
            Param("lat"),
            "/",
            Param("lon"),
            " and/or ",
            Param("time"),
        )


def _set_time(claim: Claim, when: datetime, source: str, year_known: bool = True) -> None:
    """Give ``claim`` the time ``when`` (naive: local at the claimed place; aware: an instant)."""
    claim.source["time"], claim.year_known = source, year_known
    if when.tzinfo is not None:
        claim.utc = when.astimezone(timezone.utc)
        claim.time = utc_to_local(claim.utc, claim.lat, claim.lon) if claim.has_place else when.replace(tzinfo=None)
        return
    claim.time = when
    claim.utc = local_to_utc(when, claim.lat, claim.lon) if claim.has_place else None


def _exif_time(claim: Claim, exif: PhotoExif) -> None:
    """The camera's time as the claim: its instant from OffsetTimeOriginal, else the claimed place's zone."""
    claim.camera_time = True
    if exif.utc_offset is not None:
        instant = (exif.local_time - exif.utc_offset).replace(tzinfo=timezone.utc)
        _set_time(claim, instant, f"EXIF {exif.time_tag} with its UTC offset")
    else:
        _set_time(claim, exif.local_time, f"EXIF {exif.time_tag}")


def make_claim(
    exif: PhotoExif | None,
    lat: float | None = None,
    lon: float | None = None,
    time: datetime | ClaimedTime | None = None,
    given: str = "given",
) -> Claim:
    """The claim for a photo whose EXIF is ``exif`` (``None``: not read): the given ``lat``/``lon`` and ``time``
    (naive local at the place, or aware) win, EXIF fills the rest; ``given`` names where given values came from."""
    if (lat is None) != (lon is None):
        raise ParameterError("give both ", Param("lat"), " and ", Param("lon"), " (or neither)")
    claim = Claim()
    if lat is not None:
        validate_coordinate(lat, lon, "claim")
        claim.lat, claim.lon, claim.source["place"] = float(lat), float(lon), given
    elif exif is None:
        claim.problems.append("EXIF: not read (the photo was given as an image, not a file)")
    elif exif.has_gps:
        claim.lat, claim.lon, claim.source["place"] = exif.lat, exif.lon, "EXIF GPS"
    else:
        claim.problems.append(f"EXIF GPS: {exif.gps_problem or 'absent'}")
    if time is not None:
        claimed = time if isinstance(time, ClaimedTime) else ClaimedTime(time)
        _set_time(claim, claimed.when, given, claimed.year_known)
    elif exif is not None and exif.has_time:
        _exif_time(claim, exif)
    elif exif is not None:
        claim.problems.append(f"EXIF time: {exif.time_problem or 'absent'}")
    return claim


@dataclass
class GivenClaim:
    """Claims from each photo's EXIF, with the parts given here winning (the ``--lat/--lon/--time`` of one photo)."""

    lat: float | None = None
    lon: float | None = None
    time: ClaimedTime | None = None

    def problem(self, photo: Path) -> str:
        """Why ``photo`` has no usable claim before its EXIF is read ("" for none: there is always EXIF to try)."""
        return ""

    def claim(self, photo: Path, exif: PhotoExif | None) -> Claim:
        """The claim for ``photo`` whose EXIF is ``exif``."""
        return make_claim(exif, self.lat, self.lon, self.time)


def _key(path: str | Path) -> str:
    return os.path.normcase(os.path.abspath(path))


@dataclass
class ClaimsFile:
    """A claims CSV read by :func:`read_claims`: each good row's claimed place and time, and each bad row's problems,
    by photo file (the row's path under the images root). A photo the file does not name is claimed by its EXIF."""

    path: Path
    rows: dict[str, tuple[Path, float | None, float | None, ClaimedTime | None]] = field(default_factory=dict)
    problems: dict[str, tuple[Path, list[RecordProblem]]] = field(default_factory=dict)

    def photos(self) -> list[Path]:
        """Every photo the file names, good rows and bad, in file order (a bad row without a usable path as
        ``FILE row N``)."""
        named = {**{k: v[0] for k, v in self.rows.items()}, **{k: v[0] for k, v in self.problems.items()}}
        return list(named.values())

    def problem(self, photo: Path) -> str:
        """Why ``photo``'s row is bad, with file, row, field and value ("" for a good row or none)."""
        found = self.problems.get(_key(photo))
        return "" if found is None else f"{self.path} " + "; ".join(str(p) for p in found[1])

    def claim(self, photo: Path, exif: PhotoExif | None) -> Claim:
        """``photo``'s row as its claim (EXIF fills what the row leaves empty); its EXIF claim without a row."""
        row = self.rows.get(_key(photo))
        if row is None:
            return make_claim(exif)
        _, lat, lon, when = row
        return make_claim(exif, lat, lon, when, given=f"{self.path.name} row")


def read_claims(path: str | Path, images_root: str | Path | None = None) -> ClaimsFile:
    """Read a claims CSV (records schema; module docstring): each photo's claimed place and local time, keyed by its
    file (``images_root / path``, default the CSV's folder). A bad header is a
    :class:`~gtloc.data.schema.RecordsValidationError`; a bad row is kept in ``problems`` (file, row, field, value)
    so that one bad row loses only its own photo."""
    path = Path(path)
    root = Path(images_root) if images_root is not None else path.parent
    check = check_records(path)
    records = check.records
    years = records.extras.get("year", [""] * len(records))
    claims = ClaimsFile(path)
    for i, rel in enumerate(records.paths):
        lat, lon = (float(v) for v in records.latlon[i])
        place = (lat, lon) if math.isfinite(lat) else (None, None)
        times = records.times[i]
        when = None
        if math.isfinite(times[0]):
            year = int(float(years[i])) if years[i] else None
            month, day, hour, minute = (int(v) for v in times[:4])
            local = datetime(year or NO_YEAR, month, day, hour, minute) + timedelta(seconds=float(times[4]))
            when = ClaimedTime(local, year is not None)
        claims.rows[_key(root / rel)] = (root / rel, *place, when)
    for problem in check.problems:
        usable = problem.path and not (problem.field == "path" and not problem.path.strip())
        photo = root / problem.path if usable else Path(f"{path} row {problem.row}")
        key = _key(photo) if usable else str(photo)
        if problem.field == "path" and problem.problem.startswith("duplicate"):
            key, photo = f"{path} row {problem.row}", Path(f"{path} row {problem.row}")
        claims.problems.setdefault(key, (photo, []))[1].append(problem)
    return claims


def claim_from_exif(
    path: str | Path,
    lat: float | None = None,
    lon: float | None = None,
    time: datetime | ClaimedTime | None = None,
) -> Claim:
    """The claim for the photo file at ``path`` (:func:`make_claim` with its EXIF, read without decoding the
    pixels); raises :class:`~gtloc.data.exif.PhotoReadError` for a file that is not an image."""
    if lat is not None and lon is not None and time is not None:
        return make_claim(None, lat, lon, time)
    return make_claim(read_photo_exif(path, check_pixels=False), lat, lon, time)
