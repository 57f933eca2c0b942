"""EXIF reading on photos written in the test: hemispheres, offsets, and broken tags give reasons, not crashes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from gtloc.data.exif import PhotoReadError, read_photo_exif

GPS = ExifTags.GPS
BASE = ExifTags.Base


def gps_tags(lat_ref="N", lat=(47.0, 30.0, 0.0), lon_ref="E", lon=(8.0, 15.0, 36.0)) -> dict:
    return {GPS.GPSLatitudeRef: lat_ref, GPS.GPSLatitude: lat, GPS.GPSLongitudeRef: lon_ref, GPS.GPSLongitude: lon}


def make_photo(
    path: Path,
    gps: dict | None = None,
    when: str | None = "2021:06:01 14:30:05",
    offset: str | None = None,
    size: tuple[int, int] = (48, 32),
) -> Path:
    """Write a JPEG with the given GPS IFD, DateTimeOriginal and OffsetTimeOriginal (None: tag absent)."""
    exif = Image.Exif()
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if when is not None:
        sub[BASE.DateTimeOriginal] = when
    if offset is not None:
        sub[BASE.OffsetTimeOriginal] = offset
    pixels = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    return path


def retype_gps_latitude_as_text(path: Path) -> None:
    """Rewrite the GPSLatitude entry's type from RATIONAL x3 to ASCII x24: what a broken writer leaves."""
    data = path.read_bytes()
    big, little = b"\x00\x02\x00\x05\x00\x00\x00\x03", b"\x02\x00\x05\x00\x03\x00\x00\x00"
    if big in data:
        data = data.replace(big, b"\x00\x02\x00\x02\x00\x00\x00\x18", 1)
    else:
        assert little in data
        data = data.replace(little, b"\x02\x00\x02\x00\x18\x00\x00\x00", 1)
    path.write_bytes(data)


def test_north_east_with_offset(tmp_path):
    info = read_photo_exif(make_photo(tmp_path / "a.jpg", gps_tags(), offset="+02:00"))
    assert info.lat == pytest.approx(47.5) and info.lon == pytest.approx(8.26)
    assert info.local_time == datetime(2021, 6, 1, 14, 30, 5)
    assert info.utc_offset == timedelta(hours=2) and info.time_tag == "DateTimeOriginal"
    assert (info.gps_problem, info.time_problem, info.offset_problem) == ("", "", "")


def test_south_west_refs_and_negative_offset(tmp_path):
    gps = gps_tags("S", (33.0, 51.0, 36.0), "W", (70.0, 30.0, 0.0))
    info = read_photo_exif(make_photo(tmp_path / "a.jpg", gps, offset="-03:30"))
    assert info.lat == pytest.approx(-33.86) and info.lon == pytest.approx(-70.5)
    assert info.utc_offset == -timedelta(hours=3, minutes=30)


def test_lowercase_ref_and_decimal_degrees(tmp_path):
    info = read_photo_exif(make_photo(tmp_path / "a.jpg", gps_tags("s", (12.25,), "w", (100.5, 0.0))))
    assert (info.lat, info.lon) == (pytest.approx(-12.25), pytest.approx(-100.5))


def test_falls_back_to_datetime_digitized_but_never_datetime(tmp_path):
    path = make_photo(tmp_path / "a.jpg", gps_tags(), when=None)
    with Image.open(path) as image:
        exif = image.getexif()
        pixels = image.copy()
    exif[BASE.DateTime] = "2022:01:01 00:00:00"
    pixels.save(path, exif=exif)
    info = read_photo_exif(path)
    assert info.local_time is None
    assert info.time_problem == "no DateTimeOriginal or DateTimeDigitized in EXIF"
    exif.get_ifd(ExifTags.IFD.Exif)[BASE.DateTimeDigitized] = "2020:03:04 05:06:07"
    pixels.save(path, exif=exif)
    info = read_photo_exif(path)
    assert info.local_time == datetime(2020, 3, 4, 5, 6, 7) and info.time_tag == "DateTimeDigitized"


@pytest.mark.parametrize(
    ("gps", "problem"),
    [
        (None, "no GPS position in EXIF"),
        (
            {GPS.GPSLatitude: (1.0, 2.0, 3.0), GPS.GPSLongitude: (1.0, 2.0, 3.0)},
            "GPSLatitudeRef missing (hemisphere unknown)",
        ),
        (gps_tags(lat_ref="X"), "GPSLatitudeRef 'X' is not one of N/S (hemisphere unknown)"),
        (gps_tags(lon=(IFDRational(8, 0), 0.0, 0.0)), "GPSLongitude has a zero denominator"),
        (gps_tags(lat=(47.0, 75.0, 0.0)), "GPSLatitude (47.0, 75.0, 0.0) has minutes or seconds >= 60"),
        (gps_tags(lat=(95.0, 0.0, 0.0)), "GPS position out of range: invalid lat 95.0: must be within [-90, 90]"),
        (gps_tags(lat=(0.0, 0.0, 0.0), lon=(0.0, 0.0, 0.0)), "GPS position is 0, 0 (no fix)"),
    ],
)
def test_broken_gps_gives_a_reason(tmp_path, gps, problem):
    info = read_photo_exif(make_photo(tmp_path / "a.jpg", gps))
    assert (info.lat, info.lon, info.gps_problem) == (None, None, problem)
    assert info.local_time == datetime(2021, 6, 1, 14, 30, 5)


def test_garbage_string_in_a_rational_tag(tmp_path):
    path = make_photo(tmp_path / "a.jpg", gps_tags())
    retype_gps_latitude_as_text(path)
    info = read_photo_exif(path)
    assert info.lat is None and info.gps_problem.startswith("GPSLatitude '")
    assert info.gps_problem.endswith("' is not a degrees/minutes/seconds triple")


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        ("garbage", "DateTimeOriginal 'garbage' is not 'YYYY:MM:DD HH:MM:SS'"),
        ("    :  :     :  :  ", "DateTimeOriginal is blank"),
        ("0000:00:00 00:00:00", "DateTimeOriginal is blank"),
        (
            "2023:02:29 10:00:00",
            "DateTimeOriginal '2023:02:29 10:00:00' is not a valid date and time (day is out of range for month)",
        ),
        (
            "2021:06:01 24:00:00",
            "DateTimeOriginal '2021:06:01 24:00:00' is not a valid date and time (hour must be in 0..23)",
        ),
    ],
)
def test_broken_date_gives_a_reason(tmp_path, when, problem):
    info = read_photo_exif(make_photo(tmp_path / "a.jpg", gps_tags(), when=when))
    assert (info.local_time, info.time_problem) == (None, problem)
    assert info.has_gps


def test_broken_offset_is_ignored_with_a_reason(tmp_path):
    info = read_photo_exif(make_photo(tmp_path / "a.jpg", gps_tags(), offset="+25:00"))
    assert info.local_time is not None and info.utc_offset is None
    assert info.offset_problem == "OffsetTimeOriginal '+25:00' is not a UTC offset (at most ±14:00)"
    info = read_photo_exif(make_photo(tmp_path / "b.jpg", gps_tags(), offset="CET"))
    assert info.offset_problem == "OffsetTimeOriginal 'CET' is not '+HH:MM' or '-HH:MM'"


def test_not_an_image_and_truncated(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("just some notes")
    with pytest.raises(PhotoReadError) as info:
        read_photo_exif(text)
    assert (info.value.reason, str(info.value)) == (
        "not an image",
        f"{text}: not an image: Pillow cannot identify its format; gtloc reads JPEG, PNG, TIFF, WebP, AVIF and "
        "HEIC/HEIF: convert it to JPEG",
    )
    photo = make_photo(tmp_path / "cut.jpg", gps_tags(), size=(320, 240))
    photo.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    with pytest.raises(PhotoReadError) as info:
        read_photo_exif(photo)
    assert info.value.reason == "unreadable"
    assert info.value.detail.startswith("OSError: image file is truncated")
    assert read_photo_exif(photo, check_pixels=False).has_gps
