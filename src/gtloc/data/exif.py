"""Read a photo's GPS position and capture time from its EXIF with Pillow.

* GPS: ``GPSLatitude``/``GPSLongitude`` (degrees, minutes, seconds as rationals) signed by
  ``GPSLatitudeRef`` (N/S) and ``GPSLongitudeRef`` (E/W). A missing ref means an unknown hemisphere, so the
  position is refused rather than guessed; ``0, 0`` is refused as a receiver with no fix.
* Time: ``DateTimeOriginal`` (the camera's clock when the shutter fired), else ``DateTimeDigitized``; the
  matching ``OffsetTimeOriginal``/``OffsetTimeDigitized`` gives the UTC offset when present. ``DateTime``
  (IFD0) is never used: it is the time the file was last changed, often days after capture.
  Sub-second tags are ignored (whole seconds).
* GPS time: ``GPSDateStamp`` (``YYYY:MM:DD``) and ``GPSTimeStamp`` (three rationals, UTC): the GPS receiver's own
  clock, read as :attr:`PhotoExif.gps_date` and :attr:`PhotoExif.gps_clock`; :mod:`gtloc.data.clock` compares them
  with the camera's clock. Malformed stamps found in the wild are tolerated: a date with its day of the year in
  place of the day (``2014:09:259`` is 16 September 2014), ``-`` or ``/`` separators, one-digit fields; anything
  else (an hour of 25, a month of 13, a year before GPS existed) leaves the field empty with a reason.
* The light: ``ExposureTime``, ``FNumber``, ``ISOSpeedRatings`` (else ``RecommendedExposureIndex``),
  ``ExposureBiasValue``, ``Flash`` (bit 0: fired), ``SubjectDistance`` and ``SubjectDistanceRange`` (1 = macro), read
  as :class:`CameraSettings`; an impossible value (an exposure of 0 s, ISO 0, a negative f-number) leaves it out
  and says why in ``CameraSettings.problem``.

Broken EXIF (zero denominators, garbage strings, impossible dates) never raises: the result says why the
position or time is missing. Only a file that is not an image, or cannot be decoded, raises
:class:`PhotoReadError`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from gtloc.data.formats import MAX_PIXELS, is_raw, raw_advice, register_formats, unreadable_advice
from gtloc.errors import GtlocError
from gtloc.geo import InvalidCoordinateError, validate_coordinate

_TIME_TAGS = (
    ("DateTimeOriginal", ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal),
    ("DateTimeDigitized", ExifTags.Base.DateTimeDigitized, ExifTags.Base.OffsetTimeDigitized),
)
_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")
_GPS_DATE = re.compile(r"(\d{4})[:/.-](\d{1,2})[:/.-](\d{1,3})")
DRAFT_SIZE = (64, 64)
GPS_FIRST_YEAR = 1980
"""GPS time began on 1980-01-06: an earlier GPS date is a broken stamp."""

register_formats()


@dataclass(frozen=True)
class CameraSettings:
    """What the camera's exposure tags say, each ``None`` where absent or impossible (``problem`` says which).

    ``exposure_time``: seconds; ``f_number``: the aperture's f-number N; ``iso``: ISO speed; ``exposure_bias``:
    EV the photographer added to the meter's choice; ``flash_fired``: ``None`` when unknown;
    ``subject_distance``: metres (``inf`` for a subject at infinity); ``macro``: SubjectDistanceRange says macro.
    """

    exposure_time: float | None = None
    f_number: float | None = None
    iso: float | None = None
    exposure_bias: float | None = None
    flash_fired: bool | None = None
    subject_distance: float | None = None
    macro: bool = False
    problem: str = ""


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
    ``gps_date``/``gps_clock``: the GPS receiver's UTC date and time of day (``GPSDateStamp``/``GPSTimeStamp``;
    many receivers write the time without the date), ``None`` when absent, with ``gps_time_problem`` saying why
    when a stamp is present but unusable. ``camera``: the exposure tags (:class:`CameraSettings`).
    """

    lat: float | None = None
    lon: float | None = None
    local_time: datetime | None = None
    utc_offset: timedelta | None = None
    time_tag: str = ""
    gps_problem: str = ""
    time_problem: str = ""
    offset_problem: str = ""
    gps_date: date | None = None
    gps_clock: time | None = None
    gps_time_problem: str = ""
    camera: CameraSettings = CameraSettings()

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

    ``check_pixels``: also decode the image at reduced size (JPEG draft mode, a HEIC's thumbnail: cheap) so that a
    truncated file raises :class:`PhotoReadError` here rather than later in training; an image that would decode
    to more than ``MAX_PIXELS`` (a HEIC declaring a huge size) is refused as ``"unreadable"`` before decoding.
    A camera RAW file is refused as ``"not an image"`` with what to do instead.
    """
    if is_raw(path):
        raise PhotoReadError(path, "not an image", raw_advice(path))
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            if check_pixels:
                image.draft("RGB", DRAFT_SIZE)
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise PhotoReadError(
                        path, "unreadable", f"{width} x {height} pixels is more than the {MAX_PIXELS:,} decoded"
                    )
                image.load()
    except PhotoReadError:
        raise
    except UnidentifiedImageError:
        raise PhotoReadError(path, "not an image", unreadable_advice(path)) from None
    except Image.DecompressionBombError as exc:
        raise PhotoReadError(path, "unreadable", f"too large to decode safely ({exc})") from None
    except FileNotFoundError:
        raise PhotoReadError(path, "unreadable", "file not found") from None
    except Exception as exc:
        raise PhotoReadError(path, "unreadable", f"{type(exc).__name__}: {exc}") from None
    return _parse_exif(exif)


def image_exif(image: Image.Image) -> PhotoExif:
    """What the EXIF of an opened image says (as :func:`read_photo_exif` for a file; never raises)."""
    return _parse_exif(image.getexif())


def photo_exif(photo: str | Path | Image.Image) -> PhotoExif | None:
    """What a photo file's or an opened image's EXIF says; ``None`` for a file that cannot be read as an image (the
    caller that decodes it reports why). Reads the tags only, never the pixels: cheap beside a prediction."""
    if isinstance(photo, Image.Image):
        return image_exif(photo)
    try:
        return read_photo_exif(photo, check_pixels=False)
    except PhotoReadError:
        return None


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
    gps_date, gps_clock, gps_time_problem = _gps_stamp(gps)
    return PhotoExif(
        lat,
        lon,
        local_time,
        offset,
        time_tag,
        gps_problem,
        time_problem,
        offset_problem,
        gps_date,
        gps_clock,
        gps_time_problem or gps_error,
        _camera_settings(tag_values),
    )


def _gps_stamp(gps: dict[int, Any]) -> tuple[date | None, time | None, str]:
    """``(UTC date, UTC time of day, problem)`` from ``GPSDateStamp``/``GPSTimeStamp``; each ``None`` when unusable."""
    problems = []
    stamp_date = stamp_clock = None
    if ExifTags.GPS.GPSDateStamp in gps:
        try:
            stamp_date = _gps_date(_text(gps[ExifTags.GPS.GPSDateStamp]))
        except _Broken as exc:
            problems.append(str(exc))
    if ExifTags.GPS.GPSTimeStamp in gps:
        try:
            stamp_clock = _gps_clock(gps[ExifTags.GPS.GPSTimeStamp])
        except _Broken as exc:
            problems.append(str(exc))
    if stamp_clock is None:  # a date alone says too little to check a clock
        stamp_date = None
    return stamp_date, stamp_clock, "; ".join(problems)


def _gps_date(text: str) -> date | None:
    """The UTC date of a ``GPSDateStamp``; ``None`` for a blank one. Accepts a day-of-year in place of the day."""
    if not text.strip(": 0"):
        return None
    match = _GPS_DATE.fullmatch(text.strip())
    if not match:
        raise _Broken(f"GPSDateStamp {text!r} is not 'YYYY:MM:DD'")
    year, month, day = (int(g) for g in match.groups())
    if year < GPS_FIRST_YEAR or year > 9999:
        raise _Broken(f"GPSDateStamp {text!r}: the year is before GPS time began ({GPS_FIRST_YEAR})")
    try:
        if day > 31:  # the day of the year, written by some receivers where the day belongs (2014:09:259)
            when = date(year, 1, 1) + timedelta(days=day - 1)
            if when.year != year or when.month != month:
                raise ValueError(f"day {day} of {year} is not in month {month}")
            return when
        return date(year, month, day)
    except ValueError as exc:
        raise _Broken(f"GPSDateStamp {text!r} is not a valid date ({exc})") from None


def _gps_clock(value: Any) -> time:
    """The UTC time of day of a ``GPSTimeStamp`` (hours, minutes, seconds as rationals)."""
    parts = value if isinstance(value, (tuple, list)) else (value,)
    if len(parts) != 3 or isinstance(value, (str, bytes)):
        raise _Broken(f"GPSTimeStamp {value!r} is not hours, minutes, seconds")
    hours, minutes, seconds = (_number(p, "GPSTimeStamp") for p in parts)
    if not (0 <= hours < 24 and hours == int(hours) and 0 <= minutes < 60 and minutes == int(minutes)):
        raise _Broken(f"GPSTimeStamp {_clock_text(parts)} is out of range (hours 0-23, minutes 0-59)")
    if not 0 <= seconds < 61:
        raise _Broken(f"GPSTimeStamp {_clock_text(parts)} is out of range (seconds 0-60)")
    whole = min(int(seconds), 59)  # a leap second (60) is kept as 59.999999
    micro = 999_999 if seconds >= 60 else round((seconds - whole) * 1e6)
    return time(int(hours), int(minutes), whole, min(micro, 999_999))


def _clock_text(parts: Any) -> str:
    return ":".join(f"{float(p):g}" if getattr(p, "denominator", 1) else "?" for p in parts)


def _positive(tags: dict[int, Any], tag: int, name: str, problems: list[str]) -> float | None:
    """A strictly positive finite number from ``tags[tag]``, or ``None`` (a reason added when it is broken)."""
    if tag not in tags:
        return None
    value = tags[tag]
    if isinstance(value, (tuple, list)) and len(value) >= 1 and tag == ExifTags.Base.ISOSpeedRatings:
        value = value[0]
    try:
        number = _number(value, name)
    except _Broken as exc:
        problems.append(str(exc))
        return None
    if number <= 0:
        problems.append(f"{name} {number:g} is not a positive number")
        return None
    return number


def _camera_settings(tags: dict[int, Any]) -> CameraSettings:
    """The exposure tags as :class:`CameraSettings` (impossible values dropped with a reason)."""
    base = ExifTags.Base
    problems: list[str] = []
    exposure = _positive(tags, base.ExposureTime, "ExposureTime", problems)
    f_number = _positive(tags, base.FNumber, "FNumber", problems)
    iso = _positive(tags, base.ISOSpeedRatings, "ISOSpeedRatings", problems)
    if iso is None:
        iso = _positive(tags, base.RecommendedExposureIndex, "RecommendedExposureIndex", [])
    if exposure is not None and exposure > 3600:
        problems.append(f"ExposureTime {exposure:g} s is longer than an hour")
        exposure = None
    if f_number is not None and not 0.7 <= f_number <= 128:
        problems.append(f"FNumber {f_number:g} is not a lens aperture (f/0.7 to f/128)")
        f_number = None
    if iso is not None and not 1 <= iso <= 10_000_000:
        problems.append(f"ISOSpeedRatings {iso:g} is not an ISO speed")
        iso = None
    bias = None
    if base.ExposureBiasValue in tags:
        try:
            bias = _number(tags[base.ExposureBiasValue], "ExposureBiasValue")
        except _Broken as exc:
            problems.append(str(exc))
        if bias is not None and abs(bias) > 10:
            problems.append(f"ExposureBiasValue {bias:g} EV is out of range")
            bias = None
    flash = tags.get(base.Flash)
    flash_fired = bool(int(flash) & 1) if isinstance(flash, int) else None
    distance = None
    if base.SubjectDistance in tags:
        raw = tags[base.SubjectDistance]
        if getattr(raw, "denominator", 1) == 0 and getattr(raw, "numerator", 0) > 0:
            distance = math.inf  # 0xFFFFFFFF/1 or n/0: the subject is at infinity
        else:
            try:
                distance = _number(raw, "SubjectDistance")
            except _Broken:
                distance = None
            if distance is not None and distance <= 0:
                distance = None  # 0 means "unknown" in the EXIF standard
    macro = tags.get(base.SubjectDistanceRange) == 1
    return CameraSettings(exposure, f_number, iso, bias, flash_fired, distance, macro, "; ".join(problems))


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
