"""The embedded synthetic world: physics of single scenes, sampling, determinism, records and the CLI."""

from datetime import datetime, timezone

import numpy as np
import pytest
from typer.testing import CliRunner

from gtloc.data.schema import RECORD_COLUMNS
from gtloc.data.world import generate_world, render_scene, sample_scenes, scene_at
from gtloc.data.world.appearance import appearance_fields
from gtloc.data.world.climate import ARID, CLIMATES, OVERCAST, TEMPERATE, climate_zone
from gtloc.data.world.ground import render_ground, shadow_capsules, shadow_length
from gtloc.data.world.layout import POLE, Layout
from gtloc.data.world.objects import lit_window_fraction
from gtloc.data.world.sky import View, scene_light
from gtloc.errors import ParameterError
from gtloc.timecode import utc_to_local

UTC = timezone.utc
OSLO = (59.91, 10.75)
SYDNEY = (-33.87, 151.21)
SIZE = 64


def _render(lat, lon, when, **kw):
    scene = scene_at(lat, lon, when, seed=kw.pop("seed", 3), **kw)
    return scene, render_scene(scene, SIZE, np.random.default_rng(0))


def test_noon_is_brighter_than_midnight():
    _, noon = _render(48.85, 2.35, datetime(2021, 6, 21, 11, 50, tzinfo=UTC), cloud=0.0, heading=0.0)
    _, night = _render(48.85, 2.35, datetime(2021, 6, 21, 23, 50, tzinfo=UTC), cloud=0.0, heading=0.0)
    assert noon.mean() > night.mean() + 40


def test_snow_in_oslo_january_not_july():
    jan, jan_img = _render(*OSLO, datetime(2021, 1, 15, 11, 0, tzinfo=UTC), cloud=0.0, heading=0.0, horizon=0.4)
    jul, jul_img = _render(*OSLO, datetime(2021, 7, 15, 11, 0, tzinfo=UTC), cloud=0.0, heading=0.0, horizon=0.4)
    assert jan.snow > 0.5 and jul.snow == 0.0

    def whitish(img):  # share of bright, grey-white ground pixels (the lower half of the picture)
        ground = img[SIZE // 2 :].astype(float)
        return np.mean((ground.min(-1) > 0.75 * ground.max(-1)) & (ground.mean(-1) > 120))

    assert whitish(jan_img) > whitish(jul_img) + 0.3


def test_southern_hemisphere_seasons_are_flipped():
    syd_jul = scene_at(*SYDNEY, datetime(2021, 7, 15, 2, 0, tzinfo=UTC), weather_c=0.0)
    syd_jan = scene_at(*SYDNEY, datetime(2021, 1, 15, 2, 0, tzinfo=UTC), weather_c=0.0)
    oslo_jan = scene_at(*OSLO, datetime(2021, 1, 15, 11, 0, tzinfo=UTC), weather_c=0.0)
    oslo_jul = scene_at(*OSLO, datetime(2021, 7, 15, 11, 0, tzinfo=UTC), weather_c=0.0)
    assert syd_jul.temperature < syd_jan.temperature
    # Sydney in July is in its winter state (like Oslo in January), not its summer state (like Oslo in July).
    assert syd_jul.leaf_off > 0.5 and oslo_jan.leaf_off > 0.5
    assert syd_jan.leaf_off < 0.1 and oslo_jul.leaf_off < 0.1
    assert syd_jul.dormant > syd_jan.dormant


def test_desert_boxes_and_zones():
    assert climate_zone(25.0, 10.0) == ARID  # Sahara
    assert climate_zone(33.4, -112.0) == ARID  # Phoenix
    assert climate_zone(48.85, 2.35) == TEMPERATE  # Paris is not a desert
    assert CLIMATES[int(climate_zone(78.2, 15.6))] == "polar"
    assert CLIMATES[int(climate_zone(1.3, 103.8))] == "tropical"


def _one_pole_layout(z: float) -> Layout:
    return Layout(
        road=(0.0, 50.0, 2.0),
        kind=np.array([POLE]),
        x=np.array([0.0]),
        z=np.array([z]),
        height=np.array([8.0]),
        width=np.array([0.2]),
        depth=np.array([0.0]),
        colour=np.full((1, 3), 0.1, np.float32),
        roof=np.zeros((1, 3), np.float32),
        pitched=np.array([False]),
        evergreen=np.array([False]),
        tone=np.zeros(1),
        window=(3.0, 3.1, 0.5, 0.5),
        urban=0.0,
        trees=0.0,
        texture_offset=(0.0, 0.0),
    )


@pytest.mark.parametrize("sun_azimuth, away", [(180.0, 1.0), (0.0, -1.0)])
def test_shadows_point_away_from_the_sun(sun_azimuth, away):
    scene = scene_at(48.85, 2.35, datetime(2021, 6, 21, 11, 0, tzinfo=UTC), cloud=0.0, weather_c=0.0)
    view = View.build(128, 60.0, 0.4, 3.0, heading=0.0, sun_el=30.0, sun_az=sun_azimuth)
    layout = _one_pole_layout(20.0)
    ax, az, bx, bz, _ = shadow_capsules(layout, view)[0]
    assert np.sign(bz - az) == away and abs(bx - ax) < 1e-6
    assert np.hypot(bx - ax, bz - az) == pytest.approx(8.0 / np.tan(np.radians(30.0)))
    start = round(view.horizon)
    haze = np.zeros(3, np.float32)
    lit = scene_light(30.0, 0.0, False, 0.0)
    with_shadow = render_ground(view, lit, scene, layout, start, haze, 1e9)
    lit.shadow = 0.0
    without = render_ground(view, lit, scene, layout, start, haze, 1e9)
    rows = np.nonzero((with_shadow.sum(-1) < 0.9 * without.sum(-1)).any(axis=1))[0] + start
    assert len(rows) > 0
    distance = view.height * view.focal / (rows + 0.5 - view.horizon)  # ground distance of the shadowed rows
    assert np.sign(np.median(distance) - 20.0) == away


def test_shadow_length_is_capped_at_low_sun():
    assert shadow_length(10.0, 45.0) == pytest.approx(10.0)
    assert shadow_length(10.0, 0.0) == shadow_length(10.0, -5.0) <= 120.0
    assert shadow_length(1.0, 0.2) == pytest.approx(1.0 / np.tan(np.radians(1.0)))


def test_sun_disk_appears_when_looking_at_the_low_sun():
    when = datetime(2021, 6, 21, 19, 0, tzinfo=UTC)
    scene = scene_at(48.85, 2.35, when, cloud=0.0, weather_c=0.0)
    _, img_t = _render(48.85, 2.35, when, cloud=0.0, heading=scene.sun_azimuth, horizon=0.6)
    _, img_a = _render(48.85, 2.35, when, cloud=0.0, heading=scene.sun_azimuth + 180, horizon=0.6)
    _, img_o = _render(48.85, 2.35, when, cloud=0.95, heading=scene.sun_azimuth, horizon=0.6)
    assert (img_t[: int(0.6 * SIZE)].min(-1) > 245).sum() > 0
    assert (img_a[: int(0.6 * SIZE)].min(-1) > 245).sum() == 0
    assert (img_o[: int(0.6 * SIZE)].min(-1) > 245).sum() == 0  # overcast hides the sun
    assert scene_light(30.0, 0.95, True, 0.5).shadow == 0.0 and scene_light(30.0, 0.0, False, 0.5).shadow > 0.5


def test_more_lit_windows_in_the_evening_than_small_hours():
    assert lit_window_fraction(20.5) > 3 * lit_window_fraction(3.5)
    assert lit_window_fraction(23.9) == pytest.approx(lit_window_fraction(-0.1))


def test_appearance_field_is_smooth_and_regional():
    f = appearance_fields(np.array([48.85, 48.95, -33.87]), np.array([2.35, 2.45, 151.21]))
    assert f.shape[0] == 3 and np.all((f > 0) & (f < 1))
    near = np.abs(f[0] - f[1]).max()
    far = np.abs(f[0] - f[2]).mean()
    assert near < 0.03 and far > 5 * near


def test_sample_scenes_cover_day_night_and_year():
    scenes = sample_scenes(300, 7)
    assert len(scenes) == 300
    assert (scenes.sun_elevation < -6).mean() > 0.2 and (scenes.sun_elevation > 10).mean() > 0.2
    assert set(scenes.times[:, 0].astype(int)) == set(range(1, 13))
    assert len(set(scenes.times[:, 2].astype(int))) == 24
    # Cloud cover is a mix of clear (< 0.15), broken (0.25-0.65) and overcast (>= 0.82) skies, each common.
    cloud = scenes.cloud
    bands = [(cloud < 0.15), (cloud >= 0.25) & (cloud <= 0.65), (cloud >= OVERCAST + 0.02)]
    assert all(band.mean() > 0.15 for band in bands) and np.logical_or.reduce(bands).all()


def test_fixed_camera_world_shares_places_and_layouts():
    scenes = sample_scenes(24, 3, cameras=4)
    assert sorted(set(scenes.camera.tolist())) == [0, 1, 2, 3]
    for cam in range(4):
        sel = scenes.camera == cam
        assert sel.sum() == 6
        assert len(set(scenes.layout_seed[sel].tolist())) == 1 and len(set(scenes.lat[sel].tolist())) == 1
        assert len(set(scenes.unix_ts[sel].tolist())) == 6


def test_generate_world_is_deterministic_and_records_local_time(tmp_path):
    a = generate_world(10, 5, tmp_path / "a", size=32, progress=False)
    generate_world(10, 5, tmp_path / "b", size=32, workers=2, progress=False)
    generate_world(10, 6, tmp_path / "c", size=32, progress=False)
    assert (tmp_path / "a/records.csv").read_bytes() == (tmp_path / "b/records.csv").read_bytes()
    assert (tmp_path / "a/records.csv").read_bytes() != (tmp_path / "c/records.csv").read_bytes()
    for path in a.paths:
        assert (tmp_path / "a/images" / path).read_bytes() == (tmp_path / "b/images" / path).read_bytes()
    header = (tmp_path / "a/records.csv").read_text().splitlines()[0].split(",")
    assert tuple(header[: len(RECORD_COLUMNS)]) == RECORD_COLUMNS
    assert {"sun_elevation", "sun_azimuth", "climate", "cloud", "snow", "camera_heading"} <= set(header)
    for i in range(len(a)):
        utc = datetime.fromtimestamp(int(a.extras["unix_ts"][i]), UTC)
        local = utc_to_local(utc, *a.latlon[i])
        assert list(a.times[i]) == [local.month, local.day, local.hour, local.minute, local.second]
        assert a.extras["year"][i] == str(local.year)


def test_cameras_column_and_bad_arguments(tmp_path):
    records = generate_world(8, 1, tmp_path / "w", size=16, cameras=2, progress=False)
    assert sorted(set(records.extras["camera"])) == ["cam0000", "cam0001"]
    for kwargs, parameter, message in (
        ({"n": 0}, "n", "world size n must be at least 1, got 0"),
        ({"size": 8}, "size", "image size must be at least 16 pixels, got 8"),
        ({"cameras": 5}, "cameras", "cameras must be between 0 and n=2, got 5"),
    ):
        with pytest.raises(ParameterError) as info:
            generate_world(**{"n": 2, "seed": 1, "out_dir": tmp_path / "x", **kwargs})
        assert (info.value.parameter, str(info.value)) == (parameter, message)


def test_cli_world(tmp_path):
    from gtloc.cli import app

    result = CliRunner().invoke(
        app, ["world", "--n", "3", "--seed", "2", "--out", str(tmp_path / "w"), "--size", "32", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.output
    assert (tmp_path / "w/records.csv").is_file() and len(list((tmp_path / "w/images").rglob("*.jpg"))) == 3
