"""Report helpers: the markdown metrics table and the two plots (valid PNGs, written atomically, clear errors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gtloc.errors import GtlocError
from gtloc.evaluation.report import evaluation_table, land_mask, metrics_table, plot_time_posteriors, plot_world_map

FIXTURES = Path(__file__).parent / "fixtures" / "backbones"

GTLOC = {
    "n": {"matched": 40, "geo": 40, "time": 40},
    "geo": {
        "median_km": 1234.56,
        "acc_1km": 0.0,
        "acc_25km": 0.05,
        "acc_200km": 0.125,
        "acc_750km": 0.4,
        "acc_2500km": 0.875,
    },
    "time": {"month_error": 1.234, "hour_error": 2.5},
}


def test_metrics_table_has_a_row_per_method_and_units_in_the_header():
    table = metrics_table({"gtloc": GTLOC, "constant": {"month_error": 2.71, "hour_error": 3.04}})
    lines = table.splitlines()
    assert lines[0] == (
        "| method | n | month err (months) | hour err (h) | median km | acc@1km % | acc@25km % | acc@200km % "
        "| acc@750km % | acc@2500km % |"
    )
    assert lines[1] == "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    assert lines[2] == "| gtloc | 40 | 1.23 | 2.50 | 1234.6 | 0.0 | 5.0 | 12.5 | 40.0 | 87.5 |"
    assert lines[3] == "| constant |  | 2.71 | 3.04 | - | - | - | - | - | - |"
    assert table.endswith("\n") and len(lines) == 4


def test_evaluation_table_lists_pooled_then_groups():
    result = {**GTLOC, "group_by": "camera", "groups": {"cam1": GTLOC, "cam2": {**GTLOC, "geo": None}}}
    lines = evaluation_table(result).splitlines()
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| all", "| camera=cam1", "| camera=cam2"]
    assert lines[4].endswith("| 1.23 | 2.50 | - | - | - | - | - | - |")


def test_land_mask_knows_land_from_sea():
    mask = land_mask()
    assert mask.shape == (360, 720)

    def at(lat: float, lon: float) -> bool:
        return bool(mask[int((90 - lat) * 2), int((lon + 180) * 2)])

    assert (
        at(48.86, 2.35) and at(-15.0, -55.0) and at(-25.0, 134.0) and at(-85.0, 0.0)
    )  # Paris, Brazil, Australia, Antarctica
    assert not at(0.0, -30.0) and not at(-40.0, 90.0) and not at(30.0, -150.0)  # Atlantic, Indian, Pacific oceans
    assert 0.25 < mask.mean() < 0.45  # land is ~29 % of the area, more of the rows near the poles


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        return image.size


def test_world_map_is_a_png_and_leaves_no_temporary_file(tmp_path):
    true = np.array([[51.5, -0.13], [-33.9, 151.2], [-20.0, 175.0], [10.0, 10.0]])
    pred = np.array([[48.9, 2.35], [35.7, 139.7], [-15.0, -170.0], [np.nan, np.nan]])
    out = tmp_path / "plots" / "map.png"
    plot_world_map(pred, true, out, title="test map")
    width, height = png_size(out)
    assert width > 1000 and 0.4 < height / width < 0.7
    assert [p.name for p in out.parent.iterdir()] == ["map.png"]


def test_world_map_rejects_mismatched_inputs(tmp_path):
    with pytest.raises(GtlocError, match=r"pred_latlon has 2 rows but true_latlon has 1"):
        plot_world_map(np.zeros((2, 2)), np.zeros((1, 2)), tmp_path / "m.png")
    with pytest.raises(GtlocError, match=r"true_latlon must have shape \(N, 2\).*got \(3,\)"):
        plot_world_map(np.zeros((3, 2)), np.zeros(3), tmp_path / "m.png")
    assert not list(tmp_path.iterdir())


def test_time_posteriors_plot_pictures_next_to_heatmaps(tmp_path):
    rng = np.random.default_rng(0)
    grids = rng.dirichlet(np.ones(12 * 24), 3).reshape(3, 12, 24)
    truths = np.array([[7, 15, 14, 30, 0], [12, 31, 23, 30, 0], [np.nan] * 5])
    images = [FIXTURES / "hay-bales.jpg", str(FIXTURES / "street-sign.jpg"), Image.new("RGB", (64, 48), "navy")]
    out = tmp_path / "posteriors.png"
    plot_time_posteriors(images, grids, truths, out, predictions=truths[[1, 0, 0]], titles=["a", "b", "c"])
    width, height = png_size(out)
    assert height > width * 0.6  # three rows of picture + heatmap
    one = tmp_path / "one.png"
    plot_time_posteriors(images[:1], grids[:1], truths[:1], one)
    assert png_size(one)[1] < height / 2


def test_time_posteriors_check_shapes(tmp_path):
    with pytest.raises(GtlocError, match=r"for 2 images expected month_hour_posteriors \(N, 12, 24\), got \(2, 12\)"):
        plot_time_posteriors([Image.new("RGB", (8, 8))] * 2, np.ones((2, 12)), np.zeros((2, 5)), tmp_path / "p.png")


def test_world_map_lines_take_the_short_way_across_the_date_line():
    from gtloc.evaluation.report import map_segments

    true = np.array([[10.0, 170.0], [-20.0, -175.0], [45.0, 2.0]])
    pred = np.array([[12.0, -170.0], [-22.0, 178.0], [40.0, -3.0]])
    segments = map_segments(true, pred)
    # Every line spans at most 180 degrees of longitude (the long way round spans 340 and 353 here).
    assert (np.abs(segments[:, 1, 0] - segments[:, 0, 0]) <= 180).all()
    # The two date-line crossings are drawn from both sides; the Paris line once, as it is.
    assert len(segments) == 5
    np.testing.assert_allclose(segments[0], [[170, 10], [190, 12]])
    np.testing.assert_allclose(segments[3], [[-190, 10], [-170, 12]])
    np.testing.assert_allclose(segments[1], [[-175, -20], [-182, -22]])
    np.testing.assert_allclose(segments[4], [[185, -20], [178, -22]])
    np.testing.assert_allclose(segments[2], [[2, 45], [-3, 40]])
