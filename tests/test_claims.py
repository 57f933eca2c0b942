"""Claims: from EXIF unless given, times with or without a UTC offset, and claims CSVs whose bad rows are named."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from PIL import ExifTags, Image

from gtloc.data.claims import (
    NO_YEAR,
    ClaimedTime,
    GivenClaim,
    claim_from_exif,
    make_claim,
    parse_claim_time,
    read_claim_time,
    read_claims,
)
from gtloc.data.exif import read_photo_exif
from gtloc.errors import GtlocError, ParameterError
from gtloc.timecode import local_to_utc

OSLO_GPS = {1: "N", 2: (59.0, 54.0, 36.0), 3: "E", 4: (10.0, 45.0, 0.0)}


def photo(path, gps=None, when=None, offset=None):
    """A small JPEG with EXIF GPS, DateTimeOriginal ``when`` and OffsetTimeOriginal ``offset`` (strings or None)."""
    exif = Image.Exif()
    if gps is not None:
        exif[ExifTags.IFD.GPSInfo] = gps
    sub = {}
    if when is not None:
        sub[ExifTags.Base.DateTimeOriginal] = when
    if offset is not None:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    exif[ExifTags.IFD.Exif] = sub
    Image.new("RGB", (64, 48), (90, 140, 210)).save(path, exif=exif)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-01-15 16:30", datetime(2023, 1, 15, 16, 30)),
        ("2023:01:15 16:30:05", datetime(2023, 1, 15, 16, 30, 5)),
        ("2023-01-15T16:30", datetime(2023, 1, 15, 16, 30)),
        ("07-04 09:05", datetime(NO_YEAR, 7, 4, 9, 5)),
        ("2013-01-20 18:54+01:00", datetime(2013, 1, 20, 17, 54, tzinfo=timezone.utc)),
        ("2013-01-20T17:54Z", datetime(2013, 1, 20, 17, 54, tzinfo=timezone.utc)),
    ],
)
def test_claim_times(text, expected):
    assert parse_claim_time(text) == expected
    assert read_claim_time(text).year_known == (text != "07-04 09:05")


@pytest.mark.parametrize("text", ["yesterday", "2023-02-30 10:00", "2023-01-15 25:00", "2013-01-20 18:54+25:00"])
def test_bad_claim_times_are_explained(text):
    with pytest.raises(GtlocError, match="cannot read the time"):
        parse_claim_time(text)


def test_the_exif_claim_reads_the_camera_clock_at_the_place_or_with_its_offset(tmp_path):
    plain = claim_from_exif(photo(tmp_path / "a.jpg", OSLO_GPS, "2023:01:15 16:30:00"))
    assert (plain.lat, plain.lon) == pytest.approx((59.91, 10.75))
    assert plain.time == datetime(2023, 1, 15, 16, 30) and plain.camera_time
    assert plain.utc == datetime(2023, 1, 15, 15, 30, tzinfo=timezone.utc)  # Oslo is UTC+1 in January
    assert plain.source == {"place": "EXIF GPS", "time": "EXIF DateTimeOriginal"}
    # A camera left on UTC+10 that says so: the instant is right, and the local time at the place follows from it.
    offset = claim_from_exif(photo(tmp_path / "b.jpg", OSLO_GPS, "2023:01:16 02:30:00", "+10:00"))
    assert offset.utc == datetime(2023, 1, 15, 16, 30, tzinfo=timezone.utc)
    assert offset.time == datetime(2023, 1, 15, 17, 30)
    assert offset.source["time"] == "EXIF DateTimeOriginal with its UTC offset"


def test_given_values_win_and_exif_fills_the_rest(tmp_path):
    path = photo(tmp_path / "a.jpg", OSLO_GPS, "2023:01:15 16:30:00")
    given = claim_from_exif(path, lat=-33.87, lon=151.21)
    assert given.source == {"place": "given", "time": "EXIF DateTimeOriginal"}
    assert given.utc == local_to_utc(datetime(2023, 1, 15, 16, 30), -33.87, 151.21)  # the claimed place's zone
    instant = claim_from_exif(path, time=read_claim_time("2023-07-01T10:00Z"))
    assert instant.time == datetime(2023, 7, 1, 12, 0) and not instant.camera_time  # Oslo in summer: UTC+2
    no_year = make_claim(read_photo_exif(path), time=read_claim_time("07-01 12:00"))
    assert not no_year.year_known and no_year.time == datetime(NO_YEAR, 7, 1, 12, 0)
    with pytest.raises(ParameterError, match=r"^give both lat and lon \(or neither\)$"):
        claim_from_exif(path, lat=1.0)


def test_broken_or_missing_exif_gives_reasons(tmp_path):
    broken = claim_from_exif(photo(tmp_path / "b.jpg", OSLO_GPS, "2023:13:45 99:30:00"))
    assert broken.has_place and not broken.has_time and broken.utc is None
    assert broken.problems == [
        "EXIF time: DateTimeOriginal '2023:13:45 99:30:00' is not a valid date and time (month must be in 1..12)"
    ]
    bare = claim_from_exif(photo(tmp_path / "c.jpg"))
    assert bare.is_empty and bare.why_empty().startswith("EXIF GPS: no GPS position in EXIF; EXIF time:")
    assert make_claim(None).problems == ["EXIF: not read (the photo was given as an image, not a file)"]


def test_a_claims_csv_names_each_bad_row_and_keeps_the_good_ones(tmp_path):
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        photo(tmp_path / name, OSLO_GPS, "2023:01:15 16:30:00")
    claims_csv = tmp_path / "claims.csv"
    claims_csv.write_text(
        "path,lat,lon,year,month,day,hour,minute\n"
        "a.jpg,48.85,2.35,2023,6,1,12,0\n"
        "b.jpg,48.85,2.35,2023,13,1,12,0\n"
        "c.jpg,95,2.35,,,,,\n"
        "d.jpg,,,,6,1,12,0\n"
        ",1,2,,,,,\n"
    )
    claims = read_claims(claims_csv)
    assert [p.name for p in claims.photos()] == ["a.jpg", "d.jpg", "b.jpg", "c.jpg", "claims.csv row 5"]
    good = claims.claim(tmp_path / "a.jpg", read_photo_exif(tmp_path / "a.jpg"))
    assert (good.lat, good.lon, good.time) == (48.85, 2.35, datetime(2023, 6, 1, 12, 0))
    assert good.utc == datetime(2023, 6, 1, 10, 0, tzinfo=timezone.utc) and good.source["place"] == "claims.csv row"
    place_from_exif = claims.claim(tmp_path / "d.jpg", read_photo_exif(tmp_path / "d.jpg"))
    assert place_from_exif.source == {"place": "EXIF GPS", "time": "claims.csv row"}
    assert not place_from_exif.year_known
    assert claims.problem(tmp_path / "a.jpg") == ""
    assert claims.problem(tmp_path / "b.jpg") == (
        f"{claims_csv} row 2 (line 3), path 'b.jpg': invalid month '13': must be 1-12"
    )
    assert "row 3 (line 4), path 'c.jpg': invalid lat '95'" in claims.problem(tmp_path / "c.jpg")
    assert "row 5 (line 6): invalid path '': empty" in claims.problem(claims.photos()[-1])
    unnamed = claims.claim(tmp_path / "other.jpg", read_photo_exif(tmp_path / "a.jpg"))
    assert unnamed.source["place"] == "EXIF GPS"  # a photo the file does not name: its EXIF claim


def test_a_given_claim_source_claims_every_photo_alike(tmp_path):
    path = photo(tmp_path / "a.jpg", OSLO_GPS, "2023:01:15 16:30:00")
    source = GivenClaim(10.0, 20.0, ClaimedTime(datetime(2023, 1, 1, 12, 0) + timedelta(minutes=5)))
    claim = source.claim(path, read_photo_exif(path))
    assert source.problem(path) == "" and (claim.lat, claim.lon) == (10.0, 20.0)
    assert claim.time == datetime(2023, 1, 1, 12, 5) and claim.source["time"] == "given"
