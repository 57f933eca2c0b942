"""The clock check: camera time against the photo's own GPS time; wrong clocks, stale fixes, malformed stamps."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from PIL import ExifTags
from PIL.TiffImagePlugin import IFDRational

from gtloc.data.clock import read_clock
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
        (local(53), PARIS, "clock 53 min fast"),
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
    # Hours old, not a whole number of hours: too far for drift, not a zone: not judged.
    reading = read_clock(photo(local(3 * 60 + 23)))
    assert (reading.status, reading.fix) == ("unknown", "unknown")
    assert reading.note.startswith("camera 3 h 23 min ahead of the GPS time: a GPS fix that old")
    # A phone declares the local zone: its clock is network time, so any lead is the fix's age, even a round one.
    reading = read_clock(photo(local(5 * 60), offset=timedelta(hours=2)))
    assert (reading.status, reading.fix) == ("unknown", "stale")
    assert reading.note.startswith("GPS fix 5 h older than the photo")


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
