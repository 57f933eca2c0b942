"""Synthetic libraries and the EXIF writer: what the files say is what the plan says, to Pillow and to exiftool."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from gtloc.data.exif import read_photo_exif
from gtloc.data.exif_write import CameraExif, camera_exif, write_jpeg
from gtloc.library.scan import camera_identity
from gtloc.library.synthetic import CAMERAS, SyntheticSettings, make_synthetic_library
from helpers.cli import run_cli
from helpers.library import scene_pixels


def test_written_exif_reads_back(tmp_path):
    when = datetime(2020, 2, 29, 23, 59, 58)
    info = CameraExif(-33.8688, 151.2093, when, timedelta(hours=11), datetime(2020, 2, 29, 12, 59, 58,
                      tzinfo=timezone.utc), "Canon", "EOS R5", "0123")  # fmt: skip
    path = write_jpeg(tmp_path / "a.jpg", scene_pixels(1), info)
    exif = read_photo_exif(path)
    assert exif.lat == pytest.approx(-33.8688, abs=1e-6) and exif.lon == pytest.approx(151.2093, abs=1e-6)
    assert exif.local_time == when and exif.utc_offset == timedelta(hours=11)
    assert camera_identity(path) == ("Canon", "EOS R5", "0123")
    assert len(camera_exif(CameraExif())) == 0  # nothing given, nothing written
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool not installed (apt-get install libimage-exiftool-perl, as the README's test command)")
    tags = json.loads(subprocess.run(["exiftool", "-json", str(path)], capture_output=True, check=True).stdout)[0]
    assert tags["GPSDateStamp"] == "2020:02:29" and tags["GPSTimeStamp"] == "12:59:58"
    assert tags["OffsetTimeOriginal"] == "+11:00" and tags["SerialNumber"] == "0123"


def test_a_synthetic_library_holds_what_its_truth_says(tmp_path, monkeypatch, capsys):
    status, stdout, _ = run_cli(monkeypatch, capsys, "library", "synthetic", tmp_path / "lib", "--photos", "60",
                                "--seed", "3", "--size", "64")  # fmt: skip
    assert status == 0 and "SYNTHETIC" in stdout
    with open(tmp_path / "lib" / "truth.csv", newline="") as handle:
        truth = list(csv.DictReader(handle))
    assert len(truth) == 60 and {r["camera"] for r in truth} <= set(CAMERAS)
    kinds = {r["kind"] for r in truth}
    assert {"garden", "trip0"} <= kinds
    for row in truth:
        exif = read_photo_exif(tmp_path / "lib" / row["path"])
        assert exif.local_time == datetime.fromisoformat(row["exif_time"])
        local = datetime.fromisoformat(row["local_time"])
        assert (exif.local_time - local).total_seconds() == float(row["clock_error_s"])
        if row["exif_gps"] == "yes":
            assert (exif.lat, exif.lon) == pytest.approx((float(row["lat"]), float(row["lon"])), abs=1e-5)
        else:
            assert exif.lat is None
        spec = CAMERAS[row["camera"]]
        assert (exif.utc_offset is not None) == spec.offset_tag
        assert row["exif_gps"] == "no" or spec.gps
        assert float(row["clock_error_s"]) == 0 or spec.home_clock
    again = make_synthetic_library(tmp_path / "again", SyntheticSettings(photos=60, seed=3, size=64))
    assert again.read_text() == (tmp_path / "lib" / "truth.csv").read_text()
