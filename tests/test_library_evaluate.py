"""`gtloc library evaluate`: hide-and-recover by photo or by session, every source beside PhotoPrism's rule."""

from __future__ import annotations

import json
from datetime import timedelta, timezone

import numpy as np
import pytest

from gtloc.errors import GtlocError
from gtloc.library.arrays import LibraryArrays
from gtloc.library.baselines import nearest_in_time, photoprism
from gtloc.library.catalog import Library
from gtloc.library.evaluate import PLACE_METHODS, evaluate_library, units_of
from gtloc.library.scan import scan_library
from gtloc.library.timeline import utc_timeline
from helpers.cli import run_cli
from helpers.library import PHONE, T0, photo, write_photo
from helpers.toydata import ToyBackbone, register_backbone
from test_library_fill import ZURICH, make_library

TRAVEL = {"make": "SONY", "model": "DSC-HX90V", "serial": "T1"}


@pytest.fixture
def lib(tmp_path):
    make_library(tmp_path / "photos")
    scan_library(tmp_path / "photos", tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    return tmp_path / "lib"


def test_photoprism_looks_36_hours_away_and_the_nearest_in_time_without_limit():
    photos = [photo("a.jpg", 47.0, 8.0, T0, "p"), photo("b.jpg", when=T0 + timedelta(hours=40), camera="d")]
    arrays = LibraryArrays.of(photos)
    utc = utc_timeline(arrays)
    assert len(photoprism(arrays, utc, np.array([1]))) == 0
    nearest = nearest_in_time(arrays, utc, np.array([1]))
    assert nearest.latlon.tolist() == [[47.0, 8.0]] and np.isnan(nearest.radius_km).all()


def test_leave_one_out_scores_every_method_on_every_hidden_photo(lib):
    result = evaluate_library(lib, hide="place")
    assert result.folds == 40 and len(result.hidden) == 40
    scores = {s.method: s for s in result.scores}
    assert set(scores) == set(PLACE_METHODS) - {"model"}
    assert all(s.hidden == 40 for s in scores.values())
    track, prism = scores["track"], scores["photoprism"]
    assert track.answered >= 30 and track.median_error < 1.0 and track.within_radius >= 0.8
    assert prism.coverage == 1.0 and np.isnan(prism.within_radius)
    assert "| combined | 40 |" in result.table()
    assert "warning: only 40 photos have a GPS place" in result.table()  # a small library is said to be one


def test_the_far_budget_is_applied_once_to_every_folds_chosen_places(lib, monkeypatch):
    from gtloc.library.choose import Chooser

    seen = []
    keep = Chooser.keep_within_budget

    def spy(self, combined):
        seen.append(len(combined))
        return keep(self, combined)

    monkeypatch.setattr(Chooser, "keep_within_budget", spy)
    result = evaluate_library(lib, hide="place")  # 40 folds of one photo each
    assert result.folds == 40 and len(seen) == 1 and seen[0] > 1  # not 40 budgets of one answer each
    assert len(result.answers["combined"]) <= seen[0]


def test_folds_and_sessions(lib):
    assert evaluate_library(lib, hide="place", folds=4).folds == 4
    arrays = LibraryArrays.of(Library.open(lib).photos)
    sessions = units_of(arrays, "session")
    assert len(np.unique(sessions[arrays.has_place])) == 1  # the phone's one day
    with pytest.raises(GtlocError, match="unit"):
        evaluate_library(lib, hide="place", unit="camera")
    with pytest.raises(GtlocError, match="folds"):
        evaluate_library(lib, hide="place", folds=-1)


def test_hiding_times_without_a_model_scores_the_clock_and_the_reference(lib):
    result = evaluate_library(lib, hide="time", folds=5)
    assert [s.method for s in result.scores] == ["clock", "common_time"]
    assert result.scores[0].hidden == 0  # no clock was found wrong here
    assert result.scores[1].coverage == 1.0 and "no date can be recovered" in result.table()


def test_hiding_a_wrong_clocks_gps_time_recovers_it_from_the_cameras_other_photos(tmp_path):
    """A travel camera 3 h ahead of local time (its home zone) with GPS time stamps, and a phone that is right."""
    root = tmp_path / "photos"
    for i in range(12):
        utc = (T0 - timedelta(hours=2) + timedelta(minutes=20 * i)).replace(tzinfo=timezone.utc)
        lon = ZURICH[1] + i * 0.01
        write_photo(root, f"travel/DSC{i:05d}.JPG", scene=i, lat=ZURICH[0], lon=lon, gps_utc=utc,
                    when=T0 + timedelta(hours=3, minutes=20 * i), camera=TRAVEL)  # fmt: skip
        write_photo(root, f"phone/IMG_{i:04d}.JPG", scene=50 + i, lat=ZURICH[0], lon=lon, gps_utc=utc, offset_h=2,
                    when=T0 + timedelta(minutes=20 * i, seconds=30), camera=PHONE)  # fmt: skip
    scan_library(root, tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    result = evaluate_library(tmp_path / "lib", hide="time", folds=4)
    clock = result.scores[0]
    assert (clock.method, clock.hidden, clock.answered) == ("clock", 12, 12)
    assert clock.median_error < 1 / 60 and clock.within_radius == 1.0  # to the minute, date and all
    assert "of the 12 photos whose clock was right, 0 were changed" in result.table()


def test_the_cli_prints_the_table_and_writes_json(lib, tmp_path, monkeypatch, capsys):
    register_backbone(monkeypatch, ToyBackbone())
    status, stdout, _ = run_cli(monkeypatch, capsys, "library", "evaluate", lib, "--hide", "place", "--folds", "5",
                                "--out", tmp_path / "scores.json")  # fmt: skip
    assert status == 0 and "hid 40 places by photo, 5 folds" in stdout and "| photoprism | 40 |" in stdout
    scores = json.loads((tmp_path / "scores.json").read_text())["scores"]
    assert {s["method"] for s in scores} >= {"track", "combined", "photoprism"}
    assert next(s for s in scores if s["method"] == "photoprism")["within_radius"] is None
