"""`gtloc library fill`: the estimates CSV, XMP sidecars (read back by exiftool, merged, atomic, idempotent, only
inside the library), a read-only library, and the CLI around them."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from datetime import timedelta, timezone

import numpy as np
import pytest

from gtloc.errors import GtlocError
from gtloc.geo import haversine_km
from gtloc.io import OutputPathError
from gtloc.library import sidecars as sidecars_module
from gtloc.library.fill import ESTIMATE_COLUMNS, SMALL_LIBRARY, fill_library, small_library_warning
from gtloc.library.scan import scan_library
from gtloc.library.sidecars import sidecar_path, write_sidecars
from helpers.cli import run_cli
from helpers.library import DSLR, PHONE, T0, write_photo
from helpers.toydata import ToyBackbone, register_backbone

ZURICH = (47.37, 8.54)
STEP = 1.0 / (111.2 * np.cos(np.deg2rad(ZURICH[0])))


def make_library(root):
    """A phone's geotagged walk (40 photos, 10 min and 1 km apart, offset +02:00) and 5 DSLR photos in between."""
    for i in range(40):
        write_photo(root, f"phone/IMG_{i:04d}.JPG", scene=i, noise=i, lat=ZURICH[0], lon=ZURICH[1] + i * STEP,
                    when=T0 + timedelta(minutes=10 * i), offset_h=2, camera=PHONE)  # fmt: skip
    for k, minutes in enumerate((35, 95, 155, 215, 275)):
        write_photo(root, f"dslr/DSC_{k:04d}.JPG", scene=100 + k, when=T0 + timedelta(minutes=minutes),
                    offset_h=2, camera=DSLR)  # fmt: skip


@pytest.fixture
def scanned(tmp_path):
    root = tmp_path / "photos"
    make_library(root)
    scan_library(root, tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    return root, tmp_path / "lib"


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_fill_writes_every_source_answer_and_the_chosen_one(scanned, tmp_path):
    _, lib = scanned
    result = fill_library(lib, tmp_path / "out" / "estimates.csv")
    rows = read_csv(tmp_path / "out" / "estimates.csv")
    assert tuple(rows[0]) == ESTIMATE_COLUMNS
    chosen = [r for r in rows if r["chosen"] == "yes" and r["field"] == "place"]
    assert {r["path"] for r in chosen} == {f"dslr/DSC_{k:04d}.JPG" for k in range(5)}
    for r in chosen:
        minutes = (35, 95, 155, 215, 275)[int(r["path"][-6:-4])]
        truth = np.array([ZURICH[0], ZURICH[1] + minutes / 10 * STEP])
        error = float(haversine_km(np.array([float(r["lat"]), float(r["lon"])]), truth))
        assert error <= float(r["radius_km"]) and r["source"] == "track"
        assert r["evidence"].count("phone/") == 2 and 0 <= float(r["confidence"]) <= 1
    assert result.missing_place == 5 and len(result.chosen("place")) == 5
    assert result.warning.startswith("only 40 photos have a GPS place")  # too few to promise the shares


def test_only_a_library_with_few_geotagged_photos_is_warned():
    assert small_library_warning(SMALL_LIBRARY) == ""
    assert f"fewer than {SMALL_LIBRARY}" in small_library_warning(SMALL_LIBRARY - 1)


def test_sidecars_are_read_back_by_exiftool_with_the_same_coordinates(scanned, tmp_path):
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool not installed (apt-get install libimage-exiftool-perl, as the README's test command)")
    root, lib = scanned
    result = fill_library(lib, tmp_path / "estimates.csv")
    before = {p: p.read_bytes() for p in root.rglob("*.JPG")}
    report = write_sidecars(root, result.estimates)
    assert len(report.written) == 5 and not report.failed and not report.refused
    assert {p: p.read_bytes() for p in root.rglob("*.JPG")} == before  # originals untouched
    files = [str(sidecar_path(root, e.path)) for e in result.chosen("place")]
    read = json.loads(subprocess.run(["exiftool", "-json", "-n", *files], capture_output=True, check=True).stdout)
    for estimate, tags in zip(result.chosen("place"), read, strict=True):
        assert tags["SourceFile"].endswith(estimate.path + ".xmp")
        assert tags["GPSLatitude"] == pytest.approx(estimate.lat, abs=1e-6)
        assert tags["GPSLongitude"] == pytest.approx(estimate.lon, abs=1e-6)
        assert tags["GPSHPositioningError"] == pytest.approx(estimate.radius_km * 1000, abs=1)
        assert tags["PlaceSource"] == "track"


def test_a_rerun_changes_nothing_and_other_tags_are_kept(scanned, tmp_path):
    root, lib = scanned
    result = fill_library(lib, tmp_path / "estimates.csv")
    first = result.chosen("place")[0]
    target = sidecar_path(root, first.path)
    target.write_text(
        '<?xml version="1.0"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmp:Rating="4" exif:GPSLatitude="1,0.0N">'
        '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Our garden</rdf:li></rdf:Alt></dc:title>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>\n"
    )
    assert write_sidecars(root, result.estimates).written[0] == first.path
    text = target.read_text()
    assert "Our garden" in text and 'xmp:Rating="4"' in text and "dc:title" in text
    assert text.count("GPSLatitude") == 1 and "1,0.0N" not in text
    state = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*.xmp")}
    again = write_sidecars(root, fill_library(lib, tmp_path / "estimates.csv").estimates)
    assert again.written == [] and len(again.unchanged) == 5
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*.xmp")} == state


def test_a_sidecar_that_is_not_xmp_is_left_alone_and_named(scanned, tmp_path):
    root, lib = scanned
    result = fill_library(lib, tmp_path / "estimates.csv")
    broken, plain = (sidecar_path(root, e.path) for e in result.chosen("place")[:2])
    broken.write_text("<x:xmpmeta><unclosed>")
    plain.write_text("<note>not xmp</note>")
    report = write_sidecars(root, result.estimates)
    refused = dict(report.refused)
    assert "not valid XML" in refused[result.chosen("place")[0].path]
    assert "not XMP" in refused[result.chosen("place")[1].path]
    assert broken.read_text() == "<x:xmpmeta><unclosed>" and plain.read_text() == "<note>not xmp</note>"
    assert len(report.written) == 3


def test_sidecars_stay_inside_the_library_and_never_follow_a_symlink(scanned, tmp_path):
    root, lib = scanned
    result = fill_library(lib, tmp_path / "estimates.csv")
    first, second = result.chosen("place")[:2]
    outside = tmp_path / "outside.xmp"
    outside.write_text("keep")
    sidecar_path(root, first.path).symlink_to(outside)
    moved = root / "dslr-elsewhere"
    (tmp_path / "far").mkdir()
    moved.symlink_to(tmp_path / "far")
    second.path = "dslr-elsewhere/" + second.path.split("/")[-1]
    report = write_sidecars(root, result.estimates)
    refused = dict(report.refused)
    assert "symlink" in refused[first.path] and "outside the library folder" in refused[second.path]
    assert outside.read_text() == "keep" and not list((tmp_path / "far").iterdir())


def test_base_names_shared_by_two_photos_are_refused(tmp_path):
    from gtloc.library.fill import Estimate

    estimates = [Estimate(p, "place", "scene", 1.0, 2.0, radius_km=1.0, chosen=True) for p in ("a.jpg", "a.heic")]
    report = write_sidecars(tmp_path, estimates, naming="base")
    assert report.written == ["a.heic"] and "also the sidecar of a.heic" in report.refused[0][1]
    assert (tmp_path / "a.xmp").is_file() and not (tmp_path / "a.jpg.xmp").exists()


def test_a_read_only_library_still_gets_its_csv_and_a_clear_message(scanned, tmp_path, monkeypatch, capsys):
    root, lib = scanned

    def read_only(path, text):
        raise OutputPathError(path, "Read-only file system")

    monkeypatch.setattr(sidecars_module, "atomic_write_text", read_only)
    out = tmp_path / "elsewhere" / "estimates.csv"
    status, _, stderr = run_cli(monkeypatch, capsys, "library", "fill", lib, "--out", out, "--xmp")
    assert status == 2 and out.is_file() and len(read_csv(out)) >= 5
    assert "cannot be written (Read-only file system): no sidecar written" in stderr and str(out) in stderr
    assert not list(root.rglob("*.xmp"))


def test_the_cli_scans_fills_and_writes_sidecars(tmp_path, monkeypatch, capsys):
    register_backbone(monkeypatch, ToyBackbone())
    root = tmp_path / "photos"
    make_library(root)
    status, stdout, _ = run_cli(monkeypatch, capsys, "library", "scan", root, "--out", tmp_path / "lib",
                                "--backbone", "toy", "--workers", "0", "--device", "cpu")  # fmt: skip
    assert status == 0 and "45 photos" in stdout and "with a GPS place: 40" in stdout
    status, stdout, _ = run_cli(monkeypatch, capsys, "library", "fill", tmp_path / "lib", "--out",
                                tmp_path / "e.csv", "--xmp", "--xmp-name", "base")  # fmt: skip
    assert status == 0 and "placed 5 (chosen from: track 5)" in stdout and "5 written" in stdout
    assert "warning: only 40 photos have a GPS place" in stdout
    assert (root / "dslr" / "DSC_0000.xmp").is_file()
    status, _, stderr = run_cli(monkeypatch, capsys, "library", "fill", tmp_path / "nolib", "--out", tmp_path / "x.csv")
    assert status == 2 and "not a scanned library" in stderr


def test_fill_refuses_an_empty_library(tmp_path):
    (tmp_path / "photos").mkdir()
    scan_library(tmp_path / "photos", tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    with pytest.raises(GtlocError, match="has no photos"):
        fill_library(tmp_path / "lib", tmp_path / "e.csv")


def test_fill_corrects_the_times_of_a_camera_found_wrong_by_its_gps_stamps(tmp_path):
    """A camera 3 h ahead of local time: one photo with GPS and its stamp shows it; its other photos get their
    local time corrected (clock source), and are placed on the phone's walk at the right time (track)."""
    root = tmp_path / "photos"
    make_library(root)
    ahead = timedelta(hours=3)
    sony = {"make": "SONY", "model": "DSC-HX90V", "serial": "S1"}
    stamp = T0 + timedelta(minutes=50) - timedelta(hours=2)
    write_photo(
        root,
        "sony/judged.jpg",
        scene=200,
        lat=ZURICH[0],
        lon=ZURICH[1] + 5 * STEP,
        when=T0 + timedelta(minutes=50) + ahead,
        gps_utc=stamp.replace(tzinfo=timezone.utc),
        camera=sony,
    )
    write_photo(root, "sony/later.jpg", scene=201, when=T0 + timedelta(minutes=185) + ahead, camera=sony)
    scan_library(root, tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    result = fill_library(tmp_path / "lib", tmp_path / "e.csv")
    times = {e.path: e for e in result.chosen("time")}
    assert times["sony/later.jpg"].time == (T0 + timedelta(minutes=185)).strftime("%Y-%m-%dT%H:%M:%S")
    assert times["sony/later.jpg"].source == "clock" and times["sony/later.jpg"].evidence == ["sony/judged.jpg"]
    place = next(e for e in result.chosen("place") if e.path == "sony/later.jpg")
    truth = np.array([ZURICH[0], ZURICH[1] + 18.5 * STEP])
    assert float(haversine_km(np.array([place.lat, place.lon]), truth)) < 0.5
