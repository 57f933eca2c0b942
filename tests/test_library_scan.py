"""`gtloc library scan`: EXIF place, time and camera, content hashes and features of every photo; bad files skipped
and named; a re-scan reads only what changed; an interrupted scan resumes."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from gtloc.errors import GtlocError
from gtloc.library import scan as scan_module
from gtloc.library.catalog import PHOTOS_CSV, Library, read_photos
from gtloc.library.fill import library_features
from gtloc.library.scan import scan_library
from helpers.cli import run_cli
from helpers.library import DSLR, PHONE, T0, write_photo
from helpers.toydata import ToyBackbone, register_backbone


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    write_photo(root, "a.jpg", scene=1, lat=47.5, lon=8.25, when=T0, offset_h=2, camera=PHONE)
    write_photo(root, "sub/b.jpg", scene=2, when=datetime(2021, 6, 2, 9, 30), camera=DSLR)
    write_photo(root, "zero.jpg", scene=3, lat=0.0, lon=0.0, when=T0, camera=PHONE)
    write_photo(root, "scan.jpg", scene=4)
    return root


def by_path(result):
    return {p.path: p for p in result.photos}


def test_scan_reads_place_time_camera_and_features(folder, tmp_path):
    result = scan_library(folder, tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    photos = by_path(result)
    assert sorted(photos) == ["a.jpg", "scan.jpg", "sub/b.jpg", "zero.jpg"]
    a = photos["a.jpg"]
    assert (a.lat, a.lon) == pytest.approx((47.5, 8.25)) and a.local_time == T0 and a.utc_offset_s == 7200
    assert a.camera == "Apple iPhone 12 P1"
    assert photos["sub/b.jpg"].lat is None and photos["sub/b.jpg"].camera == "Canon EOS 80D D1"
    assert photos["zero.jpg"].lat is None and "0, 0" in photos["zero.jpg"].gps_problem
    assert photos["scan.jpg"].local_time is None and photos["scan.jpg"].camera == ""
    assert a.clock == "unknown" and a.gps_utc is None and "no GPS time" in a.clock_note  # no GPS stamp to check
    library = Library.open(tmp_path / "lib")
    assert read_photos(tmp_path / "lib" / PHOTOS_CSV) == library.photos == result.photos
    assert library_features(library).shape == (4, ToyBackbone.feature_dim)


def test_bad_files_are_skipped_and_named_and_the_rest_kept(folder, tmp_path):
    (folder / "notes.jpg").write_text("not a picture")
    good = (folder / "a.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(good[: len(good) // 3])
    outside = tmp_path / "elsewhere"
    write_photo(outside, "secret.jpg", scene=9, lat=1.0, lon=2.0, when=T0)
    os.symlink(outside / "secret.jpg", folder / "link-out.jpg")
    os.symlink(outside, folder / "dir-out")  # a folder symlink is not followed at all
    os.symlink(folder / "a.jpg", folder / "link-in.jpg")
    (folder / "copy.jpg").write_bytes(good)
    result = scan_library(folder, tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    skipped = {s.path: s for s in result.skipped}
    assert skipped["notes.jpg"].reason == "not an image"
    assert skipped["cut.jpg"].reason == "unreadable"
    assert skipped["link-out.jpg"].reason == "outside the library" and "not followed" in skipped["link-out.jpg"].detail
    assert not any("secret" in p.path or "dir-out" in p.path for p in result.photos)
    photos = by_path(result)
    assert photos["copy.jpg"].duplicate_of == "a.jpg" and photos["link-in.jpg"].duplicate_of == "a.jpg"
    assert photos["a.jpg"].duplicate_of == "" and result.duplicates == 2
    summary = scan_module.summarize_scan(result)
    assert "notes.jpg: not an image" in summary and "duplicates: 2" in summary
    listed = (tmp_path / "lib" / "skipped.csv").read_text()
    assert "link-out.jpg" in listed and "cut.jpg" in listed


class CountingBackbone(ToyBackbone):
    def __init__(self) -> None:
        super().__init__()
        self.images = 0

    def encode_images(self, batch):
        self.images += len(batch)
        return super().encode_images(batch)


def test_a_rescan_reads_only_new_and_changed_files(folder, tmp_path):
    lib = tmp_path / "lib"
    scan_library(folder, lib, backbone=ToyBackbone(), num_workers=0)
    backbone = CountingBackbone()
    again = scan_library(folder, lib, backbone=backbone, num_workers=0)
    assert (again.read, again.kept, again.removed, backbone.images) == (0, 4, 0, 0)
    write_photo(folder, "new.jpg", scene=5, when=T0)
    write_photo(folder, "a.jpg", scene=6, lat=47.5, lon=8.25, when=T0, camera=PHONE)  # changed content
    (folder / "scan.jpg").unlink()
    grown = scan_library(folder, lib, backbone=backbone, num_workers=0)
    assert (grown.read, grown.kept, grown.removed, backbone.images) == (2, 2, 1, 2)
    assert sorted(by_path(grown)) == ["a.jpg", "new.jpg", "sub/b.jpg", "zero.jpg"]


def test_a_scan_loads_no_backbone_when_nothing_changed(folder, tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    scan_library(folder, lib, backbone=ToyBackbone(), num_workers=0)

    def refuse(*args, **kwargs):
        raise AssertionError("the backbone was loaded for an unchanged library")

    monkeypatch.setattr(scan_module, "load_backbone", refuse)
    assert scan_library(folder, lib, backbone="toy", num_workers=0).read == 0


def test_an_interrupted_scan_resumes_where_it_stopped(folder, tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    monkeypatch.setattr(scan_module, "CHUNK", 2)
    real = scan_module._Scanner.read_chunk
    calls = []

    def crash_after_one(self, chunk):
        if calls:
            raise KeyboardInterrupt
        calls.append(chunk)
        real(self, chunk)

    monkeypatch.setattr(scan_module._Scanner, "read_chunk", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        scan_library(folder, lib, backbone=ToyBackbone(), num_workers=0)
    monkeypatch.setattr(scan_module._Scanner, "read_chunk", real)
    backbone = CountingBackbone()
    resumed = scan_library(folder, lib, backbone=backbone, num_workers=0)
    assert (resumed.kept, resumed.read, backbone.images) == (2, 2, 2)
    assert len(resumed.photos) == 4


def test_ctrl_c_during_gtloc_library_scan_says_what_was_kept_and_the_rerun_says_it_resumes(
    folder, tmp_path, monkeypatch, capsys
):
    lib = tmp_path / "lib"
    register_backbone(monkeypatch, ToyBackbone())
    monkeypatch.setattr(scan_module, "CHUNK", 2)
    real = scan_module._Scanner.read_chunk
    calls = []

    def ctrl_c_after_one(self, chunk):
        if calls:
            raise KeyboardInterrupt
        calls.append(chunk)
        real(self, chunk)

    monkeypatch.setattr(scan_module._Scanner, "read_chunk", ctrl_c_after_one)
    args = ("library", "scan", folder, "--out", lib, "--backbone", ToyBackbone.name, "--workers", "0")
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 130 and "Traceback" not in err
    assert f"interrupted: kept 2 scanned photos in {lib}" in err
    assert "the same command scans the rest: gtloc library scan" in err
    monkeypatch.setattr(scan_module._Scanner, "read_chunk", real)
    code, out, _ = run_cli(monkeypatch, capsys, *args)
    assert code == 0 and f"resuming {lib}: 2 photos already scanned" in out and "4 photos" in out


def test_a_library_folder_belongs_to_one_photo_folder(folder, tmp_path):
    scan_library(folder, tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    other = tmp_path / "other"
    write_photo(other, "x.jpg", when=T0)
    with pytest.raises(GtlocError, match="holds the library of"):
        scan_library(other, tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    with pytest.raises(GtlocError, match="must not be the photo folder"):
        scan_library(folder, folder, backbone=ToyBackbone(), num_workers=0)
    with pytest.raises(GtlocError, match="photo folder not found"):
        scan_library(tmp_path / "missing", tmp_path / "lib2", backbone=ToyBackbone(), num_workers=0)


def test_a_damaged_photo_list_names_the_row_and_field(folder, tmp_path):
    scan_library(folder, tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    csv_path = tmp_path / "lib" / PHOTOS_CSV
    lines = csv_path.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("sub/b.jpg"))
    lines[row] = lines[row].replace("2021-06-02T09:30:00", "June 2nd")
    csv_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GtlocError, match=rf"row {row}: invalid local_time 'June 2nd'"):
        Library.open(tmp_path / "lib")
    with pytest.raises(GtlocError, match="not a scanned library"):
        Library.open(folder)


def test_the_clock_check_fills_the_clock_fields(tmp_path):
    root = tmp_path / "photos"
    gps_utc = datetime(2021, 6, 1, 10, 0, 0, tzinfo=timezone.utc)  # 12:00 in Zurich (UTC+2)
    write_photo(root, "ahead.jpg", lat=47.37, lon=8.54, when=T0 + timedelta(hours=3), gps_utc=gps_utc, camera=DSLR)
    write_photo(root, "right.jpg", lat=47.37, lon=8.54, when=T0, gps_utc=gps_utc, camera=PHONE)
    photos = by_path(scan_library(root, tmp_path / "lib", backbone=ToyBackbone(), num_workers=0))
    ahead, right = photos["ahead.jpg"], photos["right.jpg"]
    assert ahead.clock == "wrong" and ahead.clock_offset_s == 5 * 3600 and ahead.gps_utc == gps_utc
    assert "ahead" in ahead.clock_note
    assert right.clock == "ok" and right.clock_offset_s == 2 * 3600


def test_a_library_read_by_an_older_scan_is_read_again_but_keeps_its_features(folder, tmp_path):
    lib = tmp_path / "lib"
    scan_library(folder, lib, backbone=ToyBackbone(), num_workers=0)
    info = json.loads((lib / "library.json").read_text())
    (lib / "library.json").write_text(json.dumps({**info, "reader": 1}))
    backbone = CountingBackbone()
    again = scan_library(folder, lib, backbone=backbone, num_workers=0)
    assert (again.read, backbone.images) == (4, 0)
    assert json.loads((lib / "library.json").read_text())["reader"] == scan_module.READER
