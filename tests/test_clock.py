"""The clock check: camera time against the photo's own GPS time; wrong clocks, stale fixes, malformed stamps."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from gtloc.data.clock import clocks_by_camera, read_clock
from gtloc.data.exif import PhotoExif, read_photo_exif
from gtloc.data.ingest import ingest_photos, summarize
from test_exif import gps_tags, make_photo

GPS = ExifTags.GPS
PARIS = (48.8566, 2.3522)  # CEST (UTC+2) in June
SEATTLE = (47.6062, -122.3321)  # PDT (UTC-7) in June
GPS_UTC = datetime(2021, 6, 1, 12, 30, 4)


def photo(camera: datetime | None, place=PARIS, gps=GPS_UTC, offset: timedelta | None = None, dated=True):
    """A PhotoExif whose camera reads ``camera`` and whose GPS receiver stamped ``gps`` (UTC) at ``place``."""
    return PhotoExif(
        lat=place[0],
        lon=place[1],
        local_time=camera,
        utc_offset=offset,
        gps_date=gps.date() if gps and dated else None,
        gps_clock=gps.time() if gps else None,
    )


def local(minutes_fast: float = 0.0, place=PARIS) -> datetime:
    """The true local time of ``GPS_UTC`` at ``place``, plus ``minutes_fast``."""
    zone = {PARIS: 2, SEATTLE: -7}[place]
    return GPS_UTC + timedelta(hours=zone, minutes=minutes_fast)


def test_right_clock_is_ok_and_offset_is_camera_minus_gps():
    reading = read_clock(photo(local(0.5)))
    assert (reading.status, reading.note, reading.fix) == ("ok", "", "fresh")
    assert reading.offset_s == pytest.approx(2 * 3600 + 30) and reading.gps_utc_text == "2021-06-01T12:30:04Z"
    assert read_clock(photo(local(-4))).note == "clock 4 min slow (within 5 min)"


@pytest.mark.parametrize(
    ("camera", "place", "note"),
    [
        (local(10 * 60, SEATTLE), SEATTLE, "camera set to UTC+3, 10 h ahead of local time"),
        (local(-60), PARIS, "camera set to UTC+1, 1 h behind local time"),
        (local(-2 * 60), PARIS, "camera set to UTC, 2 h behind local time (or its GPS receiver wrote local time "
         "instead of UTC)"),
        (local(-12), PARIS, "clock 12 min slow"),
        (local(-3 * 60 - 17), PARIS, "clock 3 h 17 min slow"),
        (local(3 * 60 + 30 + 1), PARIS, "camera set to UTC+5:30, 3 h 30 min ahead of local time"),
        (datetime(2000, 1, 1, 0, 0), PARIS, "clock 21.4 years slow"),
    ],
)  # fmt: skip
def test_wrong_clocks_are_named_with_their_offset(camera, place, note):
    reading = read_clock(photo(camera, place))
    assert (reading.status, reading.note) == ("wrong", note)
    zone = 2 if place == PARIS else -7
    assert reading.error_s == pytest.approx((camera - GPS_UTC).total_seconds() - zone * 3600)


def test_stale_fix_is_not_a_wrong_clock():
    # Days old: no time zone is that far from another.
    reading = read_clock(photo(local(3 * 24 * 60 + 7)))
    assert (reading.status, reading.fix, reading.error_s) == ("unknown", "stale", None)
    assert reading.note == "GPS fix 3 days older than the photo (phones stamp their last fix); the clock is not checked"
    # Hours old, not a whole number of hours: not a zone: not judged.
    reading = read_clock(photo(local(3 * 60 + 23)))
    assert (reading.status, reading.fix) == ("unknown", "unknown")
    assert reading.note.startswith("camera 3 h 23 min ahead of the GPS time: a GPS fix that old")
    # A phone declares the local zone: its clock is network time, so any lead is the fix's age, even a round one.
    reading = read_clock(photo(local(5 * 60), offset=timedelta(hours=2)))
    assert (reading.status, reading.fix) == ("unknown", "stale")
    assert reading.note.startswith("GPS fix 5 h older than the photo")


def fix_aged(minutes: float, shift_h: float = 0.0, fast_min: float = 0.0) -> PhotoExif:
    """A photo of the camera "Canon EOS R6" taken ``shift_h`` after GPS_UTC in Paris, its clock ``fast_min`` ahead of
    the true local time, stamped with a GPS fix ``minutes`` older than the photo."""
    taken = local(fast_min + 60 * shift_h)
    gps = GPS_UTC + timedelta(hours=shift_h, minutes=-minutes)
    return replace(photo(taken, gps=gps), make="Canon", model="EOS R6")


@pytest.mark.parametrize(
    ("age_min", "note"),
    [
        (5.5, "camera 6 min ahead of the GPS time: a GPS fix that old (phones stamp their last fix) or a clock 6 min "
         "fast; one photo cannot tell which (other photos of the same camera can)"),
        (20, "camera 20 min ahead of the GPS time"),
        (57, "camera 57 min ahead of the GPS time"),
        (3 * 60 + 23, "camera 3 h 23 min ahead of the GPS time"),
    ],
)  # fmt: skip
def test_a_lone_photo_minutes_ahead_of_its_fix_is_unknown_not_a_fast_clock(age_min, note):
    """A fix minutes old and a clock minutes fast give the same photo: alone, it is not called wrong (the audit's gap:
    a 20-min-old fix read as "clock 20 min fast")."""
    for fix in (fix_aged(age_min), photo(local(age_min))):  # an old fix on a right clock, a fresh fix on a fast one
        reading = read_clock(fix)
        assert (reading.status, reading.fix, reading.error_s) == ("unknown", "unknown", None)
        assert reading.note.startswith(note)
        assert reading.offset_s == pytest.approx(2 * 3600 + age_min * 60, abs=1)


def test_a_lone_photo_at_the_edges_of_the_minutes_rule():
    # A fix 5 min old is within the tolerance of a right clock: ok, and the note says by how much.
    assert (read_clock(fix_aged(5)).status, read_clock(fix_aged(5)).note) == ("ok", "clock 5 min fast (within 5 min)")
    # A fix exactly 1 h old reads, alone, as a camera set one zone ahead (the documented limit: a whole hour is a zone);
    # its camera's other photos tell (test_one_camera_tells_stale_fixes_of_minutes_to_days_from_a_wrong_clock).
    assert read_clock(fix_aged(60)).note == "camera set to UTC+3, 1 h ahead of local time"
    # Behind is never a stale fix: a clock 12 min slow stays wrong alone.
    assert read_clock(photo(local(-12))).status == "wrong"


def test_one_camera_tells_stale_fixes_of_minutes_to_days_from_a_wrong_clock():
    ages_min = (5.5, 20, 60, 3 * 60 + 23, 2 * 24 * 60 + 7)
    stale = [fix_aged(age, shift_h=10 * k + 1) for k, age in enumerate(ages_min)]
    # A right clock on some photos: every larger lead is the fix's age.
    right = [fix_aged(0, shift_h=10 * k) for k in range(3)]
    readings = clocks_by_camera([*right, *stale])
    assert [r.status for r in readings] == ["ok"] * 3 + ["unknown"] * 5
    assert [r.fix for r in readings[3:]] == ["stale"] * 5
    assert readings[3 + 1].note == (
        "GPS fix 20 min older than the photo (phones stamp their last fix); this camera's clock is right on 3 other "
        "photos within 7 days and no other photo of it is off by as much (an old fix only adds to the lead), so its "
        "clock is not judged wrong"
    )
    assert readings[3 + 2].note.startswith("GPS fix 1 h older than the photo")  # alone: a zone (UTC+3)
    # No right photo at all, only old fixes of different ages: the clock is no further ahead than the least of them,
    # so every larger lead is an old fix; the least stays as one photo alone reads it (unknown, not wrong).
    readings = clocks_by_camera(stale)
    assert [r.status for r in readings] == ["unknown"] * 5
    assert readings[0] == read_clock(stale[0]) and readings[0].fix == "unknown"
    assert [r.fix for r in readings[1:]] == ["stale"] * 4
    assert "less ahead of the GPS time on 1 other photo (by up to 14 min) within 7 days" in readings[1].note
    assert "less ahead of the GPS time on 2 other photos (by up to 54 min) within 7 days" in readings[2].note


def test_a_clock_53_min_fast_on_every_photo_is_wrong():
    """The issue's camera 53 min fast: the same lead on photos with fixes of their own, days apart, is the clock."""
    fast = [fix_aged(0, shift_h=h, fast_min=53 + h / 24 / 60) for h in (0, 5, 30, 70)]  # drifting on 1 s a day
    assert {read_clock(p).status for p in fast} == {"unknown"}  # each alone: a fast clock or an old fix
    readings = clocks_by_camera(fast)
    assert [r.note for r in readings] == ["clock 53 min fast (the same on 4 photos of this camera)"] * 4
    assert {r.status for r in readings} == {"wrong"}
    assert [r.error_s for r in readings] == [pytest.approx(53 * 60 + h / 24, abs=1) for h in (0, 5, 30, 70)]
    # An old fix on one photo of that camera adds its age to the lead: that photo alone is not the clock's reading.
    old = fix_aged(3 * 60 + 10, shift_h=40, fast_min=53)
    readings = clocks_by_camera([*fast, old])
    assert [r.status for r in readings] == ["wrong"] * 4 + ["unknown"] and readings[4].fix == "stale"
    assert "less ahead of the GPS time on 4 other photos (by up to 3 h 10 min)" in readings[4].note
    # A photo with a 20-min-old fix among them reads as the clock plus 20 min: not confirmed, an old fix.
    readings = clocks_by_camera([*fast, fix_aged(20, shift_h=40, fast_min=53)])
    assert readings[4].status == "unknown" and readings[4].note.startswith("GPS fix 1 h 13 min older than the photo")


def test_declared_zone_that_is_not_the_places():
    # Clock right for its declared UTC+9 while in Paris: set to the wrong zone, with or without a stale fix on top.
    reading = read_clock(photo(local(7 * 60), offset=timedelta(hours=9)))
    assert (reading.status, reading.note) == ("wrong", "camera set to UTC+9, 7 h ahead of local time")
    reading = read_clock(photo(local(7 * 60 + 45), offset=timedelta(hours=9)))
    assert reading.status == "wrong" and reading.note.endswith("; its GPS fix is also 45 min older than the photo")
    # Local time right but the offset tag says otherwise: the clock is fine, the note says the tag is not.
    reading = read_clock(photo(local(0), offset=timedelta(hours=1)))
    assert (reading.status, reading.note) == ("ok", "its OffsetTimeOriginal UTC+1 is not the local UTC+2")


def test_time_only_stamp_takes_the_nearest_camera_date():
    # GPS 23:50 UTC on May 31 is 01:50 on June 1 in Paris; the stamp has no date.
    reading = read_clock(photo(datetime(2021, 6, 1, 1, 50, 30), gps=datetime(2021, 5, 31, 23, 50, 0), dated=False))
    assert reading.status == "ok" and reading.gps_utc_text == "2021-05-31T23:50:00Z" and not reading.gps_date_known


def test_week_rollover_is_corrected():
    early = GPS_UTC - timedelta(weeks=1024)
    reading = read_clock(photo(local(0), gps=early))
    assert reading.status == "ok" and reading.gps_utc_text == "2021-06-01T12:30:04Z"
    assert reading.note.startswith("GPS date 1024 weeks early")


def test_missing_pieces_give_unknown_with_a_reason():
    assert read_clock(photo(local(0), gps=None)).note == "no GPS time in EXIF"
    assert read_clock(photo(None)).note == "no camera time"
    no_place = PhotoExif(local_time=local(0), gps_date=GPS_UTC.date(), gps_clock=GPS_UTC.time())
    assert read_clock(no_place).note == "no GPS position, so the local time zone is unknown"
    assert read_clock(no_place, *PARIS).status == "ok"  # a fixed webcam's position


def write_stamped(path, date_stamp, time_stamp, when="2021:06:01 14:30:05"):
    gps = gps_tags()
    if date_stamp is not None:
        gps[GPS.GPSDateStamp] = date_stamp
    if time_stamp is not None:
        gps[GPS.GPSTimeStamp] = time_stamp
    return make_photo(path, gps, when=when)


@pytest.mark.parametrize(
    ("date_stamp", "time_stamp", "want_date", "want_time", "problem"),
    [
        ("2021:06:01", (12.0, 30.0, 4.5), date(2021, 6, 1), time(12, 30, 4, 500000), ""),
        ("2014:09:259", (12.0, 30.0, 4.0), date(2014, 9, 16), time(12, 30, 4), ""),  # day of the year
        ("2021-6-1", (12.0, 30.0, 4.0), date(2021, 6, 1), time(12, 30, 4), ""),
        ("2014:10:259", (12.0, 0.0, 0.0), None, time(12), "GPSDateStamp '2014:10:259' is not a valid date"),
        ("2021:13:01", (12.0, 0.0, 0.0), None, time(12), "GPSDateStamp '2021:13:01' is not a valid date"),
        ("1970:01:01", (12.0, 0.0, 0.0), None, time(12), "the year is before GPS time began"),
        ("yesterday", (12.0, 0.0, 0.0), None, time(12), "GPSDateStamp 'yesterday' is not 'YYYY:MM:DD'"),
        ("    :  :  ", (12.0, 0.0, 0.0), None, time(12), ""),
        ("2021:06:01", (25.0, 0.0, 0.0), None, None, "GPSTimeStamp 25:0:0 is out of range (hours 0-23"),
        ("2021:06:01", (12.0, 61.0, 0.0), None, None, "GPSTimeStamp 12:61:0 is out of range"),
        ("2021:06:01", (12.0, 0.0, 75.0), None, None, "is out of range (seconds 0-60)"),
        ("2021:06:01", (12.0, IFDRational(1, 0), 0.0), None, None, "GPSTimeStamp has a zero denominator"),
        ("2021:06:01", (12.0, 30.0, 60.0), date(2021, 6, 1), time(12, 30, 59, 999999), ""),  # a leap second
        ("2021:06:01", None, None, None, ""),
    ],
)
def test_gps_stamps_in_the_wild(tmp_path, date_stamp, time_stamp, want_date, want_time, problem):
    info = read_photo_exif(write_stamped(tmp_path / "a.jpg", date_stamp, time_stamp))
    assert (info.gps_date, info.gps_clock) == (want_date, want_time)
    assert problem in info.gps_time_problem and bool(problem) == bool(info.gps_time_problem)
    reading = read_clock(info)  # never raises
    assert reading.status in ("ok", "wrong", "unknown")
    if problem and want_time is None:
        assert (reading.status, reading.note) == ("unknown", info.gps_time_problem)


def test_gps_stamp_of_the_wrong_shape(tmp_path):
    info = read_photo_exif(write_stamped(tmp_path / "a.jpg", "2021:06:01", (12.0, 30.0)))
    assert info.gps_clock is None and info.gps_time_problem.startswith("GPSTimeStamp (12.0, 30.0) is not hours")


def test_ingest_takes_gps_time_and_lists_wrong_clocks(tmp_path):
    folder = tmp_path / "photos"
    # Zurich in June is UTC+2; the GPS stamp says 12:30:04 UTC, i.e. 14:30:04 local.
    write_stamped(folder / "right.jpg", "2021:06:01", (12.0, 30.0, 4.0), when="2021:06:01 14:30:05")
    write_stamped(folder / "home_zone.jpg", "2021:06:01", (12.0, 30.0, 4.0), when="2021:06:01 22:30:06")
    write_stamped(folder / "stale.jpg", "2021:05:28", (12.0, 30.0, 4.0), when="2021:06:01 14:30:05")
    write_stamped(folder / "no_stamp.jpg", None, None, when="2021:06:01 14:30:05")
    result = ingest_photos(folder, utc_from="gps")
    rows = {p: i for i, p in enumerate(result.records.paths)}
    hours = {p: tuple(result.records.times[i, 2:5]) for p, i in rows.items()}
    assert hours["home_zone.jpg"] == (14, 30, 4)  # the GPS time, on the local clock
    assert hours["right.jpg"] == (14, 30, 4)
    assert hours["stale.jpg"] == (14, 30, 5) and hours["no_stamp.jpg"] == (14, 30, 5)  # the camera's time kept
    assert result.camera_time_kept == 2
    clock = result.records.extras["clock"]
    assert [clock[rows[p]] for p in ("right.jpg", "home_zone.jpg", "stale.jpg", "no_stamp.jpg")] == [
        "ok",
        "wrong",
        "unknown",
        "unknown",
    ]
    assert result.records.extras["clock_offset_s"][rows["home_zone.jpg"]] == str(10 * 3600 + 2)
    text = summarize(result, "r.csv")
    assert "camera clock wrong in 1 of the 2 photos whose GPS time could check it:\n" in text
    assert "  home_zone.jpg: camera set to UTC+10, 8 h ahead of local time\n" in text
    assert "1 photo with a GPS fix older than the photo (their clock not checked)" in text
    assert "2 of them keep the camera's time" in text
    default = ingest_photos(folder)
    assert tuple(default.records.times[default.records.paths.index("home_zone.jpg"), 2:5]) == (22, 30, 6)


def camera_photo(fast_h: float, fix_age_h: float = 0.0, shift_h: float = 0.0, serial: str = "", make: str = "Canon"):
    """A photo of one camera, ``shift_h`` after GPS_UTC, whose clock runs ``fast_h`` ahead of Paris time and whose
    GPS fix is ``fix_age_h`` old."""
    gps = GPS_UTC + timedelta(hours=shift_h - fix_age_h)
    taken = local(60 * (fast_h + shift_h))
    return replace(photo(taken, gps=gps), make=make, model="EOS R6" if make else "", serial=serial)


def test_one_camera_tells_a_stale_fix_from_a_wrong_clock():
    ok = [camera_photo(0.0, shift_h=h) for h in (-30, -3, 5)]
    stale = camera_photo(0.0, fix_age_h=3.0, shift_h=1.0)  # a 3-h-old fix: alone it reads as a camera on UTC+5
    assert read_clock(stale).status == "wrong"
    readings = clocks_by_camera([*ok, stale])
    assert [r.status for r in readings] == ["ok", "ok", "ok", "unknown"] and readings[3].fix == "stale"
    assert readings[3].note.startswith("GPS fix 3 h older than the photo")
    assert "right on 3 other photos within 7 days" in readings[3].note
    # A clock left on another zone after the first two photos: the same offset on photos with fixes of their own
    # confirms it ...
    zone = [camera_photo(3.0, shift_h=h) for h in (0, 2, 26)]
    readings = clocks_by_camera([*ok[:2], *zone])
    assert [r.status for r in readings] == ["ok", "ok", "wrong", "wrong", "wrong"]
    assert readings[2].note == "camera set to UTC+5, 3 h ahead of local time (the same on 3 photos of this camera)"
    assert readings[2].error_s == pytest.approx(3 * 3600)
    # ... and the drift of a camera that writes its (right) zone, which one photo alone reads as an old fix.
    tagged = [replace(camera_photo(0.5, shift_h=h), utc_offset=timedelta(hours=2)) for h in (0, 4)]
    assert read_clock(tagged[0]).status == "unknown"
    assert [r.note for r in clocks_by_camera(tagged)] == ["clock 30 min fast (the same on 2 photos of this camera)"] * 2
    # A gap like no clock setting (5.5 h fast in a UTC+2 place reads UTC+7:30) is not confirmed: two old fixes of one
    # age are likelier.
    odd = [camera_photo(5.5, shift_h=h) for h in (0, 4)]
    assert clocks_by_camera(odd) == [read_clock(p) for p in odd] and read_clock(odd[0]).status == "unknown"


def test_two_old_fixes_of_one_age_around_a_right_clock_are_old_fixes():
    """Two 3-h-old fixes a day apart agree with each other, but the clock read right on a photo between them."""
    stale = [camera_photo(0.0, fix_age_h=3.0, shift_h=h) for h in (0, 24)]
    right = camera_photo(0.0, shift_h=12)
    readings = clocks_by_camera([stale[0], right, stale[1]])
    assert [r.status for r in readings] == ["unknown", "ok", "unknown"] and readings[0].fix == "stale"
    assert "2 photos of this camera are off by as much, but its clock is right on 1 photo taken between them" in (
        readings[0].note
    )
    # Without the right reading between them, they read as a clock left on UTC+5.
    assert [r.status for r in clocks_by_camera(stale)] == ["wrong", "wrong"]
    # Two 20-min-old fixes look like a clock drifted 20 min fast; a clock does not drift back, so a right reading
    # within 7 days belies them even from outside their span (a zone, above, can be set and set back).
    minutes = [fix_aged(20 + m / 60, shift_h=h) for h, m in ((0, 0), (24, 20))]
    readings = clocks_by_camera([fix_aged(0, shift_h=-12), *minutes])
    assert [(r.status, r.fix) for r in readings] == [("ok", "fresh"), ("unknown", "stale"), ("unknown", "stale")]
    assert (
        "2 photos of this camera are off by as much, but its clock is right or less ahead on 1 photo within 7 days"
        in (readings[1].note)
    )
    assert [r.note for r in clocks_by_camera(minutes)] == [
        "clock 20 min fast (the same on 2 photos of this camera)"
    ] * 2


def test_photos_stamped_with_one_fix_are_one_piece_of_evidence():
    """A burst a minute apart, all stamped with the same 3-h-old fix: their offsets agree, but not as two fixes."""
    burst = [camera_photo(0.0, fix_age_h=3.0 + m / 60, shift_h=m / 60) for m in (0, 1)]
    assert burst[0].gps_clock == burst[1].gps_clock
    assert clocks_by_camera(burst) == [read_clock(p) for p in burst]


def test_what_a_camera_batch_leaves_as_one_photo_would_read_it():
    ok, stale = camera_photo(0.0), camera_photo(0.0, fix_age_h=3.0, shift_h=1.0)
    assert clocks_by_camera([stale]) == [read_clock(stale)]  # one photo
    assert clocks_by_camera([ok, replace(stale, serial="2")]) == [read_clock(ok), read_clock(stale)]  # two cameras
    nameless = [replace(p, make="", model="") for p in (ok, stale)]
    assert clocks_by_camera(nameless) == [read_clock(p) for p in nameless]  # no camera named
    far = camera_photo(0.0, shift_h=-24 * 8)  # the clock was right 8 days before: too long ago to tell
    assert clocks_by_camera([far, stale])[1] == read_clock(stale)
    behind = camera_photo(-3.0, shift_h=2)  # a fix is never from after the photo: wrong, whatever the others say
    assert clocks_by_camera([ok, behind])[1] == read_clock(behind)
    here = clocks_by_camera([stale], [SEATTLE])[0]
    assert here == read_clock(stale, *SEATTLE)
    with pytest.raises(ValueError, match="2 places for 1 photos"):
        clocks_by_camera([stale], [PARIS, PARIS])


def test_the_camera_is_read_from_exif(tmp_path):
    from gtloc.data.exif_write import CameraExif, write_jpeg

    info = CameraExif(lat=PARIS[0], lon=PARIS[1], local_time=local(), gps_utc=GPS_UTC, make="Canon", model="EOS R6")
    exif = read_photo_exif(write_jpeg(tmp_path / "a.jpg", Image.new("RGB", (32, 24)), info))
    assert (exif.make, exif.model, exif.serial, exif.camera_id) == ("Canon", "EOS R6", "", "Canon EOS R6")
    numbered = read_photo_exif(write_jpeg(tmp_path / "b.jpg", Image.new("RGB", (32, 24)), replace(info, serial="0042")))
    assert numbered.camera_id == "Canon EOS R6 #0042"
    assert read_photo_exif(write_jpeg(tmp_path / "c.jpg", Image.new("RGB", (32, 24)), CameraExif())).camera_id == ""


def test_ingest_judges_each_camera_on_all_its_photos(tmp_path):
    """A phone with its clock right and photos stamped with a 3-h-old and a 20-min-old fix, a camera left on UTC+5 in
    Paris, and a lone photo 20 min ahead of its fix: ingest calls the old fixes old fixes (and keeps the camera's time
    for them with --utc-from gps), the camera's clock wrong on both its photos, and the lone photo unknown."""
    from gtloc.data.exif_write import CameraExif, write_jpeg

    folder, pixels = tmp_path / "photos", Image.new("RGB", (32, 24), (90, 140, 210))
    folder.mkdir()

    def shot(name: str, fast_h: float, fix_age_h: float, shift_h: float, model: str) -> None:
        info = CameraExif(
            lat=PARIS[0],
            lon=PARIS[1],
            local_time=local(60 * (fast_h + shift_h)),
            gps_utc=GPS_UTC + timedelta(hours=shift_h - fix_age_h),
            make="Acme",
            model=model,
        )
        write_jpeg(folder / name, pixels, info)

    for i, hours in enumerate((-20, -2, 4)):
        shot(f"phone-{i}.jpg", 0.0, 0.0, hours, "Phone")
    shot("phone-old-fix.jpg", 0.0, 3.0, 1.0, "Phone")
    shot("phone-20-min-fix.jpg", 0.0, 20 / 60, 2.0, "Phone")  # alone it would read "clock 20 min fast"
    shot("solo.jpg", 20 / 60, 0.0, 0.0, "Solo")  # a camera 20 min fast with one photo: cannot be told from an old fix
    shot("camera-0.jpg", 3.0, 0.0, 0.0, "Camera")
    shot("camera-1.jpg", 3.0, 0.0, 30.0, "Camera")
    result = ingest_photos(folder, utc_from="gps")
    rows = {p: i for i, p in enumerate(result.records.paths)}
    clock, notes = result.records.extras["clock"], result.records.extras["clock_note"]
    assert clock[rows["phone-old-fix.jpg"]] == "unknown" and "GPS fix 3 h older" in notes[rows["phone-old-fix.jpg"]]
    assert tuple(result.records.times[rows["phone-old-fix.jpg"], 2:4]) == (15, 30)  # the camera's own time kept
    assert clock[rows["phone-20-min-fix.jpg"]] == "unknown"
    assert notes[rows["phone-20-min-fix.jpg"]].startswith("GPS fix 20 min older than the photo")
    assert clock[rows["solo.jpg"]] == "unknown" and "one photo cannot tell which" in notes[rows["solo.jpg"]]
    assert [clock[rows[f"camera-{i}.jpg"]] for i in (0, 1)] == ["wrong", "wrong"]
    assert notes[rows["camera-0.jpg"]].endswith("(the same on 2 photos of this camera)")
    summary = summarize(result, tmp_path / "records.csv")
    assert "camera clock wrong in 2 of the 5 photos whose GPS time could check it" in summary
    assert "phone-old-fix.jpg" not in summary and "2 photos with a GPS fix older than the photo" in summary
    assert (
        "1 photo with the camera ahead of the GPS time: an old fix or a fast clock, which one photo cannot tell"
        in summary
    )
