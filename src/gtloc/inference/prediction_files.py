"""Prediction files: the top-1 CSV, the top-k JSON beside it, and reading the CSV back (the readable form of a
prediction is :func:`gtloc.inference.prediction.prediction_text`).

* ``preds.csv``: one row per image, ``path,lat,lon,month,day,hour,minute,in_domain,domain_score`` (the best place
  and the read-out's local clock time, its seconds dropped, at most 1/60 h; ``in_domain`` ``true``/``false`` and
  ``domain_score`` 0-100, :mod:`gtloc.model.domain`). Empty cells where a half (place, time, domain check) was not
  predicted or the run has no domain profile.
* ``preds.json``: for each image the top-k places and times with (calibrated) probabilities, the month (12) and
  hour (24) marginals of the time posterior, ``in_domain`` and ``domain_score``; ``time_readout`` names the
  read-out; plus the images that were skipped and why.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gtloc.data.schema import Records
from gtloc.errors import GtlocError
from gtloc.geo import validate_coordinate
from gtloc.inference.prediction import Prediction
from gtloc.io import atomic_write_text
from gtloc.timecode import TIME_FIELDS, validate_time

PREDICTION_COLUMNS = ("path", "lat", "lon", "month", "day", "hour", "minute", "in_domain", "domain_score")


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


def predictions_csv(paths: Sequence[str], pred: Prediction) -> str:
    """The CSV text: ``path,lat,lon,month,day,hour,minute,in_domain,domain_score``, one row per path (the best
    place, the read-out's time)."""
    places, times = _top1_places(pred), top1_times(pred)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PREDICTION_COLUMNS)
    for i, path in enumerate(paths):
        geo = ["", ""] if places is None else [_degrees(places[i, 0]), _degrees(places[i, 1])]
        when = ["", "", "", ""] if times is None else [str(int(v)) for v in times[i, :4]]
        writer.writerow([path, *geo, *when, *domain_cells(pred, i)])
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
    """The top-k document: per image ``in_domain`` and ``domain_score`` (``null`` without a domain check),
    ``places`` [{lat, lon, prob}], ``times`` [{month, day, hour, minute, second, prob}], ``month_posterior`` (12,
    Jan..Dec), ``hour_posterior`` (24, 0h..23h) and ``time`` (the CSV's answer, from ``time_readout``)."""
    arrays = {
        name: None if value is None else value.detach().cpu().numpy().astype(np.float64)
        for name, value in pred.tensors().items()
    }
    answer = top1_times(pred)
    rows = []
    for i, path in enumerate(paths):
        row: dict[str, Any] = {"path": path, "in_domain": None, "domain_score": None}
        if arrays["domain_score"] is not None:
            row["in_domain"] = bool(arrays["in_domain"][i])
            row["domain_score"] = round(float(arrays["domain_score"][i]), 2)
        if arrays["place_topk"] is not None:
            row["places"] = [
                {"lat": float(_degrees(ll[0])), "lon": float(_degrees(ll[1])), "prob": round(float(p), 6)}
                for ll, p in zip(arrays["place_topk"][i], arrays["place_probs"][i], strict=True)
            ]
        if arrays["time_topk"] is not None:
            row["time"] = _time_entry(answer[i])
            row["times"] = [
                {**_time_entry(t), "prob": p}
                for t, p in zip(arrays["time_topk"][i], _rounded(arrays["time_probs"][i]), strict=True)
            ]
            row["month_posterior"] = _rounded(arrays["month_posterior"][i])
            row["hour_posterior"] = _rounded(arrays["hour_posterior"][i])
        rows.append(row)
    return {
        "columns": list(PREDICTION_COLUMNS),
        "time_readout": pred.readout,
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
    """Read a predictions CSV (``path,lat,lon[,month,day,hour,minute[,second]]``) into :class:`Records`.

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
    return Records(paths=paths, latlon=np.array(latlon).reshape(-1, 2), times=np.array(times).reshape(-1, 5))
