"""HEIC/HEIF reads like JPEG everywhere (EXIF GPS and time, pixels, ingest, features); RAW files and HEIC bombs are
refused with a reason that says what to do."""

from __future__ import annotations

import csv
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
from helpers.cli import run_cli
from helpers.toydata import ToyBackbone, register_backbone
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


def test_heic_goes_through_predict_and_verify_with_the_gps_and_time_of_its_jpeg_copy(
    tmp_path, monkeypatch, capsys, toy_world
):
    """``gtloc predict`` and ``gtloc verify`` (without and with a model) on a JPEG and its HEIC copy (same EXIF): the
    same EXIF place and camera time, GPS time and clock reading in the output."""
    jpeg, heic = write_pair(tmp_path / "photos", "a")
    register_backbone(monkeypatch, ToyBackbone())
    run = toy_world["run"]
    code, _, err = run_cli(monkeypatch, capsys, "predict", jpeg, heic, "--checkpoint", run, "--out", tmp_path / "p.csv")
    assert code == 0, err
    a, b = csv_rows(tmp_path / "p.csv")
    exif_columns = ("time_given_place", "exif_lat", "exif_lon", "exif_time")
    assert [a[c] for c in exif_columns] == [b[c] for c in exif_columns]
    assert (a["time_given_place"], a["exif_time"]) == ("exif", "2021-06-01 14:30:05")
    assert (float(a["exif_lat"]), float(a["exif_lon"])) == pytest.approx((47.5, 8.26), abs=1e-6)
    for model in ((), ("--checkpoint", run)):
        out = tmp_path / f"v{len(model)}.csv"
        code, _, err = run_cli(monkeypatch, capsys, "verify", jpeg, heic, *model, "--out", out)
        assert code == 0, err
        a, b = csv_rows(out)
        claim = ("lat", "lon", "time", "utc", "claim_source", "gps_utc", "clock_offset_s", "clock", "clock_note")
        assert [a[c] for c in claim] == [b[c] for c in claim]
        assert (a["time"], a["gps_utc"], a["clock"]) == ("2021-06-01 14:30:05", "2021-06-01T12:30:04Z", "consistent")
        assert (float(a["lat"]), float(a["lon"])) == pytest.approx((47.5, 8.26), abs=1e-6)
        if model:
            assert "not run" not in (a["model"], b["model"])
        else:
            assert a["model"] == b["model"] == "not run"


def test_heic_goes_through_retrieve_and_the_web_upload_like_its_jpeg_copy(tmp_path, monkeypatch, capsys, toy_world):
    """``gtloc retrieve --image`` takes a HEIC photo, and the web page reads a HEIC upload's EXIF claim and checks it
    exactly as its JPEG copy's."""
    from fastapi.testclient import TestClient

    from gtloc.web.app import create_app
    from helpers.world import tiny_predictor

    jpeg, heic = write_pair(tmp_path / "photos", "a")
    register_backbone(monkeypatch, ToyBackbone())
    listed = []
    for photo in (jpeg, heic):
        args = (
            "retrieve",
            "--gallery",
            toy_world["gallery_dir"],
            "--image",
            photo,
            "--month",
            "7",
            "--hour",
            "12",
            "--top-k",
            "3",
        )
        code, text, err = run_cli(monkeypatch, capsys, *args)
        assert code == 0 and "pictures of the place of the photo at July | 12:00" in text, err
        listed.append([line for line in text.splitlines() if line.strip().startswith(("1 ", "2 ", "3 "))])
    assert len(listed[0]) == len(listed[1]) == 3

    client = TestClient(create_app(tiny_predictor(toy_world["model"], toy_world["gallery"]), toy_world["gallery"]))
    answers = []
    for photo, kind in ((jpeg, "image/jpeg"), (heic, "image/heic")):
        reply = client.post("/api/analyze", files={"photo": (photo.name, photo.read_bytes(), kind)})
        assert reply.status_code == 200, reply.text
        answers.append(reply.json()["verification"])
    a, b = answers
    assert a["claim"] == b["claim"] and a["claim"]["time"] == "2021-06-01 14:30:05"
    assert [(c["name"], c["verdict"]) for c in a["checks"]] == [(c["name"], c["verdict"]) for c in b["checks"]]
    assert a["checks"][0] == b["checks"][0] and a["checks"][0]["verdict"] == "consistent"  # the clock check


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_suffix_rules_are_disjoint_and_cover_heic_and_common_raws():
    assert not IMAGE_SUFFIXES & RAW_SUFFIXES
    assert {".heic", ".heif", ".jpg", ".png"} <= IMAGE_SUFFIXES
    assert {".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2", ".pef", ".srw"} <= RAW_SUFFIXES
