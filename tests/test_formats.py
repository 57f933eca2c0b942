"""HEIC/HEIF reads like JPEG everywhere (EXIF GPS and time, pixels, ingest, features); RAW files and HEIC bombs are
refused with a reason that says what to do."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from gtloc.backbones.extract import extract_features
from gtloc.data.exif import PhotoReadError, read_photo_exif
from gtloc.data.formats import IMAGE_SUFFIXES, RAW_SUFFIXES, raw_advice, register_formats
from gtloc.data.images import ImageDecodeError, ImageTooLargeError, load_image
from gtloc.data.ingest import ingest_photos
from helpers.toydata import ToyBackbone
from test_exif import gps_tags

BASE = ExifTags.Base
GPS = ExifTags.GPS


def write_pair(folder: Path, name: str, when: str = "2021:06:01 14:30:05") -> tuple[Path, Path]:
    """The same picture with the same EXIF (GPS position, GPS time, camera time) as ``name.jpg`` and ``name.heic``."""
    register_formats()
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update(gps_tags())
    gps[GPS.GPSDateStamp] = "2021:06:01"
    gps[GPS.GPSTimeStamp] = (12.0, 30.0, 4.0)
    exif.get_ifd(ExifTags.IFD.Exif)[BASE.DateTimeOriginal] = when
    y, x = np.mgrid[0:120, 0:160]
    pixels = np.stack([x * 255 // 160, y * 255 // 120, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    jpeg, heic = folder / f"{name}.jpg", folder / f"{name}.heic"
    Image.fromarray(pixels).save(jpeg, exif=exif, quality=95)
    Image.fromarray(pixels).save(heic, exif=exif.tobytes(), quality=90)
    return jpeg, heic


def test_heic_exif_matches_its_jpeg_copy(tmp_path):
    jpeg, heic = write_pair(tmp_path, "a")
    a, b = read_photo_exif(jpeg), read_photo_exif(heic)
    assert (b.lat, b.lon, b.local_time, b.gps_date, b.gps_clock) == (
        a.lat,
        a.lon,
        a.local_time,
        a.gps_date,
        a.gps_clock,
    )
    assert b.has_gps and b.has_time and str(b.gps_clock) == "12:30:04"


def test_heic_pixels_match_its_jpeg_copy(tmp_path):
    jpeg, heic = write_pair(tmp_path, "a")
    a, b = np.asarray(load_image(jpeg), dtype=float), np.asarray(load_image(heic), dtype=float)
    assert a.shape == b.shape == (120, 160, 3)
    assert np.abs(a - b).mean() < 4.0  # two lossy codecs of one smooth picture


def test_ingest_reads_heic_like_jpeg(tmp_path):
    write_pair(tmp_path / "photos", "a")
    (tmp_path / "photos" / "a.jpg").rename(tmp_path / "photos" / "b.JPG")
    (tmp_path / "photos" / "a.heic").rename(tmp_path / "photos" / "c.HEIC")
    result = ingest_photos(tmp_path / "photos")
    assert result.records.paths == ["b.JPG", "c.HEIC"] and not result.skipped and not result.ignored
    records = result.records
    assert np.array_equal(records.latlon[0], records.latlon[1]) and np.array_equal(records.times[0], records.times[1])
    for column in ("unix_ts", "year", "gps_utc", "clock_offset_s", "clock", "clock_note"):
        assert records.extras[column][0] == records.extras[column][1], column
    assert records.extras["gps_utc"][0] == "2021-06-01T12:30:04Z" and records.extras["clock"][0] == "ok"


def test_features_of_heic_match_its_jpeg_copy(tmp_path):
    write_pair(tmp_path / "photos", "a")
    store = extract_features(
        ["a.jpg", "a.heic"], tmp_path / "photos", ToyBackbone(), tmp_path / "feats", progress=False
    )
    assert not store.failed
    features = store.load(["a.jpg", "a.heic"])
    assert float((features[0] - features[1]).abs().max()) < 0.05


def heic_declaring(path: Path, width: int, height: int) -> Path:
    """A small HEIC whose ``ispe`` box declares ``width x height`` pixels (what a decompression bomb does)."""
    register_formats()
    Image.new("RGB", (96, 64), (120, 130, 140)).save(path, quality=50)
    data = bytearray(path.read_bytes())
    at = data.find(b"ispe")
    assert at > 0 and data.count(b"ispe") == 1
    data[at + 8 : at + 16] = struct.pack(">II", width, height)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("width", "height", "why"), [(30000, 30000, "too large"), (8000, 6000, "8000 x 6000 pixels")])
def test_heic_bomb_is_refused_before_decoding(tmp_path, width, height, why):
    bomb = heic_declaring(tmp_path / "bomb.heic", width, height)
    with pytest.raises(ImageTooLargeError, match=why):
        load_image(bomb)
    with pytest.raises(PhotoReadError, match=why) as info:
        read_photo_exif(bomb)
    assert info.value.reason == "unreadable"
    result = ingest_photos(tmp_path)
    assert [(s.path, s.reason) for s in result.skipped] == [("bomb.heic", "unreadable")]


def test_raw_files_are_refused_by_every_reader_with_advice(tmp_path):
    # A .dng is a TIFF: Pillow would open its small embedded preview as if it were the photo.
    Image.new("RGB", (32, 24)).save(tmp_path / "IMG_1.dng", format="TIFF")
    (tmp_path / "IMG_2.CR3").write_bytes(b"\x00\x00\x00\x18ftypcrx " + bytes(64))
    for name in ("IMG_1.dng", "IMG_2.CR3"):
        with pytest.raises(ImageDecodeError, match="camera RAW file") as info:
            load_image(tmp_path / name)
        assert "exiftool -b -PreviewImage" in info.value.reason
        with pytest.raises(PhotoReadError, match="export a JPEG"):
            read_photo_exif(tmp_path / name)
    result = ingest_photos(tmp_path, keep_partial=True)
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("IMG_1.dng", "not an image"),
        ("IMG_2.CR3", "not an image"),
    ]
    assert result.skipped[0].detail == raw_advice("IMG_1.dng") and not result.ignored


def test_suffix_rules_are_disjoint_and_cover_heic_and_common_raws():
    assert not IMAGE_SUFFIXES & RAW_SUFFIXES
    assert {".heic", ".heif", ".jpg", ".png"} <= IMAGE_SUFFIXES
    assert {".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2", ".pef", ".srw"} <= RAW_SUFFIXES
