"""Records CSV loading: every bad-input case with the exact message the user sees."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gtloc.data.schema import (
    RecordsValidationError,
    check_records,
    default_report_path,
    load_records,
    records_to_csv,
)
from gtloc.errors import GtlocError

FULL_HEADER = "path,lat,lon,unix_ts,year,month,day,hour,minute,second"


def write_csv(tmp_path, *lines: str, name: str = "records.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def only_problem(tmp_path, *rows: str, header: str = FULL_HEADER, **kwargs) -> str:
    """The one problem line a file with ``rows`` gives, as the user sees it in the strict error."""
    path = write_csv(tmp_path, header, *rows)
    with pytest.raises(RecordsValidationError) as info:
        load_records(path, **kwargs)
    assert len(info.value.problems) == 1, str(info.value)
    return str(info.value.problems[0])


def test_full_schema_with_extras(tmp_path):
    path = write_csv(
        tmp_path,
        FULL_HEADER + ",camera",
        "a.jpg,47.5,-122.25,1560353400,2019,6,12,8,30,0,cam1",
        "sub/b.jpg,-33.9,151.2,,2024,2,29,23,59,59.5,cam2",
    )
    records = load_records(path)
    assert records.paths == ["a.jpg", "sub/b.jpg"]
    np.testing.assert_allclose(records.latlon, [[47.5, -122.25], [-33.9, 151.2]])
    np.testing.assert_allclose(records.times, [[6, 12, 8, 30, 0], [2, 29, 23, 59, 59.5]])
    assert records.extras == {"unix_ts": ["1560353400", ""], "year": ["2019", "2024"], "camera": ["cam1", "cam2"]}


CLOCK_HEADER = "path,lat,lon,gps_utc,clock_offset_s,clock,clock_note"


def test_optional_clock_columns_are_kept_and_checked(tmp_path):
    path = write_csv(
        tmp_path,
        CLOCK_HEADER,
        "a.jpg,1,2,2021-06-01T12:30:04Z,7200,ok,",
        'b.jpg,1,2,2021-06-01T12:30:04Z,43200,wrong,"camera set to UTC+2, 10 h ahead of local time"',
        "c.jpg,1,2,,,,",
    )
    records = load_records(path)
    assert records.extras["clock"] == ["ok", "wrong", ""]
    assert records.extras["clock_note"][1] == "camera set to UTC+2, 10 h ahead of local time"
    assert records_to_csv(records).splitlines()[0] == CLOCK_HEADER


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("a.jpg,1,2,2021-06-01 12:30,0,ok,", "invalid gps_utc '2021-06-01 12:30': not in UTC (end it with Z)"),
        ("a.jpg,1,2,noon,0,ok,", "invalid gps_utc 'noon': not an ISO 8601 time (e.g. 2021-06-01T12:30:04Z)"),
        ("a.jpg,1,2,,ten,ok,", "invalid clock_offset_s 'ten': not a number"),
        ("a.jpg,1,2,,,fine,", "invalid clock 'fine': must be ok, wrong or unknown"),
    ],
)
def test_bad_clock_columns_name_the_field(tmp_path, row, problem):
    assert only_problem(tmp_path, row, header=CLOCK_HEADER).endswith(problem)


def test_geo_only_and_missing_labels_are_nan(tmp_path):
    geo = load_records(write_csv(tmp_path, "path,lat,lon", "a.jpg,1,2", "b.jpg,,", name="geo.csv"))
    assert geo.has_gps.tolist() == [True, False]
    assert np.isnan(geo.times).all() and geo.extras == {}
    timed = load_records(write_csv(tmp_path, FULL_HEADER, "a.jpg,,,,,7,1,12,0,0", "b.jpg,1,2,,,,,,,"))
    assert timed.has_gps.tolist() == [False, True]
    assert timed.has_time.tolist() == [True, False]


def test_roundtrip_through_records_to_csv(tmp_path):
    text = FULL_HEADER + ",camera\na.jpg,47.5,-122.25,1560353400,2019,6,12,8,30,0,cam1\nb.jpg,,,,,,,,,,cam2\n"
    path = write_csv(tmp_path, *text.strip().split("\n"))
    assert records_to_csv(load_records(path)) == text


def test_lat_out_of_range(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,91,10,,,,,,,")
        == "row 1 (line 2), path 'a.jpg': invalid lat '91': must be within [-90, 90]"
    )


def test_lon_out_of_range(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,10,-180.5,,,,,,,")
        == "row 1 (line 2), path 'a.jpg': invalid lon '-180.5': must be within [-180, 180]"
    )


def test_nan_and_non_numeric_coordinates(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,nan,10,,,,,,,")
        == "row 1 (line 2), path 'a.jpg': invalid lat 'nan': not a finite number"
    )
    assert (
        only_problem(tmp_path, "a.jpg,10,12°E,,,,,,,")
        == "row 1 (line 2), path 'a.jpg': invalid lon '12°E': not a number"
    )


def test_half_a_coordinate(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,10,,,,,,,,")
        == "row 1 (line 2), path 'a.jpg': invalid lon '': missing while lat is given (give both or neither)"
    )


def test_month_13(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,1,2,,,13,1,12,0,0")
        == "row 1 (line 2), path 'a.jpg': invalid month '13': must be 1-12"
    )


def test_feb_30_without_year(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,1,2,,,2,30,12,0,0")
        == "row 1 (line 2), path 'a.jpg': invalid day '30': month 2 has 29 days"
    )


def test_feb_29_uses_the_real_calendar_when_year_is_given(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,1,2,,2023,2,29,12,0,0")
        == "row 1 (line 2), path 'a.jpg': invalid day '29': month 2 of 2023 has 28 days"
    )
    ok = load_records(write_csv(tmp_path, FULL_HEADER, "a.jpg,1,2,,2024,2,29,12,0,0", "b.jpg,1,2,,,2,29,1,0,0"))
    assert ok.has_time.all()


def test_hour_24_and_fractional_minute(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,1,2,,,6,1,24,0,0")
        == "row 1 (line 2), path 'a.jpg': invalid hour '24': must be 0-23"
    )
    assert (
        only_problem(tmp_path, "a.jpg,1,2,,,6,1,12,1.5,0")
        == "row 1 (line 2), path 'a.jpg': invalid minute '1.5': must be a whole number"
    )


def test_partial_time(tmp_path):
    assert only_problem(tmp_path, "a.jpg,1,2,,,6,1,12,,") == (
        "row 1 (line 2), path 'a.jpg': invalid minute '': missing while month, day, hour are given "
        "(give all of month, day, hour, minute, second, or none)"
    )


def test_bad_year_and_unix_ts(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,1,2,,20.5,6,1,12,0,0")
        == "row 1 (line 2), path 'a.jpg': invalid year '20.5': must be a whole number in 1-9999"
    )
    assert (
        only_problem(tmp_path, "a.jpg,1,2,soon,,6,1,12,0,0")
        == "row 1 (line 2), path 'a.jpg': invalid unix_ts 'soon': not a number"
    )


def test_duplicate_and_empty_path(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,1,2", "b.jpg,1,2", "a.jpg,3,4", header="path,lat,lon")
        == "row 3 (line 4): invalid path 'a.jpg': duplicate of row 1 (line 2)"
    )
    assert only_problem(tmp_path, ",1,2", header="path,lat,lon") == "row 1 (line 2): invalid path '': empty"


def test_missing_image_file_only_checked_with_images_root(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(b"x")
    rows = ("a.jpg,1,2", "gone.jpg,1,2")
    message = only_problem(tmp_path, *rows, header="path,lat,lon", images_root=tmp_path / "img")
    assert message == f"row 2 (line 3): invalid path 'gone.jpg': image file not found under {tmp_path / 'img'}"
    assert len(load_records(write_csv(tmp_path, "path,lat,lon", *rows))) == 2


def test_wrong_number_of_fields(tmp_path):
    assert (
        only_problem(tmp_path, "a.jpg,1,2,3", header="path,lat,lon")
        == "row 1 (line 2), path 'a.jpg': has 4 fields but the header has 3"
    )


def test_missing_required_column(tmp_path):
    path = write_csv(tmp_path, "path,latitude,lon", "a.jpg,1,2")
    with pytest.raises(RecordsValidationError) as info:
        load_records(path, strict=False)
    assert str(info.value) == (
        f"{path}: header (line 1): missing required column(s) lat (columns: path, latitude, lon)"
    )


def test_incomplete_time_columns_and_duplicate_columns(tmp_path):
    path = write_csv(tmp_path, "path,lat,lon,month,day,hour", "a.jpg,1,2,3,4,5")
    with pytest.raises(RecordsValidationError) as info:
        load_records(path)
    assert str(info.value) == (
        f"{path}: header (line 1): missing time column(s) minute "
        "(time columns come as a set: month, day, hour, minute, and second if you like)"
    )
    without_seconds = write_csv(
        tmp_path, "path,lat,lon,year,month,day,hour,minute", "a.jpg,1,2,2020,3,4,5,6", "b.jpg,1,2,,,,,"
    )
    records = load_records(without_seconds)
    assert records.times[0].tolist() == [3, 4, 5, 6, 0] and np.isnan(records.times[1]).all()
    path = write_csv(tmp_path, "path,lat,lon,lat", "a.jpg,1,2,3")
    with pytest.raises(RecordsValidationError, match=r"header \(line 1\): duplicate column\(s\) lat$"):
        load_records(path)


def test_empty_missing_and_non_utf8_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(RecordsValidationError) as info:
        load_records(empty)
    assert str(info.value) == f"{empty}: header (line 1): no header (the file is empty or starts with a blank line)"
    with pytest.raises(GtlocError) as info:
        load_records(tmp_path / "nope.csv")
    assert str(info.value) == f"records file not found: {tmp_path / 'nope.csv'}"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"path,lat,lon\na.jpg,1,2\nb\xe9.jpg,1,2\n")
    with pytest.raises(GtlocError) as info:
        load_records(latin)
    assert "row 2 (line 3), path 'b\ufffd.jpg': not UTF-8 text: byte 0xe9 in column 'path' at character 2" in str(
        info.value
    )


def test_strict_message_lists_every_problem_with_file_row_line_field_value(tmp_path):
    path = write_csv(
        tmp_path,
        FULL_HEADER,
        "a.jpg,10,20,,,1,1,0,0,0",
        "b.jpg,91,200,,2023,2,29,12,0,0",
        "",
        "c.jpg,1,2,,,6,1,24,0,0",
    )
    with pytest.raises(RecordsValidationError) as info:
        load_records(path)
    assert str(info.value) == "\n".join(
        [
            f"{path}: 4 problem(s) in 2 of 3 rows (row = data row counted from 1 after the header; "
            "line = line in the file):",
            "  row 2 (line 3), path 'b.jpg': invalid lat '91': must be within [-90, 90]",
            "  row 2 (line 3), path 'b.jpg': invalid lon '200': must be within [-180, 180]",
            "  row 2 (line 3), path 'b.jpg': invalid day '29': month 2 of 2023 has 28 days",
            "  row 3 (line 5), path 'c.jpg': invalid hour '24': must be 0-23",
        ]
    )
    assert isinstance(info.value, GtlocError)


def test_strict_message_is_capped_but_the_exception_keeps_all(tmp_path):
    rows = [f"img{i}.jpg,95,0" for i in range(60)]
    path = write_csv(tmp_path, "path,lat,lon", *rows, "ok.jpg,1,1")
    with pytest.raises(RecordsValidationError) as info:
        load_records(path)
    lines = str(info.value).split("\n")
    assert lines[0].startswith(f"{path}: 60 problem(s) in 60 of 61 rows")
    assert len(lines) == 1 + 50 + 1
    assert lines[50] == "  row 50 (line 51), path 'img49.jpg': invalid lat '95': must be within [-90, 90]"
    assert lines[-1] == (
        "  ... and 10 more (all are in the error's .problems; lenient mode skips bad rows and writes them "
        "to a report CSV)"
    )
    assert len(info.value.problems) == 60 and info.value.problems[-1].path == "img59.jpg"


def test_lenient_skips_bad_rows_and_writes_the_report(tmp_path):
    path = write_csv(
        tmp_path,
        FULL_HEADER + ",camera",
        "a.jpg,10,20,,,1,1,0,0,0,c1",
        "b.jpg,91,20,,,1,1,0,0,0,c1",
        "c.jpg,1,2,,,13,1,0,0,0,c2",
        "d.jpg,1,2,,,,,,,,c2",
    )
    records = load_records(path, strict=False)
    assert records.paths == ["a.jpg", "d.jpg"] and records.extras["camera"] == ["c1", "c2"]
    report = default_report_path(path)
    assert report == tmp_path / "records.report.csv"
    assert report.read_text() == (
        'row,path,field,value,problem\n2,b.jpg,lat,91,"must be within [-90, 90]"\n3,c.jpg,month,13,must be 1-12\n'
    )
    custom = tmp_path / "out" / "problems.csv"
    load_records(path, strict=False, report_path=custom)
    assert custom.read_text() == report.read_text()


def test_check_records_exposes_problems(tmp_path):
    path = write_csv(tmp_path, "path,lat,lon", "a.jpg,1,2", "b.jpg,x,2")
    check = check_records(path)
    assert check.n_rows == 2 and check.records.paths == ["a.jpg"]
    (problem,) = check.problems
    assert (problem.file, problem.row, problem.line, problem.path, problem.field, problem.value) == (
        str(path),
        2,
        3,
        "b.jpg",
        "lat",
        "x",
    )
    assert problem.problem == "not a number"


def test_large_file_streams(tmp_path):
    rows = [
        f"img/{i}.jpg,{(i % 170) - 85},{(i % 350) - 175},,2020,{i % 12 + 1},{i % 28 + 1},{i % 24},0,0"
        for i in range(20000)
    ]
    records = load_records(write_csv(tmp_path, FULL_HEADER, *rows))
    assert len(records) == 20000 and not math.isnan(records.times[-1, 0])


@pytest.mark.parametrize("byte_at", [5, 40_000])
def test_non_utf8_bytes_are_reported_at_their_line_even_deep_in_the_file(tmp_path, byte_at):
    """The decoder reads ahead in blocks: the line must come from the row, not from where decoding stopped."""
    rows = "path,lat,lon\n" + "".join(f"{i:05d}.jpg,1,2\n" for i in range(5000))
    data = rows.encode()
    at = data.index(b"\n", byte_at) + 1  # the first character of a line
    line = data[:at].count(b"\n") + 1
    bad = tmp_path / "bad.csv"
    bad.write_bytes(data[:at] + b"\xff" + data[at:])
    with pytest.raises(RecordsValidationError) as info:
        load_records(bad)
    (problem,) = info.value.problems
    assert (problem.row, problem.line) == (line - 1, line)
    assert str(problem).endswith("not UTF-8 text: byte 0xff in column 'path' at character 1 (save the file as UTF-8)")
    records = load_records(bad, strict=False)
    assert len(records) == 4999 and "byte 0xff" in (tmp_path / "bad.report.csv").read_text()


def test_an_unclosed_quote_names_the_line_it_opens_on(tmp_path):
    bad = tmp_path / "quote.csv"
    bad.write_text('path,lat,lon\na.jpg,1,2\n"b.jpg,3,4\nc.jpg,5,6\nd.jpg,7,8\n')
    with pytest.raises(RecordsValidationError) as info:
        load_records(bad)
    (problem,) = info.value.problems
    assert (problem.row, problem.line) == (2, 3)
    assert "unclosed quote: column 'path' opens a quoted value on line 3 that runs to line 5" in str(problem)


def test_a_quoted_line_break_in_an_extra_column_is_fine(tmp_path):
    good = tmp_path / "caption.csv"
    good.write_text('path,lat,lon,caption\na.jpg,1,2,"two\nlines"\nb.jpg,3,4,x\n')
    assert load_records(good).extras["caption"] == ["two\nlines", "x"]


def test_a_header_that_is_not_utf8(tmp_path):
    bad = tmp_path / "head.csv"
    bad.write_bytes(b"pa\xffth,lat,lon\na.jpg,1,2\n")
    with pytest.raises(RecordsValidationError, match=r"header \(line 1\): not UTF-8 text: byte 0xff"):
        load_records(bad)
