"""`gtloc library evaluate`: hide-and-recover by photo or by session, every source beside PhotoPrism's rule."""

from __future__ import annotations

import json
from datetime import timedelta

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
from helpers.library import T0, photo
from helpers.toydata import ToyBackbone, register_backbone
from test_library_fill import make_library


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


def test_folds_and_sessions(lib):
    assert evaluate_library(lib, hide="place", folds=4).folds == 4
    arrays = LibraryArrays.of(Library.open(lib).photos)
    sessions = units_of(arrays, "session")
    assert len(np.unique(sessions[arrays.has_place])) == 1  # the phone's one day
    with pytest.raises(GtlocError, match="unit"):
        evaluate_library(lib, hide="place", unit="camera")
    with pytest.raises(GtlocError, match="folds"):
        evaluate_library(lib, hide="place", folds=-1)


def test_hiding_times_without_a_model_scores_the_reference(lib):
    result = evaluate_library(lib, hide="time", folds=5)
    assert [s.method for s in result.scores] == ["common_time"]
    assert result.scores[0].coverage == 1.0


def test_the_cli_prints_the_table_and_writes_json(lib, tmp_path, monkeypatch, capsys):
    register_backbone(monkeypatch, ToyBackbone())
    status, stdout, _ = run_cli(monkeypatch, capsys, "library", "evaluate", lib, "--hide", "place", "--folds", "5",
                                "--out", tmp_path / "scores.json")  # fmt: skip
    assert status == 0 and "hid 40 places by photo, 5 folds" in stdout and "| photoprism | 40 |" in stdout
    scores = json.loads((tmp_path / "scores.json").read_text())["scores"]
    assert {s["method"] for s in scores} >= {"track", "combined", "photoprism"}
    assert next(s for s in scores if s["method"] == "photoprism")["within_radius"] is None
