"""Leave-one-group-out cross-validation (``gtloc crossval``): does the model generalise to unseen cameras?

For each value ``g`` of a records column (e.g. ``camera``), GT-Loc is trained on the rows of the other groups
(``DIR/folds/<g>``) and predicts the rows of ``g`` with the run's read-out (by default ``mix``). The best constant guess
is fitted on the same training fold: the floor a model must beat. ``DIR/metrics.json`` holds pooled and per-group
metrics (the ``gtloc evaluate`` format) for ``gtloc`` and ``constant``; ``DIR/crossval.md`` the table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from gtloc.data.features import FeatureDirs
from gtloc.data.schema import load_records
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.evaluation.baselines import constant_baseline
from gtloc.evaluation.protocol import protocol_metrics
from gtloc.inference.predictor import Predictor
from gtloc.io import atomic_write_text, write_json
from gtloc.training.checkpoint import TRAINING_STATE_FILE
from gtloc.training.config import TrainConfig
from gtloc.training.loop import TrainingData, load_training_data, train

METHODS = ("gtloc", "constant")


def _groups(records_path: str | Path, column: str) -> list[str]:
    records = load_records(records_path)
    if column not in records.extras:
        columns = ", ".join(sorted(records.extras)) or "none"
        raise ParameterError(
            f"{records_path}: ", Param("group_by"), f" {column!r} is not a column (extra columns: {columns})"
        )
    values = records.extras[column]
    for row, value in enumerate(values, start=2):
        if not str(value).strip():
            raise GtlocError(f"{records_path}: row {row} has no value in the group column {column!r}")
    return list(values)


def _fold_dir(out: Path, group: str) -> Path:
    return out / "folds" / re.sub(r"[^A-Za-z0-9._-]", "_", group)


def _metrics(latlon: np.ndarray, times: np.ndarray, test: TrainingData) -> dict[str, Any]:
    return protocol_metrics(latlon, test.latlon.numpy().astype(float), times, test.times.numpy().astype(float))


def cross_validate(
    records_path: str | Path,
    features: FeatureDirs,
    group_by: str,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """Train and predict leave-one-group-out over the values of ``group_by``; write ``metrics.json`` and the table.

    Returns ``{"group_by", "groups": {g: {"n", "gtloc", "constant"}}, "pooled": {"gtloc", "constant"}}`` where each
    method's entry is the protocol's ``{"n", "geo", "time"}``. A finished fold is reloaded, not retrained.
    """
    labels = _groups(records_path, group_by)
    data = load_training_data(features, records_path, log=log)
    by_path = dict(zip(load_records(records_path).paths, labels, strict=True))
    groups = np.array([by_path[p] for p in data.paths])
    values = sorted(set(groups.tolist()))
    if len(values) < 2:
        raise ParameterError(
            f"{records_path}: ",
            Param("group_by"),
            f" {group_by!r} has {len(values)} group(s); crossval needs at least 2",
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in METHODS}
    result: dict[str, Any] = {"group_by": group_by, "records": str(records_path), "groups": {}}
    for number, value in enumerate(values, start=1):
        train_rows, test_rows = np.nonzero(groups != value)[0], np.nonzero(groups == value)[0]
        log(f"[{number}/{len(values)}] {group_by}={value}: train on {len(train_rows)}, predict {len(test_rows)}")
        fold, test = data.subset(train_rows), data.subset(test_rows)
        run = _fold_dir(out, value)
        train(fold, run, config, resume=(run / TRAINING_STATE_FILE).is_file(), progress=progress)
        pred = Predictor.from_pretrained(run).predict(test.features, top_k=1)
        answers = {"gtloc": (pred.latlon.numpy().astype(float), pred.best_time.numpy().astype(float))}
        floor = constant_baseline(fold.latlon.numpy().astype(float), fold.times.numpy().astype(float), len(test))
        answers["constant"] = (floor.latlon, floor.times)
        entry: dict[str, Any] = {"n": len(test)}
        for method, (latlon, times) in answers.items():
            entry[method] = _metrics(latlon, times, test)
            pooled[method].append((latlon, times))
        result["groups"][value] = entry
    order = np.concatenate([np.nonzero(groups == v)[0] for v in values])
    everyone = data.subset(order)
    result["pooled"] = {
        method: _metrics(np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts]), everyone)
        for method, parts in pooled.items()
    }
    write_json(out / "metrics.json", result)
    atomic_write_text(out / "crossval.md", crossval_table(result))
    return result


def _cell(metrics: dict[str, Any], half: str, key: str, digits: int) -> str:
    part = metrics.get(half)
    return "-" if not part or part.get(key) is None else f"{part[key]:.{digits}f}"


def crossval_table(result: dict[str, Any]) -> str:
    """Markdown: one row per group and a pooled row; GT-Loc beside the constant floor of each training fold."""
    head = (
        f"| {result['group_by']} | n | hour err (h) | floor hour | month err | floor month | median km | floor km |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = [("pooled", sum(g["n"] for g in result["groups"].values()), result["pooled"])]
    rows += [(name, g["n"], g) for name, g in result["groups"].items()]
    lines = []
    for name, n, entry in rows:
        gt, floor = entry["gtloc"], entry["constant"]
        lines.append(
            f"| {name} | {n} | {_cell(gt, 'time', 'hour_error', 2)} | {_cell(floor, 'time', 'hour_error', 2)} "
            f"| {_cell(gt, 'time', 'month_error', 2)} | {_cell(floor, 'time', 'month_error', 2)} "
            f"| {_cell(gt, 'geo', 'median_km', 0)} | {_cell(floor, 'geo', 'median_km', 0)} |"
        )
    return head + "\n".join(lines) + "\n"
