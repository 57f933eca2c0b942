"""`gtloc evaluate` on hand-made CSVs whose metrics are worked out by hand in the comments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gtloc.data.schema import Records
from gtloc.errors import GtlocError, ParameterError
from gtloc.evaluation.protocol import evaluate_predictions
from gtloc.geo import InvalidCoordinateError
from gtloc.timecode import InvalidTimeError
from helpers.cli import run_cli

PARIS, LONDON = (48.8566, 2.3522), (51.5074, -0.1278)
NEW_YORK, LOS_ANGELES = (40.7128, -74.0060), (34.0522, -118.2437)
PARIS_LONDON_KM = 343.556  # haversine, R = 6371.0 km
NEW_YORK_LA_KM = 3935.746
TENTH_DEGREE_AT_EQUATOR_KM = 11.119  # 0.1 deg of longitude on the equator: 6371 * pi / 1800

TRUTH_CSV = """path,lat,lon,unix_ts,year,month,day,hour,minute,second,camera
a.jpg,51.5074,-0.1278,,,1,1,0,30,0,A
b.jpg,40.7128,-74.0060,,,6,15,12,0,0,A
c.jpg,0,0,,,3,1,6,0,0,B
d.jpg,,,,,7,1,18,0,0,B
e.jpg,10,10,,,,,,,,B
f.jpg,20,20,,,5,5,5,5,0,B
"""

# a: Paris for London (343.6 km), Dec 31 23:30 for Jan 1 00:30: month error 1/31, hour error 1.
# b: Los Angeles for New York (3935.7 km), exact time.
# c: 0.1 deg east (11.1 km); Sep 1 18:00 for Mar 1 06:00: 6 months, 12 hours (the largest cyclic errors).
# d: truth has no GPS (no geo error); 17:00 for 18:00: 1 hour.
# e: exact place; truth has no time (no time error).
# f: truth without a prediction; z: a prediction without truth.
PREDS_CSV = """path,lat,lon,month,day,hour,minute
a.jpg,48.8566,2.3522,12,31,23,30
b.jpg,34.0522,-118.2437,6,15,12,0
c.jpg,0,0.1,9,1,18,0
./d.jpg,0,0,7,1,17,0
e.jpg,10,10,2,2,2,0
z.jpg,1,1,1,1,1,0
"""


@pytest.fixture
def csvs(tmp_path: Path) -> tuple[Path, Path]:
    truth, preds = tmp_path / "truth.csv", tmp_path / "preds.csv"
    truth.write_text(TRUTH_CSV)
    preds.write_text(PREDS_CSV)
    return preds, truth


def one_row(tmp_path: Path, pred: str, true: str) -> dict:
    (tmp_path / "p.csv").write_text("path,lat,lon,month,day,hour,minute\n" + pred + "\n")
    (tmp_path / "t.csv").write_text("path,lat,lon,unix_ts,year,month,day,hour,minute,second\n" + true + "\n")
    return evaluate_predictions(tmp_path / "p.csv", tmp_path / "t.csv")


def test_paris_for_london_is_343_5_km(tmp_path):
    result = one_row(tmp_path, "x.jpg,48.8566,2.3522,1,1,0,0", "x.jpg,51.5074,-0.1278,,,1,1,0,0,0")
    assert result["geo"]["median_km"] == pytest.approx(PARIS_LONDON_KM, abs=0.01)
    assert result["geo"]["acc_200km"] == 0.0
    assert result["geo"]["acc_750km"] == 1.0
    assert result["time"] == {"month_error": 0.0, "hour_error": 0.0}


def test_new_year_is_one_day_and_one_hour_apart(tmp_path):
    result = one_row(tmp_path, "x.jpg,0,0,12,31,23,30", "x.jpg,0,0,,,1,1,0,30,0")
    assert result["time"]["month_error"] == pytest.approx(1 / 31)
    assert result["time"]["hour_error"] == pytest.approx(1.0)
    assert result["geo"]["median_km"] == 0.0
    assert result["geo"]["acc_1km"] == 1.0


def test_pooled_metrics_match_the_hand_computed_values(csvs):
    result = evaluate_predictions(*csvs)
    geo, time = result["geo"], result["time"]
    # Geo over a, b, c, e: errors 343.6, 3935.7, 11.1, 0 km.
    assert geo["median_km"] == pytest.approx((PARIS_LONDON_KM + TENTH_DEGREE_AT_EQUATOR_KM) / 2, abs=0.01)
    assert (geo["acc_1km"], geo["acc_25km"], geo["acc_200km"]) == (0.25, 0.5, 0.5)
    assert (geo["acc_750km"], geo["acc_2500km"]) == (0.75, 0.75)
    # Time over a, b, c, d: month errors 1/31, 0, 6, 0; hour errors 1, 0, 12, 1.
    assert time["month_error"] == pytest.approx((1 / 31 + 6) / 4)
    assert time["hour_error"] == pytest.approx(14 / 4)
    assert result["n"] == {
        "predictions": 6,
        "truth": 6,
        "matched": 5,
        "truth_geo": 4,
        "truth_time": 4,
        "geo": 4,
        "time": 4,
    }


def test_unmatched_rows_are_counted_and_named(csvs):
    unmatched = evaluate_predictions(*csvs)["unmatched"]
    assert unmatched["predictions_without_truth"] == 1
    assert unmatched["predictions_without_truth_examples"] == ["z.jpg"]
    assert unmatched["truth_without_predictions"] == 1
    assert unmatched["truth_without_predictions_examples"] == ["f.jpg"]


def test_group_by_gives_each_group_and_the_pooled_metrics(csvs):
    result = evaluate_predictions(*csvs, group_by="camera")
    assert result["group_by"] == "camera"
    assert set(result["groups"]) == {"A", "B"}
    a, b = result["groups"]["A"], result["groups"]["B"]
    assert a["geo"]["median_km"] == pytest.approx((PARIS_LONDON_KM + NEW_YORK_LA_KM) / 2, abs=0.01)
    assert a["time"]["month_error"] == pytest.approx(1 / 62)
    assert a["time"]["hour_error"] == pytest.approx(0.5)
    assert b["geo"]["median_km"] == pytest.approx(TENTH_DEGREE_AT_EQUATOR_KM / 2, abs=0.01)
    assert b["time"] == {"month_error": pytest.approx(3.0), "hour_error": pytest.approx(6.5)}
    assert (a["n"]["matched"], b["n"]["matched"]) == (2, 3)
    assert result["time"]["hour_error"] == pytest.approx(3.5)


def test_a_half_missing_from_every_row_is_none(tmp_path):
    result = one_row(tmp_path, "x.jpg,1,1,,,,", "x.jpg,1,1,,,3,3,3,0,0")
    assert result["time"] is None
    assert result["n"]["truth_time"] == 1
    assert result["n"]["time"] == 0
    assert result["geo"]["median_km"] == 0.0


def test_records_objects_are_accepted():
    truth = Records(["a", "b"], np.array([LONDON, NEW_YORK]), np.array([[1, 1, 0, 30, 0], [6, 15, 12, 0, 0]]))
    pred = Records(["b", "a"], np.array([LOS_ANGELES, PARIS]), np.array([[6, 15, 12, 0, 0], [12, 31, 23, 30, 0]]))
    result = evaluate_predictions(pred, truth)
    assert result["geo"]["median_km"] == pytest.approx((PARIS_LONDON_KM + NEW_YORK_LA_KM) / 2, abs=0.01)
    assert result["time"]["hour_error"] == pytest.approx(0.5)


def test_nothing_matching_is_an_error_showing_both_sides(tmp_path, csvs):
    other = tmp_path / "other.csv"
    other.write_text("path,lat,lon\nelsewhere/1.jpg,1,1\n")
    with pytest.raises(GtlocError, match=r"no prediction path matches.*elsewhere/1\.jpg.*a\.jpg"):
        evaluate_predictions(other, csvs[1])


def test_unknown_group_column_is_named(csvs):
    with pytest.raises(ParameterError, match=r"^group_by 'webcam' is not a column.*camera") as info:
        evaluate_predictions(*csvs, group_by="webcam")
    assert info.value.parameter == "group_by"


def test_unknown_group_column_is_named_by_its_flag_on_the_command_line(tmp_path, csvs, monkeypatch, capsys):
    args = ("evaluate", "--predictions", csvs[0], "--truth", csvs[1], "--out", tmp_path / "m.json")
    code, _, stderr = run_cli(monkeypatch, capsys, *args, "--group-by", "webcam")
    assert code == 2
    assert stderr.startswith("error: --group-by 'webcam' is not a column of the truth records (extra columns: ")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    ("row", "error", "field", "message"),
    [
        ("a.jpg,91,0,1,1,0,0", InvalidCoordinateError, "lat", r"preds\.csv row 1 \(path 'a\.jpg'\): invalid lat '91'"),
        ("a.jpg,1,1,13,1,0,0", InvalidTimeError, "month", r"row 1 \(path 'a\.jpg'\): invalid month '13'"),
        ("a.jpg,1,1,2,30,0,0", InvalidTimeError, "day", r"invalid day '30': month 2 has 29 days"),
        ("a.jpg,1,x,1,1,0,0", InvalidCoordinateError, "lon", r"invalid lon 'x': not a number"),
    ],
)
def test_bad_prediction_values_name_row_field_and_value(tmp_path, csvs, row, error, field, message):
    bad = tmp_path / "preds.csv"
    bad.write_text("path,lat,lon,month,day,hour,minute\n" + row + "\n")
    with pytest.raises(error, match=message) as info:  # the validator's own type, not re-wrapped
        evaluate_predictions(bad, csvs[1])
    assert info.value.field == field and info.value.where == f"{bad} row 1 (path 'a.jpg')"


def test_duplicate_prediction_paths_are_refused(tmp_path, csvs):
    bad = tmp_path / "dup.csv"
    bad.write_text("path,lat,lon\na.jpg,1,1\nb.jpg,1,1\na.jpg,2,2\n")
    with pytest.raises(GtlocError, match=r"dup\.csv row 3: duplicate path 'a\.jpg' \(first at row 1\)"):
        evaluate_predictions(bad, csvs[1])


def test_cli_writes_json_and_prints_a_table(monkeypatch, capsys, tmp_path, csvs):
    out = tmp_path / "sub" / "metrics.json"
    code, stdout, stderr = run_cli(
        monkeypatch,
        capsys,
        "evaluate",
        "--predictions",
        csvs[0],
        "--truth",
        csvs[1],
        "--group-by",
        "camera",
        "--out",
        out,
    )
    assert code == 0, stderr
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(evaluate_predictions(*csvs, group_by="camera")))
    lines = stdout.splitlines()
    assert lines[0].startswith("| rows | n | month err (months) | hour err (h) | median km | acc@1km %")
    assert lines[2].startswith("| all | 5 | 1.51 | 3.50 | 177.3 | 25.0 | 50.0 | 50.0 | 75.0 | 75.0 |")
    assert lines[3].startswith("| camera=A | 2 | 0.02 | 0.50 | 2139.7 |")
    assert lines[4].startswith("| camera=B | 3 | 3.00 | 6.50 | 5.6 |")
    assert "1 predictions without truth (e.g. z.jpg)" in stderr
    assert "1 truth rows without predictions (e.g. f.jpg)" in stderr
    assert [p.name for p in out.parent.iterdir()] == ["metrics.json"]


def test_cli_error_is_one_line_and_status_2(monkeypatch, capsys, tmp_path, csvs):
    code, _, stderr = run_cli(
        monkeypatch, capsys, "evaluate", "--predictions", tmp_path / "nope.csv", "--truth", csvs[1], "--out", "m.json"
    )
    assert code == 2
    assert stderr.strip() == f"error: predictions file not found: {tmp_path / 'nope.csv'}"


def _with_domain(preds: Path, flags: list[str]) -> Path:
    lines = preds.read_text().splitlines()
    rows = [lines[0] + ",in_domain,domain_score"] + [
        f"{line},{flag},{'80.0' if flag == 'true' else '0.0' if flag else ''}"
        for line, flag in zip(lines[1:], flags, strict=True)
    ]
    preds.write_text("\n".join(rows) + "\n")
    return preds


def test_evaluate_warns_when_most_predictions_are_outside_the_domain(monkeypatch, capsys, tmp_path, csvs):
    preds = _with_domain(csvs[0], ["false", "false", "false", "true", "", "false"])
    result = evaluate_predictions(preds, csvs[1])
    # matched: a, b, c, d (in), e (not judged); z has no truth
    assert result["domain"] == {"in_domain": 1, "outside": 3, "unknown": 1}
    assert result["warnings"] == [
        "3 of 4 predictions (75 %) are outside the model's domain (in_domain = false): they look unlike the "
        "pictures the model was trained on, so its places, times and probabilities for them are not to be trusted, "
        "and these metrics do not say how it does on pictures it knows; train on pictures like them before reading "
        "the numbers as its accuracy"
    ]
    code, stdout, stderr = run_cli(
        monkeypatch, capsys, "evaluate", "--predictions", preds, "--truth", csvs[1], "--out", tmp_path / "m.json"
    )
    assert code == 0 and "warning: 3 of 4 predictions (75 %) are outside the model's domain" in stderr
    assert json.loads((tmp_path / "m.json").read_text())["warnings"] == result["warnings"]
    assert "| all | 5 |" in stdout  # the numbers are still reported


@pytest.mark.parametrize("flags", [["true", "true", "false", "false", "true", "true"], [""] * 6])
def test_no_warning_when_half_or_fewer_are_outside_or_none_was_judged(csvs, flags):
    result = evaluate_predictions(_with_domain(csvs[0], flags), csvs[1])
    assert result["warnings"] == []
