"""Write the EXIF a camera writes (place, time, GPS time, camera identity) into a new JPEG, with Pillow.

The one EXIF *writer* in gtloc: synthetic photo libraries (:mod:`gtloc.library.synthetic`) and tests use it to
make photos that look, to any EXIF reader (Pillow, exiftool), like a camera's. Reading is
:mod:`gtloc.data.exif`.

Tags written (each only when its value is given):

* IFD0: ``Make`` (271), ``Model`` (272).
* Exif IFD: ``DateTimeOriginal`` (36867, the camera's clock), ``OffsetTimeOriginal`` (36881, ``+HH:MM``),
  ``BodySerialNumber`` (42033).
* GPS IFD: ``GPSVersionID`` 2.3, ``GPSLatitudeRef``/``GPSLatitude``, ``GPSLongitudeRef``/``GPSLongitude``
  (degrees, minutes, seconds as rationals), ``GPSTimeStamp`` (7, UTC hours, minutes, seconds) and
  ``GPSDateStamp`` (29, ``YYYY:MM:DD``): the receiver's own UTC time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

from gtloc.geo import validate_coordinate
from gtloc.io import atomic_path

JPEG_QUALITY = 90
GPS_VERSION = (2, 3, 0, 0)


@dataclass(frozen=True)
class CameraExif:
    """What a camera writes about one photo. Any field left ``None`` (or empty) is not written.

    ``lat``/``lon``: degrees, north/east positive. ``local_time``: the camera's clock (naive), written as
    ``DateTimeOriginal``; ``utc_offset``: written as ``OffsetTimeOriginal``. ``gps_utc``: the GPS receiver's UTC
    time (an aware datetime, or naive UTC), written as ``GPSDateStamp`` + ``GPSTimeStamp``.
    """

    lat: float | None = None
    lon: float | None = None
    local_time: datetime | None = None
    utc_offset: timedelta | None = None
    gps_utc: datetime | None = None
    make: str = ""
    model: str = ""
    serial: str = ""


def _dms(value: float) -> tuple[float, float, float]:
    """``|value|`` degrees as (degrees, minutes, seconds), seconds to 1/10,000 (about 3 mm)."""
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return float(degrees), float(minutes), seconds


def _offset_text(offset: timedelta) -> str:
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def camera_exif(info: CameraExif) -> Image.Exif:
    """The Pillow EXIF block holding ``info`` (see the module docstring for the tags)."""
    exif = Image.Exif()
    base = ExifTags.Base
    if info.make:
        exif[base.Make] = info.make
    if info.model:
        exif[base.Model] = info.model
    sub: dict[int, object] = {}
    if info.local_time is not None:
        sub[base.DateTimeOriginal] = info.local_time.strftime("%Y:%m:%d %H:%M:%S")
    if info.utc_offset is not None:
        sub[base.OffsetTimeOriginal] = _offset_text(info.utc_offset)
    if info.serial:
        sub[base.BodySerialNumber] = info.serial
    if sub:
        exif[ExifTags.IFD.Exif] = sub
    gps: dict[int, object] = {}
    if info.lat is not None and info.lon is not None:
        validate_coordinate(info.lat, info.lon)
        tags = ExifTags.GPS
        gps[tags.GPSVersionID] = bytes(GPS_VERSION)
        gps[tags.GPSLatitudeRef] = "N" if info.lat >= 0 else "S"
        gps[tags.GPSLatitude] = _dms(info.lat)
        gps[tags.GPSLongitudeRef] = "E" if info.lon >= 0 else "W"
        gps[tags.GPSLongitude] = _dms(info.lon)
    if info.gps_utc is not None:
        utc = info.gps_utc.astimezone(timezone.utc) if info.gps_utc.tzinfo else info.gps_utc
        gps[ExifTags.GPS.GPSTimeStamp] = (float(utc.hour), float(utc.minute), float(utc.second))
        gps[ExifTags.GPS.GPSDateStamp] = utc.strftime("%Y:%m:%d")
    if gps:
        exif[ExifTags.IFD.GPSInfo] = gps
    return exif


def write_jpeg(
    path: str | os.PathLike[str], pixels: np.ndarray | Image.Image, info: CameraExif, quality: int = JPEG_QUALITY
) -> Path:
    """Write ``pixels`` (``(H, W, 3)`` uint8 RGB, or a PIL image) as a JPEG carrying ``info``'s EXIF, atomically;
    returns the path."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    with atomic_path(path) as tmp:
        image.convert("RGB").save(tmp, format="JPEG", quality=quality, exif=camera_exif(info))
    return Path(path)
