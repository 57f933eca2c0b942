"""Reading the light of a picture (gtloc.evidence.light) and the sun check on kinds of real pictures.

Each synthetic picture stands for a kind of real one (a webcam frame of a lit street at night, a dull day, a
sunset, an infrared night mode...). The sun check must never call a true claim inconsistent, and must catch the
clear cases; the real fixture photos are checked as they are and with their exposure tags removed.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gtloc.data.exif import CameraSettings, PhotoExif, read_photo_exif
from gtloc.evidence import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, check_sun
from gtloc.evidence.light import GRAIN, pixel_light, pixel_reading
from gtloc.sun import sun_position
from gtloc.timecode import local_to_utc
from helpers.pictures import MIDNIGHT, NO_EXIF, NOON, ZURICH, scene

FIXTURES = Path(__file__).parent / "fixtures" / "exif-photos"


def textured(colour, size=(160, 120), seed=0) -> Image.Image:
    """A surface filling the frame (leaves, a sunlit wall), textured at a few pixels."""
    rng = np.random.default_rng(seed)
    shade = rng.uniform(0.6, 1.2, (size[1] // 4 + 1, size[0] // 4 + 1)).repeat(4, 0).repeat(4, 1)
    pixels = shade[: size[1], : size[0], None] * np.array(colour, np.float32)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def facade(size=224) -> Image.Image:
    """A dark gray building front filling the frame, its windows in rows (a dull day): smooth cells, but no sky."""
    pixels = np.full((size, size, 3), (60, 60, 62), np.float32)
    for y in range(10, size, 62):
        for x in range(8, size, 56):
            pixels[y : y + 40, x : x + 34] = (140, 145, 160)
    return Image.fromarray(pixels.astype(np.uint8))


def foliage() -> Image.Image:
    return textured((60, 120, 40))


DAY = {
    "clear blue sky": scene((120, 170, 235), (110, 105, 90)),
    "deep blue sky, polarised": scene((40, 90, 190), (120, 110, 80)),
    "white overcast sky": scene((215, 218, 222), (100, 105, 95)),
    "dull day, webcam grain": scene((175, 178, 182), (95, 100, 90), noise=2.0),
    "sunlit wall filling the frame": textured((190, 175, 150)),
}
NIGHT = {
    "black frame": scene((4, 4, 6), (15, 14, 12)),
    "lit street under a black sky": scene((6, 6, 10), (95, 75, 50), lamps=12),
    "dim sky over a dim scene": scene((45, 40, 50), (30, 28, 25)),
    "amplified webcam night": scene((60, 55, 50), (70, 60, 45), noise=9.0),
    "city glow on clouds over a dark street": scene((110, 90, 70), (50, 45, 40)),
}


@pytest.mark.parametrize("name", DAY)
def test_a_lit_day_is_consistent_at_noon_and_caught_at_midnight(name):
    noon = check_sun(DAY[name], *ZURICH, NOON, exif=NO_EXIF)
    assert noon.verdict == CONSISTENT, noon.reason
    assert noon.figures["picture_light"] == "daylight" and noon.figures["light_source"] == "pixels"
    midnight = check_sun(DAY[name], *ZURICH, MIDNIGHT, exif=NO_EXIF)
    assert midnight.verdict == INCONSISTENT and "but" in midnight.reason


@pytest.mark.parametrize("name", NIGHT)
def test_a_night_frame_is_consistent_at_midnight_and_caught_at_noon(name):
    midnight = check_sun(NIGHT[name], *ZURICH, MIDNIGHT, exif=NO_EXIF)
    assert midnight.verdict == CONSISTENT, midnight.reason
    noon = check_sun(NIGHT[name], *ZURICH, NOON, exif=NO_EXIF)
    assert noon.verdict == INCONSISTENT and noon.figures["picture_light"] == "dark"


@pytest.mark.parametrize(
    ("name", "picture", "when"),
    [
        # A dark canopy over a sunlit field, as exposed and 1 EV darker: a black top is not a night sky.
        ("canopy over a field", scene((6, 8, 5), (150, 130, 80), horizon=0.35), NOON),
        ("canopy over a field, 1 EV under", scene((4, 5, 3), (110, 95, 58), horizon=0.35), NOON),
        ("leaves filling the frame", foliage(), NOON),
        # A gray facade filling the frame on a dull day: its wall is smooth and dim, but no sky is open above it.
        ("gray facade filling the frame", facade(), NOON),
        # A sunset: an orange sky over a black silhouette, the sun still 9 deg up: neither day nor night.
        ("orange sunset sky", scene((235, 150, 70), (20, 15, 12), horizon=0.6), "sunset"),
        # The same sunset 1 EV under: a dim orange sky over a black ground, but a sunset's vivid orange, not a glow.
        ("orange sunset sky, 1 EV under", scene((172, 108, 48), (14, 10, 8), horizon=0.4), "sunset"),
        # A dull day 2 EV under through a warm white balance: a faintly orange sky, not a city's glow.
        ("warm dull day, 2 EV under", scene((88, 80, 70), (70, 60, 35)), NOON),
        # A day 2 EV under whose blue sky a warm white balance made faintly blue: not a dim night sky.
        ("faintly blue dim day", scene((60, 70, 86), (45, 45, 40)), NOON),
        # A dull day under a warm white balance: a dim, muted orange sky over a ground nearly as bright (0.83 of it).
        ("warm dull day, ground nearly as bright as its sky", scene((105, 88, 70), (82, 74, 63)), NOON),
        # Dust in the air at noon: a muted orange sky over a ground as bright as it.
        ("dusty day", scene((150, 122, 95), (140, 120, 100)), NOON),
        # A city night under an orange overcast sky, brightened by the camera: not daylight.
        ("orange overcast night", scene((170, 120, 80), (120, 100, 80)), MIDNIGHT),
        # A night brightened by a starlight webcam: a bright scene under a dimmer gray sky is not a day.
        ("night brightened by the camera", scene((110, 112, 118), (125, 115, 100)), MIDNIGHT),
        # A deep blue sky too dim for a day at noon, seen at midnight (a moonlit long exposure): not day.
        ("dim blue night sky", scene((30, 45, 80), (25, 25, 25)), MIDNIGHT),
    ],
)
def test_hard_pictures_are_never_a_false_alarm(name, picture, when):
    if when == "sunset":
        when = datetime(2021, 6, 21, 18, 20, tzinfo=timezone.utc)
        assert 8 < sun_position(*ZURICH, when).elevation_deg < 10
    check = check_sun(picture, *ZURICH, when, exif=NO_EXIF)
    assert check.verdict != INCONSISTENT, check.reason


def test_monochrome_pictures_abstain_even_tinted():
    gray = scene((90, 90, 90), (150, 150, 150))  # an infrared night mode: the lit ground, a dark sky
    tinted = Image.fromarray((np.asarray(gray, np.float32) * [1.0, 0.9, 1.05]).clip(0, 255).astype(np.uint8))
    for picture in (gray, tinted):
        check = check_sun(picture, *ZURICH, NOON, exif=NO_EXIF)
        assert check.verdict == CANNOT_JUDGE and "monochrome" in check.reason


def camera(ev: float, iso: float = 100.0) -> PhotoExif:
    """EXIF of an exposure at ``ev`` (EV100): f/2, ISO 100 unless told."""
    time = 4.0 / 2.0**ev * 100.0 / iso
    return PhotoExif(camera=CameraSettings(exposure_time=time, f_number=2.0, iso=iso, flash_fired=False))


def test_exposure_and_pixels_are_two_readings_that_must_not_disagree():
    moon = scene((3, 3, 4), (3, 3, 4))
    moon.paste((250, 250, 240), (70, 20, 90, 40))  # the moon filling a small part of a black frame, EV 14
    check = check_sun(moon, *ZURICH, MIDNIGHT, exif=camera(14.0))
    assert check.verdict == CANNOT_JUDGE and "disagree" in check.reason
    nd_filter = DAY["clear blue sky"]  # a long exposure through a dark filter by day: EV 2 in EXIF
    check = check_sun(nd_filter, *ZURICH, NOON, exif=camera(2.0))
    assert check.verdict == CANNOT_JUDGE and "disagree" in check.reason
    # A phone's night mode brightens a night: the pixels look like a dull day, the exposure (EV 4) does not.
    night_mode = DAY["white overcast sky"]
    assert check_sun(night_mode, *ZURICH, MIDNIGHT, exif=camera(4.0)).verdict == CANNOT_JUDGE
    # Agreement: EV 14 over a day scene, EV 1 over a black frame.
    assert check_sun(DAY["clear blue sky"], *ZURICH, MIDNIGHT, exif=camera(14.0)).verdict == INCONSISTENT
    assert check_sun(NIGHT["black frame"], *ZURICH, NOON, exif=camera(1.0)).verdict == INCONSISTENT


def test_pixel_margins_near_twilight():
    # Sun 8-10 deg down: a daylight reading from pixels alone is too near twilight to call inconsistent.
    dusk = datetime(2021, 6, 21, 20, 30, tzinfo=timezone.utc)
    assert -10 < sun_position(*ZURICH, dusk).elevation_deg < -6
    check = check_sun(DAY["clear blue sky"], *ZURICH, dusk, exif=NO_EXIF)
    assert check.verdict == CANNOT_JUDGE and "too near twilight" in check.reason
    assert check_sun(DAY["clear blue sky"], *ZURICH, dusk, exif=camera(14.0)).verdict == INCONSISTENT


def test_grain_is_noise_not_texture():
    grainy = pixel_light(scene((60, 60, 60), (60, 60, 60), noise=8.0))
    smooth = pixel_light(scene((60, 60, 60), (60, 60, 60)))
    assert grainy.sky_grain > GRAIN > smooth.sky_grain
    leaves = pixel_light(foliage())
    assert not leaves.has_sky  # green cells are not sky
    assert pixel_reading(leaves) == ("", "")


def fixture_claims() -> list[tuple[Path, float, float, datetime]]:
    with open(FIXTURES / "expected.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    claims = []
    for r in rows:
        lat, lon = float(r["lat"]), float(r["lon"])
        local = datetime(*(int(r[k]) for k in ("year", "month", "day", "hour", "minute", "second")))
        claims.append((FIXTURES / r["path"], lat, lon, local_to_utc(local, lat, lon)))
    return claims


def test_real_photos_true_claims_pass_and_moved_claims_are_caught():
    caught = eligible = 0
    for path, lat, lon, utc in fixture_claims():
        image = Image.open(path).convert("RGB")
        exif = read_photo_exif(path)
        for photo_exif in (exif, NO_EXIF):  # as taken, and with the exposure tags removed (pixels alone)
            true = check_sun(image, lat, lon, utc, exif=photo_exif)
            assert true.verdict != INCONSISTENT, f"{path.name}: {true.reason}"
        moved = utc + timedelta(hours=12)
        elevations = [sun_position(lat, lon, t).elevation_deg for t in (utc, moved)]
        if max(elevations) >= 6 and min(elevations) <= -6:
            eligible += 1
            caught += check_sun(image, lat, lon, moved, exif=NO_EXIF).verdict == INCONSISTENT
    assert eligible == 5 and caught >= 4  # the hay field under a dark wood is no sky: unread


def test_a_night_mode_at_a_high_iso_is_dark_even_when_its_pixels_look_like_day():
    # A phone's night mode: EV 1 at ISO 3200 (1/4 s at f/2), brightened until it looks like a dull day.
    night_mode = DAY["white overcast sky"]
    noon = check_sun(night_mode, *ZURICH, NOON, exif=camera(1.0, iso=3200.0))
    assert noon.verdict == INCONSISTENT and "night mode" in noon.reason and "ISO 3200" in noon.reason
    assert check_sun(night_mode, *ZURICH, MIDNIGHT, exif=camera(1.0, iso=3200.0)).verdict == CONSISTENT
    # The same EV at ISO 100 is a long exposure through a dark filter by day: the readings disagree.
    check = check_sun(night_mode, *ZURICH, NOON, exif=camera(1.0, iso=100.0))
    assert check.verdict == CANNOT_JUDGE and "disagree" in check.reason


def test_a_dim_exposure_under_a_grainy_sky_is_an_amplified_dark():
    # A lit street at night brightened by the camera: EV 6 in EXIF, a mid-gray sky full of sensor grain.
    amplified = scene((120, 115, 110), (110, 95, 75), noise=9.0)
    noon = check_sun(amplified, *ZURICH, NOON, exif=camera(6.0))
    assert noon.verdict == INCONSISTENT and "grainy sky" in noon.reason
    assert check_sun(amplified, *ZURICH, MIDNIGHT, exif=camera(6.0)).verdict == CONSISTENT
    # Not without the grain (a lit interior's smooth ceiling at EV 6), nor at a day's exposure, nor under a deep
    # blue sky.
    smooth = scene((120, 115, 110), (110, 95, 75))
    assert check_sun(smooth, *ZURICH, NOON, exif=camera(6.0)).verdict == CANNOT_JUDGE
    assert check_sun(amplified, *ZURICH, MIDNIGHT, exif=camera(12.0)).verdict != CONSISTENT
    blue = scene((40, 90, 190), (110, 95, 75), noise=9.0)
    assert check_sun(blue, *ZURICH, NOON, exif=camera(6.0)).verdict != INCONSISTENT
    gray = scene((120, 120, 120), (110, 110, 110), noise=9.0)  # monochrome: an infrared night mode, or black and white
    assert check_sun(gray, *ZURICH, NOON, exif=camera(6.0)).verdict == CANNOT_JUDGE


def test_a_grainy_sky_that_looks_like_day_at_ev_5_or_less_was_brightened_by_a_night_mode():
    brightened = scene((185, 185, 190), (110, 95, 75), noise=9.0)  # a night mode's grainy, day-bright sky
    assert pixel_reading(pixel_light(brightened))[0] == "daylight"
    noon = check_sun(brightened, *ZURICH, NOON, exif=camera(4.0))
    assert noon.verdict == INCONSISTENT and "amplified" in noon.reason and "look like day" in noon.reason
    # At EV 7 (a dusk or a dim interior could meter that) the day-looking pixels and the exposure stay unresolved.
    assert check_sun(brightened, *ZURICH, NOON, exif=camera(7.0)).verdict == CANNOT_JUDGE


def starry(points: int, *, wire: bool = False, sky=(90, 100, 125)) -> Image.Image:
    """A dim blue-gray ``sky`` (luma 0.39, a night a camera brightened, or an underexposed dull day) over a dim scene,
    with ``points`` single pixels 80 levels brighter scattered one to an 8-pixel cell, or a faint power line across
    it (35 levels brighter, one pixel thick)."""
    picture = np.asarray(scene(sky, (95, 90, 80)), np.float32).copy()
    cells = np.random.default_rng(1).permutation([(y, x) for y in range(5) for x in range(20)])[:points]
    for y, x in cells:
        picture[8 * y + 3, 8 * x + 4] += 80
    if wire:
        picture[20] += 35
    return Image.fromarray(picture.clip(0, 255).astype(np.uint8))


def test_stars_in_a_dim_sky_are_a_night():
    sky = pixel_light(starry(12))
    assert sky.sky_stars == 12
    noon = check_sun(starry(12), *ZURICH, NOON, exif=NO_EXIF)
    assert noon.verdict == INCONSISTENT and "12 stars in a dim sky" in noon.reason
    assert check_sun(starry(12), *ZURICH, MIDNIGHT, exif=NO_EXIF).verdict == CONSISTENT
    assert check_sun(starry(0), *ZURICH, NOON, exif=NO_EXIF).verdict == CANNOT_JUDGE  # the same sky without them


def test_a_few_glints_or_a_power_line_in_a_dim_sky_are_no_stars():
    # A plane and a few lamps or sunlit glints by day are fewer than MIN_STARS; a line is no point of light.
    assert check_sun(starry(4), *ZURICH, NOON, exif=NO_EXIF).verdict == CANNOT_JUDGE
    wire = starry(0, wire=True)
    assert pixel_light(wire).has_sky and pixel_light(wire).sky_stars == 0
    assert check_sun(wire, *ZURICH, NOON, exif=NO_EXIF).verdict == CANNOT_JUDGE


def test_a_bright_sky_with_stars_is_no_daylight():
    # A night a camera brightened until its sky is a bright gray: the stars still show, and no daylit sky has any.
    bright = (160, 163, 170)
    assert check_sun(starry(0, sky=bright), *ZURICH, MIDNIGHT, exif=NO_EXIF).verdict == INCONSISTENT  # reads as day
    assert pixel_light(starry(12, sky=bright)).sky_stars == 12
    midnight = check_sun(starry(12, sky=bright), *ZURICH, MIDNIGHT, exif=NO_EXIF)
    assert midnight.verdict == CANNOT_JUDGE, midnight.reason
