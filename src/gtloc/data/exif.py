"""Read a photo's GPS position and capture time from its EXIF with Pillow.

* GPS: ``GPSLatitude``/``GPSLongitude`` (degrees, minutes, seconds as rationals) signed by
  ``GPSLatitudeRef`` (N/S) and ``GPSLongitudeRef`` (E/W). A missing ref means an unknown hemisphere, so the
  position is refused rather than guessed; ``0, 0`` is refused as a receiver with no fix.
* Time: ``DateTimeOriginal`` (the camera's clock when the shutter fired), else ``DateTimeDigitized``; the
  matching ``OffsetTimeOriginal``/``OffsetTimeDigitized`` gives the UTC offset when present. ``DateTime``
  (IFD0) is never used: it is the time the file was last changed, often days after capture.
  Sub-second tags are ignored (whole seconds).

Broken EXIF (zero denominators, garbage strings, impossible dates) never raises: the result says why the
position or time is missing. Only a file that is not an image, or cannot be decoded, raises
:class:`PhotoReadError`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from gtloc.errors import GtlocError
from gtloc.geo import InvalidCoordinateError, validate_coordinate

_TIME_TAGS = (
    ("DateTimeOriginal", ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal),
    ("DateTimeDigitized", ExifTags.Base.DateTimeDigitized, ExifTags.Base.OffsetTimeDigitized),
)
_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")
DRAFT_SIZE = (64, 64)


class PhotoReadError(GtlocError):
    """The file is not an image (``reason == "not an image"``) or cannot be decoded (``"unreadable"``)."""

    def __init__(self, path: str | Path, reason: str, detail: str) -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason}: {detail}")


@dataclass(frozen=True)
class PhotoExif:
    """What a photo's EXIF says about where and when.

    ``lat``/``lon``: degrees (north/east positive), ``None`` when unknown, with ``gps_problem`` saying why.
    ``local_time``: naive camera clock time, ``None`` when unknown, with ``time_problem`` saying why;
    ``time_tag`` names the tag it came from. ``utc_offset``: local minus UTC from the ``OffsetTime*`` tag,
    ``None`` when absent (or broken: then ``offset_problem`` says why).
    """

    lat: float | None = None
    lon: float | None = None
    local_time: datetime | None = None
    utc_offset: timedelta | None = None
    time_tag: str = ""
    gps_problem: str = ""
    time_problem: str = ""
    offset_problem: str = ""

    @property
    def has_gps(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def has_time(self) -> bool:
        return self.local_time is not None


class _Broken(ValueError):
    """A tag is present but unusable; the message is the reason shown to the user."""


def read_photo_exif(path: str | Path, *, check_pixels: bool = True) -> PhotoExif:
    """GPS and capture time of the photo at ``path``.

    ``check_pixels``: also decode the image at reduced size (JPEG draft mode, cheap) so that a truncated
    file raises :class:`PhotoReadError` here rather than later in training.
    """
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            if check_pixels:
                image.draft("RGB", DRAFT_SIZE)
                image.load()
    except UnidentifiedImageError:
        raise PhotoReadError(path, "not an image", "Pillow cannot identify the file as an image") from None
    except FileNotFoundError:
        raise PhotoReadError(path, "unreadable", "file not found") from None
    except Exception as exc:
        raise PhotoReadError(path, "unreadable", f"{type(exc).__name__}: {exc}") from None
    return _parse_exif(exif)


def _parse_exif(exif: Image.Exif) -> PhotoExif:
    try:
        gps = dict(exif.get_ifd(ExifTags.IFD.GPSInfo))
    except Exception as exc:
        gps, gps_error = {}, f"EXIF GPS block unreadable ({type(exc).__name__}: {exc})"
    else:
        gps_error = ""
    try:
        sub = dict(exif.get_ifd(ExifTags.IFD.Exif))
    except Exception:
        sub = {}
    lat = lon = None
    gps_problem = gps_error
    if not gps_problem:
        try:
            lat, lon = _gps_position(gps)
        except _Broken as exc:
            gps_problem = str(exc)
    tag_values = {**dict(exif), **sub}
    local_time, time_tag, time_problem, offset, offset_problem = _capture_time(tag_values)
    return PhotoExif(lat, lon, local_time, offset, time_tag, gps_problem, time_problem, offset_problem)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return str(value).strip("\x00 \t\r\n")


def _number(value: Any, what: str) -> float:
    if getattr(value, "denominator", 1) == 0:
        raise _Broken(f"{what} has a zero denominator")
    if isinstance(value, tuple) and len(value) == 2:
        if value[1] == 0:
            raise _Broken(f"{what} has a zero denominator")
        value = value[0] / value[1]
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        raise _Broken(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise _Broken(f"{what} {value!r} is not a finite number")
    return number


def _degrees(value: Any, name: str) -> float:
    """Degrees from an EXIF ``(degrees, minutes, seconds)`` triple (1 to 3 rationals)."""
    parts = value if isinstance(value, (tuple, list)) else (value,)
    if not 1 <= len(parts) <= 3 or isinstance(value, (str, bytes)):
        raise _Broken(f"{name} {value!r} is not a degrees/minutes/seconds triple")
    d, m, s = ([_number(p, name) for p in parts] + [0.0, 0.0])[:3]
    if min(d, m, s) < 0:
        raise _Broken(f"{name} {value!r} has a negative part (the hemisphere comes from the Ref tag)")
    if m >= 60 or s >= 60:
        raise _Broken(f"{name} {value!r} has minutes or seconds >= 60")
    return d + m / 60.0 + s / 3600.0


def _gps_position(gps: dict[int, Any]) -> tuple[float, float]:
    tags = ExifTags.GPS
    if tags.GPSLatitude not in gps or tags.GPSLongitude not in gps:
        raise _Broken("no GPS position in EXIF")
    signed = []
    for name, value_tag, ref_tag, refs in (
        ("GPSLatitude", tags.GPSLatitude, tags.GPSLatitudeRef, {"N": 1.0, "S": -1.0}),
        ("GPSLongitude", tags.GPSLongitude, tags.GPSLongitudeRef, {"E": 1.0, "W": -1.0}),
    ):
        ref = _text(gps.get(ref_tag, "")).upper()
        if ref not in refs:
            what = "missing" if not ref else f"{ref!r} is not one of {'/'.join(refs)}"
            raise _Broken(f"{name}Ref {what} (hemisphere unknown)")
        signed.append(refs[ref] * _degrees(gps[value_tag], name))
    lat, lon = signed
    try:
        validate_coordinate(lat, lon)
    except InvalidCoordinateError as exc:
        raise _Broken(f"GPS position out of range: {exc}") from None
    if lat == 0 and lon == 0:
        raise _Broken("GPS position is 0, 0 (no fix)")
    return lat, lon


def _capture_time(
    tags: dict[int, Any],
) -> tuple[datetime | None, str, str, timedelta | None, str]:
    """``(local_time, tag name, time problem, utc_offset, offset problem)`` from the first present time tag."""
    for name, time_tag, offset_tag in _TIME_TAGS:
        if time_tag not in tags:
            continue
        try:
            local = _parse_datetime(_text(tags[time_tag]), name)
        except _Broken as exc:
            return None, name, str(exc), None, ""
        offset, offset_problem = None, ""
        raw_offset = _text(tags.get(offset_tag, ""))
        if raw_offset.strip(": "):
            try:
                offset = _parse_offset(raw_offset, offset_tag.name)
            except _Broken as exc:
                offset_problem = str(exc)
        return local, name, "", offset, offset_problem
    return None, "", "no DateTimeOriginal or DateTimeDigitized in EXIF", None, ""


def _parse_datetime(text: str, name: str) -> datetime:
    if not text.strip(": 0"):
        raise _Broken(f"{name} is blank")
    match = _DATETIME.match(text)
    if not match:
        raise _Broken(f"{name} {text!r} is not 'YYYY:MM:DD HH:MM:SS'")
    try:
        return datetime(*(int(g) for g in match.groups()))
    except ValueError as exc:
        raise _Broken(f"{name} {text!r} is not a valid date and time ({exc})") from None


def _parse_offset(text: str, name: str) -> timedelta:
    match = _OFFSET.fullmatch(text)
    if not match:
        raise _Broken(f"{name} {text!r} is not '+HH:MM' or '-HH:MM'")
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes = int(match.group(2)), int(match.group(3))
    if hours > 14 or minutes > 59:
        raise _Broken(f"{name} {text!r} is not a UTC offset (at most ±14:00)")
    return sign * timedelta(hours=hours, minutes=minutes)
