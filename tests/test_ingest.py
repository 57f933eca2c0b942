"""``gtloc ingest``: real camera photos read exactly as expected.csv says; synthesised folders and webcam archives."""

from __future__ import annotations

import csv
import os
import shutil
import sys
from calendar import timegm
from pathlib import Path

import numpy as np
import pytest

from gtloc.cli import main
from gtloc.data.ingest import IngestResult, NamePattern, SkippedPhoto, ingest_photos, ingest_to_csv, summarize
from gtloc.data.schema import Records, load_records
from gtloc.errors import GtlocError
from test_exif import gps_tags, make_photo

FIXTURES = Path(__file__).parent / "fixtures" / "exif-photos"
TIME_COLUMNS = ("year", "month", "day", "hour", "minute", "second")
PARIS_NOTE = "camera set to UTC+1, 1 h behind local time (GPS stamp without a date: the camera's date assumed)"


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``gtloc ARGS`` as a user would; return (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["gtloc", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr()
    return info.value.code or 0, out.out, out.err


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_real_camera_photos_match_expected_csv(tmp_path, monkeypatch, capsys):
    out = tmp_path / "records.csv"
    status, stdout, _ = run_cli(monkeypatch, capsys, "ingest", FIXTURES, "--out", out, "--no-progress")
    assert status == 0
    assert stdout == (
        f"wrote 9 records to {out}\n"
        "camera clock wrong in 1 of the 8 photos whose GPS time could check it:\n"
        f"  FujiFilm_FinePixS2Pro.jpg: {PARIS_NOTE}\n"
        "ignored 1 non-image file (by suffix: .csv 1)\n"
        f"paths are relative to {FIXTURES} (not inside the CSV's folder): pass --images {FIXTURES}\n"
    )
    # The photos lie outside the CSV's folder: paths stay relative to the photo folder, and the output says so.
    got = {row["path"]: row for row in read_csv(out)}
    expected = read_csv(FIXTURES / "expected.csv")
    assert sorted(got) == [row["path"] for row in expected]
    for want in expected:
        row = got[want["path"]]
        assert float(row["lat"]) == pytest.approx(float(want["lat"]), abs=1e-5), want["path"]
        assert float(row["lon"]) == pytest.approx(float(want["lon"]), abs=1e-5), want["path"]
        assert [float(row[c]) for c in TIME_COLUMNS] == [float(want[c]) for c in TIME_COLUMNS], want["path"]
    # No offset tag in these files: the UTC instant comes from the time zone at the GPS point (BST in July).
    assert got["FujiFilm_FinePixS1Pro_1.jpg"]["unix_ts"] == str(timegm((2002, 7, 13, 14, 58, 28)))
    assert len(load_records(out, images_root=FIXTURES)) == 9
    # The photos' own GPS clocks: the S1 Pro photos (UK, BST) and the Sony (Germany, CEST) are right; the S2 Pro's
    # clock, in Paris (CEST, UTC+2), still ran on British summer time; the Nokia has no GPS time stamp.
    clocks = {
        path: (row["gps_utc"], row["clock_offset_s"], row["clock"], row["clock_note"]) for path, row in got.items()
    }
    assert clocks["FujiFilm_FinePixS1Pro_1.jpg"] == ("2002-07-13T14:58:24Z", "3604", "ok", "")
    assert clocks["Sony_DSC-HX5V_2.jpg"] == ("2010-05-15T15:12:07Z", "7198", "ok", "")
    assert clocks["HTC_Desire.jpg"] == ("2011-05-06T07:59:48Z", "7200", "ok", "")
    assert clocks["FujiFilm_FinePixS2Pro.jpg"] == ("2002-08-24T12:59:04Z", "3604", "wrong", PARIS_NOTE)
    assert clocks["Nokia_Lumia_800.jpg"] == ("", "", "unknown", "no GPS time in EXIF")


def make_folder(root: Path) -> Path:
    make_photo(root / "zurich" / "a.jpg", gps_tags(), offset="+02:00")
    make_photo(root / "chile" / "b.jpg", gps_tags("S", (33.0, 51.0, 36.0), "W", (70.0, 30.0, 0.0)))
    make_photo(root / "nogps.jpg")
    make_photo(root / "nodate.JPG", gps_tags(), when=None)
    cut = make_photo(root / "cut.jpg", gps_tags(), size=(320, 240))
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    (root / "notes.jpg").write_text("not a photo")
    (root / "readme.txt").write_text("hello")
    return root


def test_synthesised_folder_records_skips_and_summary(tmp_path, monkeypatch, capsys):
    photos = make_folder(tmp_path / "photos")
    out, skipped = tmp_path / "records.csv", tmp_path / "skipped.csv"
    status, stdout, _ = run_cli(
        monkeypatch, capsys, "ingest", photos, "--out", out, "--skipped", skipped, "--no-progress"
    )
    assert status == 0
    assert out.read_text() == (
        "path,lat,lon,unix_ts,year,month,day,hour,minute,second,gps_utc,clock_offset_s,clock,clock_note\n"
        f"photos/chile/b.jpg,-33.86,-70.5,{timegm((2021, 6, 1, 18, 30, 5))},2021,6,1,14,30,5,,,unknown,"
        "no GPS time in EXIF\n"
        f"photos/zurich/a.jpg,47.5,8.26,{timegm((2021, 6, 1, 12, 30, 5))},2021,6,1,14,30,5,,,unknown,"
        "no GPS time in EXIF\n"
    )
    rows = [(r["path"], r["reason"]) for r in read_csv(skipped)]
    assert rows == [  # named like the records: relative to the records CSV's folder
        ("photos/cut.jpg", "unreadable"),
        ("photos/nodate.JPG", "no date"),
        ("photos/nogps.jpg", "no GPS"),
        ("photos/notes.jpg", "not an image"),
    ]
    lines = stdout.splitlines()
    assert lines[0] == f"wrote 2 records to {out}"
    assert lines[1] == "skipped 4 files: unreadable 1, no date 1, no GPS 1, not an image 1"
    assert lines[2].startswith("  photos/cut.jpg: unreadable: OSError: image file is truncated")
    assert lines[3:] == [
        "  photos/nodate.JPG: no date: no DateTimeOriginal or DateTimeDigitized in EXIF",
        "  photos/nogps.jpg: no GPS: no GPS position in EXIF",
        "  photos/notes.jpg: not an image: Pillow cannot identify its format; gtloc reads JPEG, PNG, TIFF, WebP, AVIF "
        "and HEIC/HEIF: convert it to JPEG",
        "ignored 1 non-image file (by suffix: .txt 1)",
        f"skipped files listed in {skipped}",
    ]


def test_keep_partial_and_camera_from_folder(tmp_path):
    photos = make_folder(tmp_path / "photos")
    result = ingest_photos(photos, keep_partial=True, camera_from_folder=True)
    assert result.records.paths == ["chile/b.jpg", "nodate.JPG", "nogps.jpg", "zurich/a.jpg"]
    assert result.records.has_gps.tolist() == [True, True, False, True]
    assert result.records.has_time.tolist() == [True, False, True, True]
    assert result.records.extras["camera"] == ["chile", ".", ".", "zurich"]
    assert result.records.extras["unix_ts"][2] == ""  # a time but no offset and no GPS: instant unknown
    assert result.partial == 2


def test_webcam_names_in_utc_with_fixed_position(tmp_path):
    cam = tmp_path / "cam"
    make_photo(cam / "day1" / "seattle_20190612_1530.jpg", when=None)
    make_photo(cam / "day1" / "seattle_20191312_1530.jpg", when=None)
    make_photo(cam / "day2" / "snapshot.jpg", when=None)
    out = tmp_path / "r.csv"
    result = ingest_to_csv(cam, out, utc_from="filename", name_pattern="%Y%m%d_%H%M", lat=47.6, lon=-122.3)
    assert out.read_text().splitlines()[1] == (
        f"cam/day1/seattle_20190612_1530.jpg,47.6,-122.3,{timegm((2019, 6, 12, 15, 30, 0))},2019,6,12,8,30,0,,,"
        "unknown,no DateTimeOriginal or DateTimeDigitized in EXIF"
    )
    assert [(s.path, s.reason, s.detail) for s in result.skipped] == [
        (
            "cam/day1/seattle_20191312_1530.jpg",  # named like the records (relative to the CSV)
            "no date",
            "name 'seattle_20191312_1530' holds no valid time for '%Y%m%d_%H%M' (month must be in 1..12)",
        ),
        ("cam/day2/snapshot.jpg", "no date", "name 'snapshot' does not match the name pattern '%Y%m%d_%H%M'"),
    ]


def test_name_patterns_iso_like_and_with_folders():
    iso = NamePattern("%Y-%m-%dT%H-%M-%S")
    assert iso.parse("x/2019-06-12T15-30-07.jpg").isoformat() == "2019-06-12T15:30:07+00:00"
    nested = NamePattern("%Y/%m/%d/%H%M")
    assert nested.parse("2020/01/31/2359.png").isoformat() == "2020-01-31T23:59:00+00:00"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("%Y%m%d", "name_pattern '%Y%m%d': missing %H (a date and an hour)"),
        ("%m%d_%H", "name_pattern '%m%d_%H': missing %Y (a date and an hour)"),
        ("%Y%b%d%H", "name_pattern '%Y%b%d%H': unsupported directive %b (supported: %Y %y %m %d %H %M %S %f %%)"),
        ("%Y%m%d%H%H", "name_pattern '%Y%m%d%H%H': %H appears twice (supported: %Y %y %m %d %H %M %S %f %%)"),
    ],
)
def test_bad_name_patterns(pattern, message):
    with pytest.raises(GtlocError) as info:
        NamePattern(pattern)
    assert str(info.value) == message


def test_exif_clock_in_utc_and_mtime(tmp_path):
    make_photo(tmp_path / "p" / "a.jpg", gps_tags(), when="2021:01:15 11:00:00", offset="+05:00")
    result = ingest_photos(tmp_path / "p", utc_from="exif")
    assert result.records.times.tolist() == [[1, 15, 12, 0, 0]]  # Zurich is UTC+1 in January; offset ignored
    assert result.records.extras["unix_ts"] == [str(timegm((2021, 1, 15, 11, 0, 0)))]
    os.utime(tmp_path / "p" / "a.jpg", (0, timegm((2021, 7, 1, 22, 15, 0))))
    result = ingest_photos(tmp_path / "p", utc_from="mtime")
    assert result.records.times.tolist() == [[7, 2, 0, 15, 0]]  # UTC+2 in July: past midnight
    assert result.records.extras["year"] == ["2021"]


def test_utc_source_needs_a_position(tmp_path):
    make_photo(tmp_path / "p" / "a.jpg")
    result = ingest_photos(tmp_path / "p", utc_from="exif")
    assert [(s.reason, s.detail) for s in result.skipped] == [
        ("no GPS", "no GPS position in EXIF; no GPS position to turn the UTC time into local time")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--utc-from", "filename"], "error: --name-pattern and --utc-from filename go together: give both or neither"),
        (
            ["--name-pattern", "%Y%m%d%H"],
            "error: --name-pattern and --utc-from filename go together: give both or neither",
        ),
        (["--lat", "10"], "error: --lat and --lon go together: give both or neither"),
        (["--lat", "10", "--lon", "400"], "error: invalid lon 400.0: must be within [-180, 180]"),
    ],
)
def test_cli_option_errors(tmp_path, monkeypatch, capsys, args, message):
    status, _, stderr = run_cli(monkeypatch, capsys, "ingest", FIXTURES, "--out", tmp_path / "r.csv", *args)
    assert (status, stderr.strip()) == (2, message)
    assert not (tmp_path / "r.csv").exists()


def test_cli_missing_folder(tmp_path, monkeypatch, capsys):
    status, _, stderr = run_cli(monkeypatch, capsys, "ingest", tmp_path / "nope", "--out", tmp_path / "r.csv")
    assert (status, stderr.strip()) == (2, f"error: photo folder not found: {tmp_path / 'nope'}")


def test_output_is_deterministic_and_replaced_atomically(tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(FIXTURES, photos)
    out = tmp_path / "r.csv"
    out.write_text("old")
    ingest_to_csv(photos, out)
    first = out.read_text()
    ingest_to_csv(photos, out)
    assert out.read_text() == first and first.startswith("path,lat,lon,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "r.csv"]


def test_summary_lists_the_first_skipped_files_then_the_hint():
    skipped = [SkippedPhoto(f"p{i}.jpg", "no GPS", "no GPS position in EXIF") for i in range(3)]
    result = IngestResult(Records([], np.zeros((0, 2)), np.zeros((0, 5))), skipped)
    lines = summarize(result, "r.csv", max_listed=2, full_list_hint="use --skipped FILE").splitlines()
    assert lines[-3:] == [
        "  p0.jpg: no GPS: no GPS position in EXIF",
        "  p1.jpg: no GPS: no GPS position in EXIF",
        "  ... and 1 more (use --skipped FILE)",
    ]
    assert summarize(result, "r.csv", max_listed=2).splitlines()[-1] == "  ... and 1 more"


def test_expand_photos_takes_files_as_given_and_folders_recursively(tmp_path):
    from gtloc.data.ingest import expand_photos

    (tmp_path / "trip" / "day2").mkdir(parents=True)
    for name in ("trip/b.jpg", "trip/day2/a.HEIC", "trip/notes.txt", "trip/raw.NEF", "single.png"):
        (tmp_path / name).write_bytes(b"x")
    photos, skipped = expand_photos([tmp_path / "single.png", tmp_path / "trip"])
    assert photos == [tmp_path / "single.png", tmp_path / "trip" / "b.jpg", tmp_path / "trip" / "day2" / "a.HEIC"]
    assert [(s.path, s.reason) for s in skipped] == [(str(tmp_path / "trip" / "raw.NEF"), "not an image")]
    with pytest.raises(GtlocError, match="no such file or folder"):
        expand_photos([tmp_path / "missing"])


def _webcams(root: Path) -> Path:
    """Three webcam folders of pictures without GPS (one nested in another) and a stray picture."""
    for rel in ("oslo/1.jpg", "oslo/2.jpg", "lima/1.jpg", "lima/night/3.jpg", "stray.jpg"):
        make_photo(root / rel)
    return root


def test_several_fixed_cameras_in_one_call_from_a_cameras_csv(tmp_path, monkeypatch, capsys):
    photos = _webcams(tmp_path / "webcams")
    cameras = tmp_path / "cameras.csv"
    cameras.write_text("folder,lat,lon\noslo,59.91,10.75\nlima,-12.05,-77.04\nlima/night,-12.06,-77.03\n")
    out, skipped = tmp_path / "records.csv", tmp_path / "skipped.csv"
    args = ("ingest", photos, "--cameras", cameras, "--out", out, "--skipped", skipped, "--no-progress")
    status, stdout, _ = run_cli(monkeypatch, capsys, *args)
    assert status == 0, stdout
    rows = read_csv(out)
    assert [(r["path"], r["lat"], r["lon"], r["camera"]) for r in rows] == [
        ("webcams/lima/1.jpg", "-12.05", "-77.04", "lima"),
        ("webcams/lima/night/3.jpg", "-12.06", "-77.03", "lima/night"),  # the deepest listed folder wins
        ("webcams/oslo/1.jpg", "59.91", "10.75", "oslo"),
        ("webcams/oslo/2.jpg", "59.91", "10.75", "oslo"),
    ]
    assert all(r["hour"] == "14" for r in rows)  # times still come from EXIF
    assert read_csv(skipped) == [
        {"path": "webcams/stray.jpg", "reason": "no camera", "detail": "not inside a folder listed in the cameras file"}
    ]
    assert len(load_records(out)) == 4  # paths and camera column load as records


def test_a_cameras_csv_with_bad_rows_names_every_one(tmp_path):
    photos = _webcams(tmp_path / "webcams")
    cameras = tmp_path / "cameras.csv"
    cameras.write_text(
        "folder,lat,lon,camera\noslo,59.91,10.75,Oslo harbour\nlima,-120,-77,\noslo,1,1,\nparis,48.8,2.3,\n../x,1,1,\n"
    )
    with pytest.raises(GtlocError) as info:
        ingest_photos(photos, cameras=cameras)
    assert str(info.value) == (
        f"{cameras}: 4 problems:\n"
        "  row 2 (folder 'lima'): invalid lat '-120': must be within [-90, 90]\n"
        "  row 3 (folder 'oslo'): listed twice (first at row 1)\n"
        f"  row 4 (folder 'paris'): no such folder {photos / 'paris'}\n"
        f"  row 5 (folder '../x'): the folder must be a folder inside {photos}"
    )
    cameras.write_text("folder,latitude,lon\noslo,1,1\n")
    with pytest.raises(GtlocError, match="missing column"):
        ingest_photos(photos, cameras=cameras)
    cameras.write_text("folder,lat,lon,camera\noslo,59.91,10.75,Oslo harbour\n")
    result = ingest_photos(photos, cameras=cameras)
    assert result.records.extras["camera"] == ["Oslo harbour", "Oslo harbour"]
    with pytest.raises(GtlocError, match="leave out lat/lon and camera_from_folder"):
        ingest_photos(photos, cameras=cameras, lat=1.0, lon=1.0)


def test_skipped_paths_share_the_records_base_when_the_photos_lie_outside_the_csv_folder(tmp_path):
    photos = make_folder(tmp_path / "photos")
    out, skipped = tmp_path / "csv" / "records.csv", tmp_path / "skipped.csv"
    result = ingest_to_csv(photos, out, skipped_path=skipped)
    assert result.paths_root == photos  # both relative to the photo folder, the records' image root
    assert read_csv(out)[0]["path"] == "chile/b.jpg"
    assert [r["path"] for r in read_csv(skipped)] == ["cut.jpg", "nodate.JPG", "nogps.jpg", "notes.jpg"]
