"""The model-free checks of a claim (clock, sun), their shared result type, the combination rule, and `gtloc sun`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from gtloc.data.exif import CameraSettings, PhotoExif, read_photo_exif
from gtloc.evidence import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, Check, check_clock, check_sun, combine
from gtloc.evidence.light import exposure_value
from gtloc.sun import light_at, sun_position
from gtloc.timecode import parse_instant
from helpers.cli import run_cli
from test_exif import gps_tags

FIXTURES = Path(__file__).parent / "fixtures" / "exif-photos"
SONY = FIXTURES / "Sony_DSC-HX5V_2.jpg"  # Germany, 2010-05-15 15:12:07 UTC, EV 11.3, flash off
SONY_PLACE = (51.778615, 8.365638)
SONY_UTC = datetime(2010, 5, 15, 15, 12, 7, tzinfo=timezone.utc)
BASE = ExifTags.Base


def test_check_refuses_an_unknown_verdict():
    with pytest.raises(ValueError, match="not one of"):
        Check("x", "maybe", "")


@pytest.mark.parametrize(
    ("verdicts", "want"),
    [
        ([CONSISTENT, INCONSISTENT, CANNOT_JUDGE], INCONSISTENT),
        ([CONSISTENT, CANNOT_JUDGE], CONSISTENT),
        ([CANNOT_JUDGE, CANNOT_JUDGE], CANNOT_JUDGE),
        ([], CANNOT_JUDGE),
    ],
)
def test_combine_rule(verdicts, want):
    checks = [Check(f"c{i}", v, f"because {i}") for i, v in enumerate(verdicts)]
    result = combine(checks)
    assert result.verdict == want and result.figures == {c.name: c.verdict for c in checks}
    if want == INCONSISTENT:
        assert result.reason == "c1: because 1"


def test_exposure_value_from_exif():
    camera = CameraSettings(exposure_time=1 / 250, f_number=3.5, iso=125)
    assert exposure_value(camera) == pytest.approx(np.log2(3.5**2 * 250) - np.log2(1.25))
    assert exposure_value(CameraSettings(exposure_time=1 / 250, f_number=3.5)) is None  # no ISO
    assert exposure_value(CameraSettings(1 / 250, 3.5, 125, exposure_bias=-1.0)) == pytest.approx(
        exposure_value(camera) - 1.0
    )


def write_exposed(path: Path, exposure, f_number, iso, flash=0, pixels=None) -> Path:
    exif = Image.Exif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[BASE.ExposureTime], sub[BASE.FNumber], sub[BASE.ISOSpeedRatings], sub[BASE.Flash] = (
        exposure,
        f_number,
        iso,
        flash,
    )
    image = pixels if pixels is not None else Image.new("RGB", (64, 48), (128, 128, 128))
    image.save(path, exif=exif)
    return path


@pytest.mark.parametrize(
    ("exposure", "f_number", "iso", "problem"),
    [
        (IFDRational(0, 1), 2.8, 100, "ExposureTime 0 is not a positive number"),
        (IFDRational(1, 100), 2.8, 0, "ISOSpeedRatings 0 is not a positive number"),
        (IFDRational(1, 100), IFDRational(-28, 10), 100, "FNumber -2.8 is not a positive number"),
        (IFDRational(1, 0), 2.8, 100, "ExposureTime has a zero denominator"),
    ],
)
def test_bad_exposure_tags_are_a_problem_not_a_crash(tmp_path, exposure, f_number, iso, problem):
    path = write_exposed(tmp_path / "a.jpg", exposure, f_number, iso)
    info = read_photo_exif(path)
    assert problem in info.camera.problem and exposure_value(info.camera) is None
    check = check_sun(path, *SONY_PLACE, SONY_UTC)
    assert check.verdict == CANNOT_JUDGE and check.figures["ev100"] is None


def night_street(size=(96, 72)) -> Image.Image:
    """A black sky over a dim street with a few lamps."""
    rng = np.random.default_rng(0)
    pixels = rng.normal(12, 4, (size[1], size[0], 3)).clip(0, 255)
    pixels[size[1] // 2 :] += 40
    pixels[size[1] // 2 : size[1] // 2 + 3, ::16] = 250
    return Image.fromarray(pixels.astype(np.uint8))


def day_scene(size=(96, 72)) -> Image.Image:
    """A bright blue sky over a mid-gray ground."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[: size[1] // 2] = (150, 190, 240)
    pixels[size[1] // 2 :] = (110, 100, 90)
    return Image.fromarray(pixels)


def test_sun_check_with_exif_exposure():
    true = check_sun(SONY, *SONY_PLACE, SONY_UTC)
    assert true.verdict == CONSISTENT and true.figures["light_source"] == "exif"
    assert true.figures["ev100"] == pytest.approx(11.26, abs=0.01)
    moved = check_sun(SONY, *SONY_PLACE, SONY_UTC + timedelta(hours=10))  # 01:12 local: sun 20 deg down
    assert moved.verdict == INCONSISTENT and "the camera exposed for daylight" in moved.reason
    assert moved.figures["sun_elevation_deg"] < -6


def test_sun_check_dark_exif_and_flash(tmp_path):
    dark = write_exposed(tmp_path / "dark.jpg", IFDRational(4, 1), 2.0, 1600, pixels=night_street())  # EV -2
    noon = datetime(2021, 6, 21, 11, 0, tzinfo=timezone.utc)
    midnight = datetime(2021, 6, 21, 23, 0, tzinfo=timezone.utc)
    assert check_sun(dark, 47.5, 8.5, noon).verdict == INCONSISTENT
    assert check_sun(dark, 47.5, 8.5, midnight).verdict == CONSISTENT
    flash = write_exposed(tmp_path / "flash.jpg", IFDRational(1, 60), 4.0, 800, flash=1, pixels=night_street())
    check = check_sun(flash, 47.5, 8.5, noon)
    assert check.verdict == CANNOT_JUDGE and "flash fired" in check.reason


def test_an_interior_exposure_is_neither_day_nor_night(tmp_path):
    # EV 6 (a lit room) with a bright ceiling: at night it must not be called daylight.
    room = write_exposed(tmp_path / "room.jpg", IFDRational(1, 30), 2.0, 400, pixels=day_scene())
    assert exposure_value(read_photo_exif(room).camera) == pytest.approx(np.log2(4 * 30) - 2, abs=0.01)
    midnight = datetime(2021, 6, 21, 23, 0, tzinfo=timezone.utc)
    assert check_sun(room, 47.5, 8.5, midnight).verdict == CANNOT_JUDGE


def test_sun_check_from_pixels_alone():
    noon = datetime(2021, 6, 21, 11, 0, tzinfo=timezone.utc)
    midnight = datetime(2021, 6, 21, 23, 0, tzinfo=timezone.utc)
    assert check_sun(day_scene(), 47.5, 8.5, noon).verdict == CONSISTENT
    assert check_sun(day_scene(), 47.5, 8.5, midnight).verdict == INCONSISTENT
    assert check_sun(night_street(), 47.5, 8.5, noon).verdict == INCONSISTENT
    assert check_sun(night_street(), 47.5, 8.5, midnight).figures["light_source"] == "pixels"
    gray = day_scene().convert("L").convert("RGB")  # an infrared night mode looks like this
    check = check_sun(gray, 47.5, 8.5, midnight)
    assert check.verdict == CANNOT_JUDGE and "monochrome" in check.reason


def test_sun_check_abstains_in_twilight():
    dusk = datetime(2021, 6, 21, 19, 40, tzinfo=timezone.utc)  # 21:40 in Zurich: sun about 2 deg down
    assert -6 < sun_position(47.5, 8.5, dusk).elevation_deg < 6
    check = check_sun(day_scene(), 47.5, 8.5, dusk)
    assert check.verdict == CANNOT_JUDGE and "twilight" in check.reason


def test_clock_check_of_the_cameras_own_time_and_of_claims():
    camera = datetime(2021, 6, 1, 14, 30, 5)
    gps = datetime(2021, 6, 1, 12, 30, 4)
    exif = PhotoExif(48.8566, 2.3522, camera, gps_date=gps.date(), gps_clock=gps.time())
    assert check_clock(exif).verdict == CONSISTENT
    utc = gps.replace(tzinfo=timezone.utc)
    assert check_clock(exif, utc + timedelta(minutes=10)).verdict == CONSISTENT
    assert check_clock(exif, utc + timedelta(hours=3)).verdict == INCONSISTENT
    before = check_clock(exif, utc - timedelta(hours=3))
    assert before.verdict == INCONSISTENT and "never taken after the photo" in before.reason
    wrong = PhotoExif(48.8566, 2.3522, camera + timedelta(hours=10), gps_date=gps.date(), gps_clock=gps.time())
    check = check_clock(wrong)
    assert check.verdict == INCONSISTENT and check.reason.endswith("camera set to UTC+12, 10 h ahead of local time")
    assert check.figures["clock_offset_s"] == 12 * 3600 + 1
    stale = PhotoExif(48.8566, 2.3522, camera, gps_date=gps.date() - timedelta(days=3), gps_clock=gps.time())
    assert check_clock(stale).verdict == CANNOT_JUDGE
    assert check_clock(stale, utc).verdict == CANNOT_JUDGE  # later than an old fix: cannot say
    assert check_clock(stale, utc - timedelta(days=4)).verdict == INCONSISTENT  # before the fix: impossible
    assert check_clock(PhotoExif(48.8, 2.3, camera), utc).verdict == CANNOT_JUDGE  # no GPS time


def test_clock_and_sun_on_a_jpeg_with_a_wrong_clock(tmp_path):
    # The case: a camera still on its home zone, 10 h ahead: a daylight scene stamped 03:11 at night.
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update(gps_tags())  # Zurich-ish, UTC+2 in June
    gps[ExifTags.GPS.GPSDateStamp], gps[ExifTags.GPS.GPSTimeStamp] = "2021:06:01", (15.0, 11.0, 0.0)
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[BASE.DateTimeOriginal] = "2021:06:02 03:11:00"
    sub[BASE.ExposureTime], sub[BASE.FNumber], sub[BASE.ISOSpeedRatings] = IFDRational(1, 500), 8.0, 100
    day_scene().save(tmp_path / "a.jpg", exif=exif)
    info = read_photo_exif(tmp_path / "a.jpg")
    claim = parse_instant("2021-06-02 03:11", info.lat, info.lon)  # the camera's time, read as local time
    checks = [check_clock(info), check_sun(tmp_path / "a.jpg", info.lat, info.lon, claim)]
    assert [c.verdict for c in checks] == [INCONSISTENT, INCONSISTENT]
    assert "10 h ahead of local time" in checks[0].reason
    assert combine(checks).verdict == INCONSISTENT


def test_light_bands_and_sun_position():
    assert [light_at(e) for e in (10, -0.5, -3, -9, -15, -30)] == [
        "day",
        "day",
        "civil twilight",
        "nautical twilight",
        "astronomical twilight",
        "night",
    ]
    paris = sun_position(48.8566, 2.3522, datetime(2013, 1, 20, 18, 54))  # naive: local time in Paris
    assert paris.utc == datetime(2013, 1, 20, 17, 54, tzinfo=timezone.utc)
    assert paris.elevation_deg == pytest.approx(-13.64, abs=0.01) and paris.light == "astronomical twilight"
    assert paris.compass == "WSW"


@pytest.mark.parametrize(
    "text", ["2013-01-20 18:54+01:00", "2013-01-20T17:54Z", "2013-01-20 18:54", "2013:01:20 18:54:00"]
)
def test_parse_instant_forms(text):
    assert parse_instant(text, 48.8566, 2.3522) == datetime(2013, 1, 20, 17, 54, tzinfo=timezone.utc)


def test_cli_sun(monkeypatch, capsys):
    status, out, _ = run_cli(
        monkeypatch, capsys, "sun", "--lat", "48.8566", "--lon", "2.3522", "--time", "2013-01-20 18:54+01:00"
    )
    assert status == 0
    assert out.splitlines() == [
        "sun at 48.8566, 2.3522 on 2013-01-20 17:54:00 UTC (2013-01-20 18:54:00 local time, Europe/Paris)",
        "  elevation   -13.6 deg (above the horizon, negative below; with refraction)",
        "  azimuth     255.2 deg (WSW, clockwise from north)",
        "  light      astronomical twilight",
    ]
    status, _, err = run_cli(monkeypatch, capsys, "sun", "--lat", "48", "--lon", "2", "--time", "noon")
    assert status == 2 and "invalid time 'noon': not a time" in err
    status, _, err = run_cli(monkeypatch, capsys, "sun", "--lat", "95", "--lon", "2", "--time", "2013-01-20T12:00Z")
    assert status == 2 and "invalid lat 95.0" in err
