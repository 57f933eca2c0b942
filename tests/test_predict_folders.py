"""`gtloc predict DIR` and `gtloc features DIR` on a folder of photos with EXIF: every photo found (recursively), its
EXIF beside its answer, its time given its EXIF place (or a place given by hand, or the image alone), one bad photo
skipped and named, and the same answers from cached features."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import ExifTags, Image

from gtloc.inference.predictor import Predictor
from helpers.cli import run_cli
from helpers.toydata import ToyBackbone, register_backbone

N_PHOTOS = 20


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees, rest = int(value), (abs(value) - int(value)) * 60
    return float(degrees), float(int(rest)), round((rest - int(rest)) * 60, 4)


def write_photo(path: Path, lat: float, lon: float, when: str, colour: tuple[int, int, int]) -> None:
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {
        1: "N" if lat >= 0 else "S",
        2: _dms(lat),
        3: "E" if lon >= 0 else "W",
        4: _dms(lon),
    }
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: when}
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((30, 40, 3), dtype=np.uint8)
    pixels[:15], pixels[15:] = colour, tuple(c // 2 for c in colour)
    Image.fromarray(pixels).save(path, exif=exif)


@pytest.fixture
def folder(tmp_path, monkeypatch) -> dict:
    """``trip/`` with 20 photos in two sub-folders, each with EXIF GPS and a capture time, plus one broken photo and
    a camera RAW file; the working folder is ``tmp_path``."""
    rng = np.random.default_rng(7)
    expected = {}
    for i in range(N_PHOTOS):
        name = f"trip/{'day1' if i < 10 else 'day2'}/img_{i:02d}.jpg"
        lat, lon = float(rng.uniform(-50, 60)), float(rng.uniform(-170, 170))
        when = f"2023:{1 + i % 12:02d}:{1 + i:02d} {i % 24:02d}:{(7 * i) % 60:02d}:05"
        write_photo(tmp_path / name, lat, lon, when, tuple(int(v) for v in rng.integers(0, 256, 3)))
        expected[name] = (lat, lon, when.replace(":", "-", 2))
    (tmp_path / "trip" / "day2" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (tmp_path / "trip" / "raw.cr2").write_bytes(b"raw")
    monkeypatch.chdir(tmp_path)
    register_backbone(monkeypatch, ToyBackbone())
    return {"root": tmp_path, "expected": expected}


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_predict_on_a_folder_answers_each_photos_time_given_its_exif_place_in_one_call(
    monkeypatch, capsys, folder, toy_world
):
    run = toy_world["run"]
    code, out, err = run_cli(monkeypatch, capsys, "predict", "trip", "--checkpoint", run, "--out", "p.csv")
    assert code == 0, err
    rows = rows_of(folder["root"] / "p.csv")
    expected = folder["expected"]
    assert [r["path"] for r in rows] == sorted(expected)  # every photo, recursively, named as ingest names them
    for row in rows:
        lat, lon, when = expected[row["path"]]
        assert row["time_given_place"] == "exif"
        assert (float(row["exif_lat"]), float(row["exif_lon"])) == pytest.approx((lat, lon), abs=1e-4)
        assert row["exif_time"] == when
        assert row["place"] and 0 < float(row["p_place"]) <= 1 and float(row["radius_km"]) > 0
        assert row["p_radius"] == "0.8" and len(row["hour_window"]) == len("14:00-16:00")
    # The time of each photo is the API's time given that photo's EXIF place, not the image's alone.
    predictor = Predictor.from_pretrained(run)
    api = predictor.predict_image(sorted(expected), top_k=5)
    alone = predictor.predict_image(sorted(expected), top_k=5, exif_place=False)
    exif_places = torch.tensor([expected[p][:2] for p in sorted(expected)], dtype=torch.float32)
    assert api.known_place_source == "exif" and torch.allclose(api.known_place, exif_places, atol=1e-4)
    written = np.array([[int(r[k]) for k in ("month", "day", "hour", "minute")] for r in rows])
    np.testing.assert_array_equal(written, api.best_time[:, :4].numpy())
    assert not torch.allclose(api.month_hour_posterior, alone.month_hour_posterior)
    # One bad photo is skipped and named; the RAW file too, with what to do; the others are all answered.
    assert "skipped trip/day2/broken.jpg: " in err and "skipped trip/raw.cr2: not an image" in err
    skipped = json.loads((folder["root"] / "p.json").read_text())["skipped"]
    assert {s["path"] for s in skipped} == {"trip/day2/broken.jpg", "trip/raw.cr2"}
    assert out.count("given its EXIF place") == 5 and out.count("\n  EXIF   ") == 5  # the first five shown
    assert out.splitlines()[-1].startswith(f"{N_PHOTOS} predictions, 2 skipped -> p.csv")


def test_place_by_hand_and_ignore_exif(monkeypatch, capsys, folder, toy_world):
    run, photos = toy_world["run"], sorted(folder["expected"])[:4]
    predictor = Predictor.from_pretrained(run)
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", *photos, "--checkpoint", run, "--place=-33.92,18.42", "--out", "given.csv"
    )
    assert code == 0, err
    rows = rows_of(folder["root"] / "given.csv")
    assert {r["time_given_place"] for r in rows} == {"given"} and "given the place you gave -33.9200, 18.4200" in out
    api = predictor.predict_image(photos, place=(-33.92, 18.42))
    assert [int(r["hour"]) for r in rows] == api.best_time[:, 2].long().tolist()
    assert rows[0]["exif_time"] == folder["expected"][photos[0]][2]  # the EXIF is still shown

    code, out, err = run_cli(monkeypatch, capsys, "predict", *photos, "--checkpoint", run, "--ignore-exif")
    assert code == 0, err
    assert "given" not in out and out.count("\n  EXIF   ") == 4
    alone = predictor.predict_image(photos, exif_place=False)
    assert alone.known_place is None
    assert not torch.allclose(alone.month_hour_posterior, api.month_hour_posterior)

    for bad, message in (("abc", "--place must be LAT,LON in degrees"), ("95,10", "lat")):
        code, _, err = run_cli(monkeypatch, capsys, "predict", *photos, "--checkpoint", run, f"--place={bad}")
        assert code == 2 and err.startswith("error: ") and message in err


def test_features_on_a_folder_writes_what_predict_needs_and_gives_the_same_answers(
    monkeypatch, capsys, folder, toy_world
):
    run = toy_world["run"]
    code, out, err = run_cli(monkeypatch, capsys, "features", "trip", "--backbone", "toy", "--out", "f")
    assert code == 0, err
    assert f"EXIF of the {N_PHOTOS + 1} photos in f/exif.csv: {N_PHOTOS} with GPS, {N_PHOTOS} with a time" in out
    assert "skipped trip/raw.cr2: not an image" in err and "trip/day2/broken.jpg" in err
    code, _, err = run_cli(monkeypatch, capsys, "predict", "--features", "f", "--checkpoint", run, "--out", "c.csv")
    assert code == 0, err
    # a folder this small gets ten crops by default; the toy run was trained on one, so its photos are read as ten
    # crops only when asked (a run trained on ten-crop features asks by itself)
    args = ("predict", "trip", "--checkpoint", run, "--tencrop", "--out", "p.csv")
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    cached, files = rows_of(folder["root"] / "c.csv"), rows_of(folder["root"] / "p.csv")
    assert cached == files  # the same photos, names, answers, EXIF and known places


def test_features_needs_photos_or_records_and_predict_shows_progress_when_asked(monkeypatch, capsys, folder, toy_world):
    code, _, err = run_cli(monkeypatch, capsys, "features", "--out", "f")
    assert code == 2 and "give photo files or folders, or --records R.csv" in err
    code, _, err = run_cli(monkeypatch, capsys, "features", "trip", "--records", "r.csv", "--out", "f")
    assert code == 2 and "give photo files or folders, or --records R.csv" in err
    (folder["root"] / "empty").mkdir()
    code, _, err = run_cli(monkeypatch, capsys, "predict", "empty", "--checkpoint", toy_world["run"])
    assert code == 2 and "no photos in empty" in err
    args = ("predict", "trip/day1", "--checkpoint", toy_world["run"], "--progress")
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0 and "predict: 100%" in err and "10/10" in err
