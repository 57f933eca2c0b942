"""``gtloc verify``: each check on its own line for one photo; many photos in one call (folders, a claims CSV),
with or without a model, one row per photo in CSV or JSON; bad photos and bad claims rows named, never the batch
lost."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from gtloc.evidence.report import COLUMNS
from helpers.cli import run_cli
from helpers.toydata import ToyBackbone, register_backbone

FIXTURES = Path(__file__).parent / "fixtures" / "exif-photos"
SONY = FIXTURES / "Sony_DSC-HX5V_2.jpg"  # Germany, camera 2010-05-15 17:12:05 (UTC+2), GPS 15:12:07 UTC, EV 11.3
HTC = FIXTURES / "HTC_Desire.jpg"  # Milan, camera 2011-05-06 09:59:48, GPS 07:59:48 UTC
BASE = ExifTags.Base


def shifted_clock(source: Path, out: Path, hours: float, serial: str = "") -> Path:
    """A copy of ``source`` whose camera clock (DateTimeOriginal) reads ``hours`` later: a camera left on another
    time zone (``serial``: another camera of the same model). Pixels, GPS position and GPS time are untouched."""
    with Image.open(source) as image:
        exif = image.getexif()
        pixels = image.copy()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    camera = datetime.strptime(sub[BASE.DateTimeOriginal], "%Y:%m:%d %H:%M:%S") + timedelta(hours=hours)
    sub[BASE.DateTimeOriginal] = camera.strftime("%Y:%m:%d %H:%M:%S")
    if serial:
        sub[BASE.BodySerialNumber] = serial
    pixels.save(out, exif=exif, quality=90)
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_one_photo_without_a_model_prints_each_check_with_its_reason(monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    code, out, err = run_cli(monkeypatch, capsys, "verify", SONY)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "claimed place: 51.7786, 8.3656 (EXIF GPS)"
    assert lines[1].startswith("claimed time:  2010-05-15 17:12:05 local time = 2010-05-15 15:12:05 UTC")
    assert lines[2] == "clock  consistent    the camera's clock agrees with its GPS time"
    assert lines[3].startswith("sun    consistent    the sun is 35 deg above the horizon")
    assert lines[4].startswith("verdict: consistent (clock: ")
    assert "model" not in out


def test_a_camera_left_on_its_home_time_zone_is_caught_by_the_clock_and_the_sun(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    wrong = shifted_clock(SONY, tmp_path / "sony-home-zone.jpg", 10)  # 03:12 at night on the camera, in daylight
    code, out, err = run_cli(monkeypatch, capsys, "verify", wrong, "--json", tmp_path / "v.json")
    assert code == 0, err
    assert "clock  inconsistent  the camera's clock is wrong: camera set to UTC+12, 10 h ahead of local time" in out
    assert (
        "sun    inconsistent  the sun is 15 deg below the horizon (astronomical twilight), but the camera exposed"
        in out
    )
    assert "verdict: inconsistent" in out
    data = json.loads((tmp_path / "v.json").read_text())
    assert data["image"] == str(wrong) and data["verdict"] == "inconsistent" and data["model"] is None
    sun = next(c for c in data["checks"] if c["name"] == "sun")
    assert sun["figures"]["sun_elevation_deg"] < -6 and sun["figures"]["picture_light"] == "daylight"


@pytest.mark.parametrize("when", ["2010-05-15 17:12+02:00", "2010-05-15T15:12Z", "2010-05-15 17:12"])
def test_a_given_time_may_carry_an_offset(when, monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    code, out, err = run_cli(monkeypatch, capsys, "verify", SONY, "--lat", "51.7786", "--lon", "8.3656", "--time", when)
    assert code == 0, err
    assert "= 2010-05-15 15:12:00 UTC (given)" in out
    assert "clock  consistent    the claimed time agrees with the photo's GPS time (2010-05-15T15:12:07Z)" in out
    assert "verdict: consistent" in out


def test_one_photo_mistakes_are_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    bare = tmp_path / "bare.jpg"
    Image.new("RGB", (64, 48), (90, 140, 210)).save(bare)
    code, _, err = run_cli(monkeypatch, capsys, "verify", bare)
    assert code == 2 and "no claim to verify (EXIF GPS: no GPS position in EXIF" in err
    assert "pass --lat/--lon and/or --time" in err
    code, _, err = run_cli(monkeypatch, capsys, "verify", bare, "--lat", "10")
    assert (code, err.strip()) == (2, "error: give both --lat and --lon (or neither)")
    code, _, err = run_cli(monkeypatch, capsys, "verify", SONY, HTC, "--lat", "10", "--lon", "20")
    assert code == 2 and "--lat/--lon/--time claim one photo, not 2: for many, write a claims CSV (--claims)" in err
    code, _, err = run_cli(monkeypatch, capsys, "verify", bare, "--time", "yesterday")
    assert code == 2 and "cannot read the time 'yesterday'" in err
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    code, _, err = run_cli(monkeypatch, capsys, "verify", tmp_path / "junk.jpg")
    assert code == 2 and "not an image" in err
    code, _, err = run_cli(monkeypatch, capsys, "verify", tmp_path / "nothing.jpg")
    assert code == 2 and "no such file or folder" in err


def test_a_time_without_a_place_checks_what_it_can(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    bare = tmp_path / "bare.jpg"
    Image.new("RGB", (64, 48), (90, 140, 210)).save(bare)
    code, out, err = run_cli(monkeypatch, capsys, "verify", bare, "--time", "2023-07-01 12:00")
    assert code == 0, err
    assert "claimed time:  2023-07-01 12:00:00 local time (given)" in out
    assert "not claimed:   EXIF GPS: no GPS position in EXIF" in out
    assert "sun    cannot judge  no place is claimed, so the sun's position is unknown" in out
    assert "verdict: cannot judge" in out


def photo_folder(root: Path) -> Path:
    """The real fixture photos, a copy (from another camera of the same model) with its clock 10 h ahead, a broken
    file, and a RAW file."""
    folder = root / "photos"
    shutil.copytree(FIXTURES, folder, ignore=shutil.ignore_patterns("*.csv"))
    shifted_clock(SONY, folder / "sony-home-zone.jpg", 10, serial="B-2")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (folder / "raw.cr2").write_bytes(b"II*\x00")
    return folder


def test_a_folder_in_one_call_writes_one_row_per_photo_and_names_the_bad_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    folder = photo_folder(tmp_path)
    out = tmp_path / "verdicts.csv"
    code, stdout, err = run_cli(monkeypatch, capsys, "verify", folder, "--out", out)
    assert code == 0, err
    table = rows(out)
    assert list(table[0]) == list(COLUMNS)
    assert set(COLUMNS[:8]) == {"path", "verdict", "clock", "sun", "model", "sun_elevation_deg", "light", "reasons"}
    by_name = {Path(r["path"]).name: r for r in table}
    assert len(table) == 12 and set(by_name) == {p.name for p in folder.iterdir()}
    assert by_name["broken.jpg"]["verdict"] == "error" and "not an image" in by_name["broken.jpg"]["reasons"]
    assert by_name["raw.cr2"]["verdict"] == "error" and "camera RAW" in by_name["raw.cr2"]["reasons"]
    assert f"skipped {folder / 'broken.jpg'}: " in err and f"skipped {folder / 'raw.cr2'}: " in err
    sony, home = by_name["Sony_DSC-HX5V_2.jpg"], by_name["sony-home-zone.jpg"]
    assert (sony["verdict"], sony["clock"], sony["sun"], sony["model"]) == ("consistent",) * 3 + ("not run",)
    assert (home["verdict"], home["clock"], home["sun"]) == ("inconsistent",) * 3
    assert float(sony["sun_elevation_deg"]) == pytest.approx(34.85, abs=0.01) and sony["light"] == "day"
    assert "clock: the camera's clock agrees" in sony["reasons"] and " | sun: the sun is 35 deg" in sony["reasons"]
    assert home["clock_note"] == "camera set to UTC+12, 10 h ahead of local time"
    assert stdout.strip().endswith(f"12 photos: 7 consistent, 2 inconsistent, 1 cannot judge, 2 error -> {out}")

    code, _, err = run_cli(monkeypatch, capsys, "verify", folder, "--out", tmp_path / "verdicts.json")
    data = json.loads((tmp_path / "verdicts.json").read_text())
    assert code == 0 and [d["path"] for d in data] == [r["path"] for r in table]
    assert {d["verdict"] for d in data} == {r["verdict"] for r in table}
    assert [c["name"] for c in data[-1]["checks"]] == ["clock", "sun"] and data[0]["checks"] == []


def test_a_batch_in_which_no_photo_can_be_verified_exits_2_and_still_writes_its_rows(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"not an image")
    (folder / "raw.cr2").write_bytes(b"II*\x00")
    out = tmp_path / "verdicts.csv"
    code, _, err = run_cli(monkeypatch, capsys, "verify", folder, "--out", out)
    assert code == 2 and "none of the 2 photos could be verified" in err
    assert [r["verdict"] for r in rows(out)] == ["error", "error"]


def test_many_photos_of_one_camera_tell_a_stale_fix_from_a_wrong_clock(tmp_path, monkeypatch, capsys):
    """The Sony's own photo (clock right) beside a copy from the same camera whose clock reads 10 h later with the
    very same GPS stamp: alone, the copy looks like a camera set to UTC+12; beside its camera's right clock, it is a
    10-h-old fix. Two copies 10 h ahead with fixes of their own (a camera left on another zone) confirm each other."""
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    folder = tmp_path / "one-camera"
    folder.mkdir()
    shutil.copy(SONY, folder / "a.jpg")
    later = shifted_clock(SONY, folder / "b.jpg", 10)
    code, out, err = run_cli(monkeypatch, capsys, "verify", later)
    assert code == 0 and "clock  inconsistent  the camera's clock is wrong: camera set to UTC+12" in out, err
    code, _, err = run_cli(monkeypatch, capsys, "verify", folder, "--out", tmp_path / "one.csv")
    by_name = {Path(r["path"]).name: r for r in rows(tmp_path / "one.csv")}
    assert code == 0 and (by_name["a.jpg"]["clock"], by_name["b.jpg"]["clock"]) == ("consistent", "cannot judge")
    assert by_name["b.jpg"]["clock_note"].startswith("GPS fix 10 h older than the photo")
    assert "this camera's clock is right on 1 other photo within 7 days" in by_name["b.jpg"]["clock_note"]

    trip = tmp_path / "trip"
    trip.mkdir()
    for i, hours in enumerate((0, 2)):  # two photos 2 h apart, each with a fresh fix, camera 10 h ahead
        moved = shift_gps(SONY, tmp_path / f"moved-{i}.jpg", hours)
        shifted_clock(moved, trip / f"{i}.jpg", 10 + hours)
    code, _, err = run_cli(monkeypatch, capsys, "verify", trip, "--out", tmp_path / "trip.csv")
    table = rows(tmp_path / "trip.csv")
    assert code == 0 and [r["clock"] for r in table] == ["inconsistent"] * 2, err
    assert {r["clock_note"] for r in table} == {
        "camera set to UTC+12, 10 h ahead of local time (the same on 2 photos of this camera)"
    }


def shift_gps(source: Path, out: Path, hours: float) -> Path:
    """A copy of ``source`` whose GPS stamp reads ``hours`` later (another fix)."""
    with Image.open(source) as image:
        exif = image.getexif()
        pixels = image.copy()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    day = datetime.strptime(gps[ExifTags.GPS.GPSDateStamp], "%Y:%m:%d")
    h, m, s = (float(v) for v in gps[ExifTags.GPS.GPSTimeStamp])
    when = day + timedelta(hours=h + hours, minutes=m, seconds=s)
    gps[ExifTags.GPS.GPSDateStamp] = when.strftime("%Y:%m:%d")
    gps[ExifTags.GPS.GPSTimeStamp] = (float(when.hour), float(when.minute), float(when.second))
    pixels.save(out, exif=exif, quality=90)
    return out


def test_bad_exif_values_and_gps_stamps_flow_to_a_reasoned_check(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {
        1: "N",
        2: (51.0, 46.0, 0.0),
        3: "E",
        4: (8.0, 22.0, 0.0),
        ExifTags.GPS.GPSTimeStamp: (25.0, 0.0, 0.0),
    }
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[BASE.DateTimeOriginal] = "2010:05:15 17:12:05"
    sub[BASE.ExposureTime], sub[BASE.FNumber], sub[BASE.ISOSpeedRatings] = IFDRational(0, 1), IFDRational(-28, 10), 0
    bad = tmp_path / "bad-exif.jpg"
    Image.new("RGB", (64, 48), (120, 170, 230)).save(bad, exif=exif)
    out = tmp_path / "v.csv"
    code, _, err = run_cli(monkeypatch, capsys, "verify", bad, "--out", out)
    row = rows(out)[0]
    assert code == 0, err
    assert row["clock"] == "cannot judge" and "GPSTimeStamp 25:0:0 is out of range" in row["reasons"]
    assert row["ev100"] == "" and row["sun"] == "consistent"
    assert (
        "the camera's exposure tags cannot be used (ExposureTime 0 is not a positive number; FNumber -2.8 is not "
        in (row["reasons"])
    )


def test_a_claims_csv_names_its_bad_rows_and_verifies_the_rest(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    for photo in (SONY, HTC):
        shutil.copy(photo, tmp_path / photo.name)
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "path,lat,lon,year,month,day,hour,minute\n"
        "Sony_DSC-HX5V_2.jpg,51.7786,8.3656,2010,5,15,1,12\n"  # the same place, 16 h earlier: at night
        "HTC_Desire.jpg,45.5,9.11,2011,13,6,9,59\n"
        "missing.jpg,45.5,9.11,2011,5,6,9,59\n"
    )
    out = tmp_path / "v.csv"
    code, _, err = run_cli(monkeypatch, capsys, "verify", "--claims", claims, "--out", out)
    assert code == 0, err
    table = {Path(r["path"]).name: r for r in rows(out)}
    assert list(table) == ["Sony_DSC-HX5V_2.jpg", "missing.jpg", "HTC_Desire.jpg"]
    sony = table["Sony_DSC-HX5V_2.jpg"]
    assert (
        sony["claim_source"] == "place: claims.csv row; time: claims.csv row" and sony["utc"] == "2010-05-14T23:12:00Z"
    )
    assert (sony["verdict"], sony["clock"], sony["sun"]) == ("inconsistent",) * 3
    assert table["HTC_Desire.jpg"]["verdict"] == "error"
    assert table["HTC_Desire.jpg"]["reasons"] == (
        f"{claims} row 2 (line 3), path 'HTC_Desire.jpg': invalid month '13': must be 1-12"
    )
    assert table["missing.jpg"]["verdict"] == "error" and "file not found" in table["missing.jpg"]["reasons"]
    assert "invalid month '13'" in err
    code, _, err = run_cli(monkeypatch, capsys, "verify", SONY, "--claims", claims, "--lat", "1", "--lon", "2")
    assert code == 2 and "--claims gives each photo's claim: leave out --lat/--lon/--time" in err


def test_a_failed_call_leaves_the_previous_output_as_it_was(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    out = tmp_path / "v.csv"
    out.write_text("earlier verdicts\n")
    bad_header = tmp_path / "claims.csv"
    bad_header.write_text("file,lat,lon\nx.jpg,1,2\n")
    code, _, err = run_cli(monkeypatch, capsys, "verify", "--claims", bad_header, "--out", out)
    assert code == 2 and "missing required column(s) path" in err
    assert out.read_text() == "earlier verdicts\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.csv", "v.csv"]


def small_photo(path: Path, when: str = "2023:01:15 12:30:00") -> Path:
    """A small daylight JPEG with Oslo's GPS position and a camera time."""
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (59.0, 54.0, 36.0), 3: "E", 4: (10.0, 45.0, 0.0)}
    exif.get_ifd(ExifTags.IFD.Exif)[BASE.DateTimeOriginal] = when
    Image.new("RGB", (64, 48), (150, 190, 235)).save(path, exif=exif)
    return path


def test_with_a_model_the_model_check_joins_in_and_loads_once(toy_world, tmp_path, monkeypatch, capsys):
    loads = register_backbone(monkeypatch, ToyBackbone())
    monkeypatch.setenv("GTLOC_CHECKPOINT", str(toy_world["run"]))  # $GTLOC_CHECKPOINT gives --checkpoint
    folder = tmp_path / "photos"
    folder.mkdir()
    photos = [small_photo(folder / f"{i}.jpg", f"2023:0{i + 1}:15 12:30:00") for i in range(3)]
    out = tmp_path / "v.csv"
    code, _, err = run_cli(monkeypatch, capsys, "verify", folder, photos[0], "--out", out)
    assert code == 0, err
    assert len(loads) == 1  # one backbone (and one model) for the whole call
    table = rows(out)
    assert len(table) == 4 and all(r["model"] == "cannot judge" for r in table)  # the untrained toy: too flat
    assert all(r["best_near"] and r["model_place"] == "cannot judge" for r in table)
    code, out_text, err = run_cli(monkeypatch, capsys, "verify", photos[0], "--json", tmp_path / "one.json")
    assert code == 0, err
    assert "\nmodel  cannot judge  " in out_text and "\n  place  59.9100, 10.7500" in out_text
    assert "model's best guess:" in out_text
    data = json.loads((tmp_path / "one.json").read_text())
    assert [c["name"] for c in data["checks"]] == ["clock", "sun", "model"]
    assert [p["kind"] for p in data["model_parts"]] == ["place", "time", "month", "hour"]
    assert {"in_domain", "domain_score", "best_guess"} <= set(data)


@pytest.mark.slow
def test_without_a_model_verify_imports_no_torch(tmp_path):
    script = (
        "import sys\n"
        "from gtloc.cli import app\n"
        f"app(['verify', {str(SONY)!r}, '--out', {str(tmp_path / 'v.csv')!r}], standalone_mode=False)\n"
        "print('torch' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GTLOC_CHECKPOINT"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"
    assert rows(tmp_path / "v.csv")[0]["verdict"] == "consistent"
