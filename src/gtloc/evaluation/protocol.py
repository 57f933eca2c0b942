"""The evaluation protocol (method.md section 4): predictions matched to truth by ``path``.

* ``geo``: ``median_km`` and ``acc_{1,25,200,750,2500}km`` (fractions) over rows whose truth and prediction
  both have coordinates (:func:`gtloc.geo.geo_metrics`).
* ``time``: mean ``month_error`` (months) and mean ``hour_error`` (hours), cyclic, over rows whose truth and
  prediction both have a local time (:func:`gtloc.timecode.month_error` / :func:`~gtloc.timecode.hour_error`).

Metrics are ``None`` when no row qualifies. ``n``: ``matched`` rows, of which ``truth_geo`` / ``truth_time`` have
that label in the truth, and ``geo`` / ``time`` were scored (the prediction has that half too).
``domain``: how many matched predictions the model called in / outside its domain (``in_domain`` column of
``gtloc predict``'s CSV) or did not judge; ``warnings`` (:func:`domain_warning`) says so in words when most are
outside.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import numpy as np

from gtloc.data.schema import Records, load_records
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.geo import geo_metrics
from gtloc.inference.prediction_files import read_predictions
from gtloc.labels import has_label
from gtloc.model.domain import scored_out_of_domain_warning
from gtloc.timecode import hour_error, month_error

EXAMPLES_LISTED = 5
# evaluate warns when more than this share of the judged matched predictions is outside the model's domain.
OUT_OF_DOMAIN_WARN_SHARE = 0.5


def _records(source: str | Path | Records, kind: str) -> Records:
    if isinstance(source, Records):
        return source
    return read_predictions(source) if kind == "predictions" else load_records(source)


def _key(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def match_by_path(pred: Records, truth: Records) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Positions of the matched rows in ``pred`` and ``truth`` (same order), and what did not match.

    Paths are compared after normalisation (``./a/b.jpg`` == ``a/b.jpg``). The report holds counts and the
    first few names of predictions without truth and truth without predictions.
    """
    truth_at = {_key(p): i for i, p in enumerate(truth.paths)}
    pred_idx, truth_idx, unmatched_pred = [], [], []
    for i, path in enumerate(pred.paths):
        j = truth_at.get(_key(path))
        if j is None:
            unmatched_pred.append(path)
        else:
            pred_idx.append(i)
            truth_idx.append(j)
    matched = set(truth_idx)
    unmatched_truth = [p for j, p in enumerate(truth.paths) if j not in matched]
    report = {
        "predictions_without_truth": len(unmatched_pred),
        "predictions_without_truth_examples": unmatched_pred[:EXAMPLES_LISTED],
        "truth_without_predictions": len(unmatched_truth),
        "truth_without_predictions_examples": unmatched_truth[:EXAMPLES_LISTED],
    }
    return np.array(pred_idx, dtype=int), np.array(truth_idx, dtype=int), report


def protocol_metrics(
    pred_latlon: np.ndarray, true_latlon: np.ndarray, pred_times: np.ndarray, true_times: np.ndarray
) -> dict[str, Any]:
    """Metrics of matched rows: ``(N, 2)`` degrees and ``(N, 5)`` local times, NaN where a label is missing."""
    geo_rows = has_label(pred_latlon) & has_label(true_latlon)
    time_rows = has_label(pred_times) & has_label(true_times)
    time = None
    if time_rows.any():
        time = {
            "month_error": float(np.mean(month_error(pred_times[time_rows], true_times[time_rows]))),
            "hour_error": float(np.mean(hour_error(pred_times[time_rows], true_times[time_rows]))),
        }
    return {
        "n": {
            "matched": len(geo_rows),
            "truth_geo": int(has_label(true_latlon).sum()),
            "truth_time": int(has_label(true_times).sum()),
            "geo": int(geo_rows.sum()),
            "time": int(time_rows.sum()),
        },
        "geo": geo_metrics(pred_latlon[geo_rows], true_latlon[geo_rows]) if geo_rows.any() else None,
        "time": time,
    }


def evaluate_predictions(
    predictions: str | Path | Records, truth: str | Path | Records, group_by: str | None = None
) -> dict[str, Any]:
    """Score ``predictions`` (a predictions CSV or :class:`Records`) against ``truth`` (a records CSV or Records).

    Returns ``{"n", "geo", "time", "unmatched", "domain", "warnings"}`` for all matched rows (pooled); with
    ``group_by`` (a column of the truth CSV, e.g. ``camera``) also ``"group_by"`` and ``"groups"``:
    ``{value: {"n", "geo", "time"}}``.
    ``geo`` is only computed over rows whose truth has GPS, ``time`` only over rows whose truth has a time.
    Raises :class:`GtlocError` when no prediction matches a truth path, or when ``group_by`` is not a column.
    """
    pred, true = _records(predictions, "predictions"), _records(truth, "truth")
    if group_by is not None and group_by not in true.extras:
        columns = ", ".join(sorted(true.extras)) or "none"
        raise ParameterError(
            Param("group_by"), f" {group_by!r} is not a column of the truth records (extra columns: {columns})"
        )
    pred_idx, true_idx, unmatched = match_by_path(pred, true)
    if len(pred_idx) == 0:
        raise GtlocError(
            f"no prediction path matches a truth path ({len(pred)} predictions, e.g. {pred.paths[:3]}; "
            f"{len(true)} truth rows, e.g. {true.paths[:3]})"
        )
    latlon_p, latlon_t = pred.latlon[pred_idx], true.latlon[true_idx]
    times_p, times_t = pred.times[pred_idx], true.times[true_idx]
    result = protocol_metrics(latlon_p, latlon_t, times_p, times_t)
    result["n"] = {"predictions": len(pred), "truth": len(true), **result["n"]}
    result["unmatched"] = unmatched
    flags = pred.extras.get("in_domain", [""] * len(pred))
    matched_flags = [flags[i].lower() for i in pred_idx]
    result["domain"] = {
        "in_domain": matched_flags.count("true"),
        "outside": matched_flags.count("false"),
        "unknown": sum(f not in ("true", "false") for f in matched_flags),
    }
    warning = domain_warning(result)
    result["warnings"] = [warning] if warning else []
    if group_by is not None:
        labels = np.array([true.extras[group_by][j] for j in true_idx])
        result["group_by"] = group_by
        result["groups"] = {}
        for value in sorted(set(labels.tolist())):
            rows = labels == value
            result["groups"][value] = protocol_metrics(latlon_p[rows], latlon_t[rows], times_p[rows], times_t[rows])
    return result


def domain_warning(result: dict[str, Any]) -> str | None:
    """A warning in words when most matched predictions of ``result`` (:func:`evaluate_predictions`) lie outside
    the model's domain (:func:`~gtloc.model.domain.scored_out_of_domain_warning`, worded with the one warning of a
    picture out of domain)."""
    domain = result.get("domain") or {}
    outside, judged = domain.get("outside", 0), domain.get("outside", 0) + domain.get("in_domain", 0)
    if not judged or outside <= OUT_OF_DOMAIN_WARN_SHARE * judged:
        return None
    return scored_out_of_domain_warning(outside, judged)
