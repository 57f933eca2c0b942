"""A fixed camera's frames read together (gtloc.evidence.frames), alone and through ``verify --fixed-camera``."""

from __future__ import annotations

import csv
from dataclasses import replace

from typer.testing import CliRunner

from gtloc.cli import app
from gtloc.data.claims import read_claims
from gtloc.data.exif import PhotoExif
from gtloc.evidence import CANNOT_JUDGE, CONSISTENT, INCONSISTENT
from gtloc.evidence.frames import MIN_FRAMES, SOURCE, read_frames_together
from gtloc.evidence.sun import check_sun, read_light
from gtloc.evidence.verify import verify_photos
from helpers.pictures import MIDNIGHT, NOON, ZURICH, scene

DAYS = [scene((120 + k, 170, 235 - k), (110 + k, 105, 90)) for k in range(4)]  # bright blue sky: daylight alone
NIGHTS = [scene((45 + k, 40, 50 + k), (30 + k, 28, 25)) for k in range(4)]  # dim sky over a dim scene: dark alone
DULL_DAY = scene((140, 150, 160), (95, 95, 88))  # a gray sky not bright enough to be a day alone
BRIGHTENED_NIGHT = scene((85, 80, 84), (40, 38, 34))  # a night lifted above the dim-sky bounds
IN_BETWEEN = scene((100, 120, 150), (70, 68, 62))  # about as far from the camera's days as from its nights
MONOCHROME = scene((150, 150, 150), (100, 100, 100))


def readings(pictures):
    return [read_light(p, PhotoExif()) for p in pictures]


def test_unread_frames_take_the_light_of_the_camera_frames_they_resemble():
    pictures = [*DAYS, *NIGHTS, DULL_DAY, BRIGHTENED_NIGHT, IN_BETWEEN, MONOCHROME]
    alone = readings(pictures)
    assert [r.light for r in alone[-4:]] == ["", "", "", ""]  # none of the four is read alone
    together = read_frames_together(alone)
    assert together[:8] == alone[:8]  # the frames read alone keep their reading
    dull, night, between, mono = together[-4:]
    assert dull.light == "daylight" and dull.source == SOURCE and "read as daylight, not the 4 read as dark" in dull.why
    assert night.light == "dark" and night.source == SOURCE
    assert between.light == "" and mono.light == ""  # too near both; an infrared night mode looks like a dull day
    # The sun check on a reading made together: the pixel margins hold, and the reason says where it came from.
    noon = check_sun(None, *ZURICH, NOON, light=night)
    assert noon.verdict == INCONSISTENT and "among this camera's frames" in noon.reason
    assert check_sun(None, *ZURICH, MIDNIGHT, light=dull).verdict == INCONSISTENT
    assert check_sun(BRIGHTENED_NIGHT, *ZURICH, NOON, exif=PhotoExif()).verdict == CANNOT_JUDGE  # alone


def test_too_few_frames_or_anchors_and_non_ambient_frames_stay_unread():
    few_nights = readings([*DAYS, *DAYS, *NIGHTS[:2], DULL_DAY, BRIGHTENED_NIGHT])
    assert len(few_nights) >= MIN_FRAMES and read_frames_together(few_nights) == few_nights
    few_frames = readings([*DAYS[:3], *NIGHTS[:3], DULL_DAY])
    assert len(few_frames) < MIN_FRAMES and read_frames_together(few_frames) == few_frames
    alone = readings([*DAYS, *NIGHTS, DULL_DAY])
    flash = [*alone[:-1], replace(alone[-1], ambient=False, why="the flash fired")]
    assert read_frames_together(flash)[-1].light == ""
    assert read_frames_together([*alone, None])[-1] is None  # a frame that could not be read stays so


def _webcam(tmp_path):
    """A webcam folder: the frames above as PNG, and a claims CSV claiming every frame at local midnight."""
    folder = tmp_path / "webcam"
    folder.mkdir()
    names = []
    for k, picture in enumerate([*DAYS, *NIGHTS, DULL_DAY, BRIGHTENED_NIGHT]):
        names.append(f"frame{k:02d}.png")
        picture.save(folder / names[-1])
    claims = tmp_path / "claims.csv"
    with claims.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "lat", "lon", "year", "month", "day", "hour", "minute"])
        writer.writerows([f"webcam/{n}", *ZURICH, 2021, 6, 22, 1, 0] for n in names)  # 01:00 CEST: 23:00 UTC
    return folder, claims


def test_verify_reads_a_webcam_folder_together_only_when_asked(tmp_path):
    folder, claims = _webcam(tmp_path)
    source = read_claims(claims, tmp_path)
    photos = sorted(folder.iterdir())
    alone = {v.path: v.check("sun") for v in verify_photos(photos, source)}
    together = {v.path: v.check("sun") for v in verify_photos(photos, source, fixed_camera=True)}
    dull = str(folder / "frame08.png")
    assert alone[dull].verdict == CANNOT_JUDGE
    assert together[dull].verdict == INCONSISTENT and "among this camera's frames" in together[dull].reason
    night = str(folder / "frame09.png")  # the brightened night, claimed at night: now affirmed
    assert alone[night].verdict == CANNOT_JUDGE and together[night].verdict == CONSISTENT
    assert {p: c.verdict for p, c in alone.items() if p not in (dull, night)} == {
        p: c.verdict for p, c in together.items() if p not in (dull, night)
    }  # the frames read alone answer the same

    out = tmp_path / "verdicts.csv"
    result = CliRunner().invoke(app, ["verify", "--claims", str(claims), "--fixed-camera", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["path"]: r for r in csv.DictReader(out.open())}
    assert rows[dull]["sun"] == INCONSISTENT and rows[dull]["verdict"] == INCONSISTENT
    result = CliRunner().invoke(app, ["verify", "--claims", str(claims), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {r["path"]: r for r in csv.DictReader(out.open())}[dull]["sun"] == CANNOT_JUDGE


def test_daylight_is_taken_back_from_frames_far_grainier_than_the_camera_clean_days():
    # A webcam's dull days (a clean sky) and its nights lifted by its gain until they look the same, but grainy.
    days = [scene((175, 178, 182), (95, 100, 90), noise=0.3, seed=k) for k in range(5)]
    lifted = [scene((175, 178, 182), (95, 100, 90), noise=2.5, seed=10 + k) for k in range(3)]
    alone = readings([*days, *lifted])
    assert all(r.light == "daylight" for r in alone)  # alone, each could be a dull day seen by a grainy webcam
    together = read_frames_together(alone)
    assert [r.light for r in together] == ["daylight"] * 5 + [""] * 3
    assert "times as grainy as this camera's clean daylit skies" in together[-1].why
    assert check_sun(lifted[0], *ZURICH, MIDNIGHT, exif=PhotoExif()).verdict == INCONSISTENT  # the false alarm alone
    assert check_sun(None, *ZURICH, MIDNIGHT, light=together[-1]).verdict == CANNOT_JUDGE
    # A webcam whose every day is as grainy keeps them all: the grain is only compared within one camera.
    grainy = readings([scene((175, 178, 182), (95, 100, 90), noise=2.5, seed=k) for k in range(8)])
    assert read_frames_together(grainy) == grainy
