"""Prediction files: the top-1 CSV, the top-k JSON beside it, and reading the CSV back (the readable form of a
prediction is :func:`gtloc.inference.prediction.prediction_text`).

* ``preds.csv``: one row per image, ``path,lat,lon,month,day,hour,minute,in_domain,domain_score`` (the best place
  and the read-out's local clock time, its seconds dropped, at most 1/60 h; ``in_domain`` ``true``/``false`` and
  ``domain_score`` 0-100, :mod:`gtloc.model.domain`), then what the screen shows beside them: ``place`` (the best
  place's nearest town), ``p_place`` (its probability), ``radius_km`` (the radius around it that holds the truth
  with probability ``p_radius``, the run's stated coverage), ``hour_window`` (``14:00-16:00``: the clock hours
  around the answer's hour that hold at least half the hour posterior; ``00:00-24:00`` for all of them) with
  ``p_hour_window`` and ``p_month`` (the answer's month), ``time_given_place`` (``exif`` or ``given`` when the time
  was predicted given a known place, :attr:`Prediction.known_place`; else empty) and the photo's EXIF
  ``exif_lat,exif_lon,exif_time`` (local camera time ``YYYY-MM-DD HH:MM:SS``; empty where it has none or was not
  read). Empty cells where a half (place, time, domain check) was not predicted or the run has no domain profile.
* ``preds.json``: for each image the top-k distinct places and the top-k times with (calibrated) probabilities, the
  month (12) and hour (24) marginals of the time posterior, ``in_domain`` and ``domain_score``, and the CSV's
  answer in full (``place``, ``hour_window``, ``time_given_place``, ``exif``); ``time_readout`` names the read-out,
  ``radius_coverage`` the probability of every ``radius_km``; plus the images that were skipped and why.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gtloc.data.exif import PhotoExif
from gtloc.data.schema import Records
from gtloc.errors import GtlocError
from gtloc.geo import validate_coordinate
from gtloc.inference.prediction import Prediction
from gtloc.inference.readable import hours_text
from gtloc.io import atomic_write_text
from gtloc.labels import has_label
from gtloc.timecode import TIME_FIELDS, validate_time

PREDICTION_COLUMNS = ("path", "lat", "lon", "month", "day", "hour", "minute", "in_domain", "domain_score")
ANSWER_COLUMNS = ("place", "p_place", "radius_km", "p_radius", "hour_window", "p_hour_window", "p_month")
SOURCE_COLUMNS = ("time_given_place", "exif_lat", "exif_lon", "exif_time")
CSV_COLUMNS = (*PREDICTION_COLUMNS, *ANSWER_COLUMNS, *SOURCE_COLUMNS)
EXIF_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def prediction_json_path(csv_path: str | Path) -> Path:
    """The JSON file beside a predictions CSV: ``preds.csv`` -> ``preds.json``."""
    csv_path = Path(csv_path)
    if csv_path.suffix.lower() == ".json":
        raise GtlocError(f"{csv_path}: the predictions CSV must not end in .json (the top-k JSON goes beside it)")
    return csv_path.with_suffix(".json")


def top1_times(pred: Prediction) -> np.ndarray | None:
    """The ``(N, 5)`` time answer of the prediction's read-out (:attr:`Prediction.best_time`)."""
    if pred.time_topk is None:
        return None
    return pred.best_time.detach().cpu().numpy().astype(np.float64)


def domain_cells(pred: Prediction, i: int) -> list[str]:
    """Row ``i``'s ``in_domain`` (``true``/``false``) and ``domain_score`` cells; empty without a domain check."""
    if pred.domain_score is None:
        return ["", ""]
    return ["true" if bool(pred.in_domain[i]) else "false", f"{float(pred.domain_score[i]):.1f}"]


def _top1_places(pred: Prediction) -> np.ndarray | None:
    return None if pred.place_topk is None else pred.latlon.detach().cpu().numpy().astype(np.float64)


@dataclass
class Answers:
    """What the screen shows beside each row's place and time, computed once for a whole prediction: the best places'
    town names, the hour windows (:meth:`Prediction.hour_window`) and the answer months' probabilities."""

    towns: list[str]
    window: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    p_month: np.ndarray | None

    @classmethod
    def of(cls, pred: Prediction) -> Answers:
        from gtloc.places import place_names

        towns = place_names(_top1_places(pred)) if pred.place_topk is not None and len(pred) else []
        if pred.time_topk is None:
            return cls(towns, None, None)
        window = tuple(v.numpy() for v in pred.hour_window())
        months = pred.best_time[:, 0].long() - 1
        p_month = pred.month_posterior.gather(1, months[:, None])[:, 0].numpy()
        return cls(towns, window, p_month)

    def place_cells(self, pred: Prediction, i: int) -> list[str]:
        """Row ``i``'s ``place,p_place,radius_km,p_radius`` cells."""
        if pred.place_topk is None:
            return ["", "", "", ""]
        radius = "" if pred.place_radius_km is None else f"{float(pred.place_radius_km[i]):g}"
        coverage = "" if pred.place_coverage is None else f"{pred.place_coverage:g}"
        return [self.towns[i], _probability(float(pred.place_probs[i, 0])), radius, coverage]

    def time_cells(self, i: int) -> list[str]:
        """Row ``i``'s ``hour_window,p_hour_window,p_month`` cells."""
        if self.window is None:
            return ["", "", ""]
        first, hours, mass = self.window
        return [window_cell(int(first[i]), int(hours[i])), _probability(mass[i]), _probability(self.p_month[i])]

    def window_dict(self, i: int) -> dict[str, Any]:
        first, hours, mass = self.window
        text = window_cell(int(first[i]), int(hours[i]))
        return {"from": int(first[i]), "hours": int(hours[i]), "text": text, "prob": round(float(mass[i]), 6)}


def window_cell(first: int, hours: int) -> str:
    """A window of clock hours as a cell: ``14:00-16:00`` (``23:00-01:00`` across midnight; ``00:00-24:00`` for all
    24)."""
    return "00:00-24:00" if hours >= 24 else hours_text(first, hours)


def _probability(p: float) -> str:
    return f"{float(p):.4g}"


def source_cells(pred: Prediction, i: int) -> list[str]:
    """Row ``i``'s ``time_given_place,exif_lat,exif_lon,exif_time`` cells."""
    known = pred.known_place is not None and bool(has_label(pred.known_place[i]))
    exif = None if pred.exif is None else pred.exif[i]
    place = ["", ""] if exif is None or not exif.has_gps else [f"{exif.lat:.6f}", f"{exif.lon:.6f}"]
    when = "" if exif is None or not exif.has_time else f"{exif.local_time:{EXIF_TIME_FORMAT}}"
    return [pred.known_place_source if known else "", *place, when]


def _exif_dict(exif: PhotoExif | None) -> dict[str, Any] | None:
    if exif is None:
        return None
    return {
        "lat": exif.lat,
        "lon": exif.lon,
        "time": None if exif.local_time is None else f"{exif.local_time:{EXIF_TIME_FORMAT}}",
        "gps_problem": exif.gps_problem or None,
        "time_problem": exif.time_problem or None,
    }


def predictions_csv(paths: Sequence[str], pred: Prediction) -> str:
    """The CSV text (module docstring), one row per path: the best place and the read-out's time, then what the
    screen shows beside them."""
    places, times = _top1_places(pred), top1_times(pred)
    answers = Answers.of(pred)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i, path in enumerate(paths):
        geo = ["", ""] if places is None else [_degrees(places[i, 0]), _degrees(places[i, 1])]
        when = ["", "", "", ""] if times is None else [str(int(v)) for v in times[i, :4]]
        writer.writerow(
            [
                path,
                *geo,
                *when,
                *domain_cells(pred, i),
                *answers.place_cells(pred, i),
                *answers.time_cells(i),
                *source_cells(pred, i),
            ]
        )
    return out.getvalue()


def _degrees(value: np.floating) -> str:
    """The shortest text that reads back as the same float32 (gallery coordinates are float32): ``139.69``."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def _rounded(values: np.ndarray, digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in values]


def _time_entry(t: np.ndarray) -> dict[str, float]:
    """``[month, day, hour, minute, second]`` -> a dict with whole-number fields as ints."""
    return {**{k: int(v) for k, v in zip(TIME_FIELDS[:4], t[:4], strict=True)}, "second": round(float(t[4]), 3)}


def predictions_json(paths: Sequence[str], pred: Prediction, skipped: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The top-k document: per image ``in_domain`` and ``domain_score`` (``null`` without a domain check), ``place``
    (the best place's town), ``p_place``, ``radius_km`` (holding the truth with probability ``radius_coverage``),
    ``places`` [{lat, lon, prob}] (distinct places), ``times`` [{month, day, hour, minute, second, prob}],
    ``month_posterior`` (12, Jan..Dec), ``hour_posterior`` (24, 0h..23h), ``time`` (the CSV's answer, from
    ``time_readout``), ``hour_window`` {from, hours, text, prob}, ``p_month``, ``time_given_place`` ({source, lat,
    lon} or ``null``) and ``exif`` ({lat, lon, time, gps_problem, time_problem} or ``null``: not read)."""
    arrays = {
        name: None if value is None else value.detach().cpu().numpy().astype(np.float64)
        for name, value in pred.tensors().items()
    }
    answer = top1_times(pred)
    answers = Answers.of(pred)
    rows = []
    for i, path in enumerate(paths):
        row: dict[str, Any] = {"path": path, "in_domain": None, "domain_score": None}
        if arrays["domain_score"] is not None:
            row["in_domain"] = bool(arrays["in_domain"][i])
            row["domain_score"] = round(float(arrays["domain_score"][i]), 2)
        if arrays["place_topk"] is not None:
            row["place"] = answers.towns[i]
            row["p_place"] = round(float(arrays["place_probs"][i, 0]), 6)
            if arrays["place_radius_km"] is not None:
                row["radius_km"] = float(arrays["place_radius_km"][i])
            row["places"] = [
                {"lat": float(_degrees(ll[0])), "lon": float(_degrees(ll[1])), "prob": round(float(p), 6)}
                for ll, p in zip(arrays["place_topk"][i], arrays["place_probs"][i], strict=True)
                if has_label(ll)
            ]
        if arrays["time_topk"] is not None:
            row["time"] = _time_entry(answer[i])
            row["hour_window"] = answers.window_dict(i)
            row["p_month"] = round(float(answers.p_month[i]), 6)
            row["times"] = [
                {**_time_entry(t), "prob": p}
                for t, p in zip(arrays["time_topk"][i], _rounded(arrays["time_probs"][i]), strict=True)
            ]
            row["month_posterior"] = _rounded(arrays["month_posterior"][i])
            row["hour_posterior"] = _rounded(arrays["hour_posterior"][i])
        given = source_cells(pred, i)[0]
        row["time_given_place"] = None
        if given:
            lat, lon = arrays["known_place"][i]
            row["time_given_place"] = {"source": given, "lat": float(lat), "lon": float(lon)}
        row["exif"] = _exif_dict(None if pred.exif is None else pred.exif[i])
        rows.append(row)
    return {
        "columns": list(CSV_COLUMNS),
        "time_readout": pred.readout,
        "radius_coverage": pred.place_coverage,
        "n": len(rows),
        "skipped": [{"path": p, "reason": why} for p, why in skipped],
        "predictions": rows,
    }


def write_predictions(
    paths: Sequence[str],
    pred: Prediction,
    csv_path: str | Path,
    skipped: Sequence[tuple[str, str]] = (),
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``csv_path`` and the top-k JSON beside it (both atomically); return the JSON's path.

    ``extra`` keys (e.g. the checkpoint) are added to the JSON document.
    """
    json_path = prediction_json_path(csv_path)
    document = {**(extra or {}), **predictions_json(paths, pred, skipped)}
    atomic_write_text(csv_path, predictions_csv(paths, pred))
    atomic_write_text(json_path, _one_line_per_prediction(document))
    return json_path


def _one_line_per_prediction(document: dict[str, Any]) -> str:
    """Indented JSON whose ``predictions`` list has one compact line per image (about half the fully indented size)."""
    head = json.dumps({k: v for k, v in document.items() if k != "predictions"}, indent=2)
    rows = ",\n".join("    " + json.dumps(row, separators=(", ", ": ")) for row in document["predictions"])
    return f'{head[:-2]},\n  "predictions": [\n{rows}\n  ]\n}}\n'


def _parse_row(file: str, row: int, cells: dict[str, str]) -> tuple[list[float], list[float]]:
    where = f"{file} row {row} (path {cells['path']!r})"
    lat, lon = cells["lat"].strip(), cells["lon"].strip()
    latlon = [math.nan, math.nan]
    if lat or lon:
        validate_coordinate(lat, lon, where=where)
        latlon = [float(lat), float(lon)]
    fields = [cells.get(name, "").strip() for name in ("month", "day", "hour", "minute", "second")]
    time = [math.nan] * 5
    if any(fields[:4]):
        fields[4] = fields[4] or "0"
        validate_time(*fields, where=where)
        time = [float(v) for v in fields]
    return latlon, time


def read_predictions(path: str | Path) -> Records:
    """Read a predictions CSV (``path,lat,lon[,month,day,hour,minute[,second]]``) into :class:`Records`; other
    columns (``in_domain``, ``domain_score``, ...) are kept as its ``extras``.

    Empty place or time cells are NaN (not predicted). A bad value raises :class:`GtlocError` naming the file,
    the row (counted from 1 after the header), the path, the field and the value; so does a duplicate path.
    """
    file = str(path)
    if not Path(path).is_file():
        raise GtlocError(f"predictions file not found: {file}")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        names = reader.fieldnames or []
        missing = [c for c in ("path", "lat", "lon") if c not in names]
        if missing:
            raise GtlocError(f"{file}: missing column(s) {', '.join(missing)} (columns: {', '.join(names)})")
        time_given = [c for c in PREDICTION_COLUMNS[3:7] if c in names]
        if time_given and len(time_given) != 4:
            raise GtlocError(f"{file}: time columns come as a set (month, day, hour, minute); found {time_given}")
        paths, latlon, times, seen = [], [], [], {}
        extras: dict[str, list[str]] = {c: [] for c in names if c not in (*PREDICTION_COLUMNS[:7], "second")}
        for row, cells in enumerate(reader, start=1):
            if None in cells or any(v is None for v in cells.values()):
                raise GtlocError(f"{file} row {row}: has a different number of fields than the header")
            name = cells["path"].strip()
            if not name:
                raise GtlocError(f"{file} row {row}: empty path")
            if name in seen:
                raise GtlocError(f"{file} row {row}: duplicate path {name!r} (first at row {seen[name]})")
            seen[name] = row
            ll, t = _parse_row(file, row, cells)
            paths.append(name)
            latlon.append(ll)
            times.append(t)
            for column, values in extras.items():
                values.append(cells[column].strip())
    latlon_array, times_array = np.array(latlon).reshape(-1, 2), np.array(times).reshape(-1, 5)
    return Records(paths=paths, latlon=latlon_array, times=times_array, extras=extras)
