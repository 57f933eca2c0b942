"""Cross-validation (``gtloc crossval``): does the model generalise to unseen cameras, trips, pictures?

Leave one group out: for each value ``g`` of a records column (e.g. ``camera``), GT-Loc is trained on the rows of
the other groups (``DIR/folds/<g>``) and predicts the rows of ``g``. Without a group column, plain k-fold: the rows
are dealt into ``folds`` random folds (``DIR/folds/fold<i>``); near-duplicate pictures then sit on both sides, so
the errors are optimistic for pictures of a new place. Each fold's model predicts its held-out rows with every
read-out asked for (the first is ``gtloc``, the others ``gtloc_<readout>``); the best constant guess is fitted on
the same training fold: the floor a model must beat. ``DIR/metrics.json`` holds pooled and per-group metrics (the
``gtloc evaluate`` format) and the verdicts (:mod:`gtloc.evaluation.crossval_report`: which measures beat the
constant guess, with intervals over the groups); ``DIR/crossval.md`` the tables.

No encoded gallery is written: each fold's galleries (the 100k GPS gallery is 200 MB per model) are encoded in
memory for its calibration and its predictions, and a finished fold's resumable checkpoints are deleted, so the
folder holds the fold models alone (about 18 MB a fold for a few hundred pictures; a fold interrupted before it
finished is resumed from its checkpoint).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gtloc.data.features import FeatureDirs
from gtloc.data.schema import load_records
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.evaluation.baselines import constant_baseline
from gtloc.evaluation.crossval_report import Verdict, row_errors, summary_sentences, verdict_table, verdicts
from gtloc.evaluation.protocol import protocol_metrics
from gtloc.inference.predictor import Predictor
from gtloc.io import atomic_write_text, write_json
from gtloc.model.card import MODEL_CARD_FILE
from gtloc.model.readouts import DEFAULT_READOUT, READOUTS
from gtloc.training.checkpoint import TRAINING_STATE_FILE
from gtloc.training.config import TrainConfig
from gtloc.training.data import TrainingData, load_training_data
from gtloc.training.loop import train

DEFAULT_FOLDS = 5


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


def _random_folds(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold names ``(n,)`` (``fold1`` ...) of ``n`` rows dealt at random into ``folds`` folds of near-equal size."""
    if not 2 <= folds <= n:
        raise ParameterError(Param("folds"), f" must be between 2 and the {n} rows, got {folds}")
    order = np.random.default_rng(seed + 4243).permutation(n)
    names = np.empty(n, dtype=object)
    names[order] = [f"fold{i % folds + 1}" for i in range(n)]
    return names.astype(str)


def _method(readout: str, first: str) -> str:
    return "gtloc" if readout == first else f"gtloc_{readout}"


def _fold_dir(out: Path, group: str) -> Path:
    return out / "folds" / re.sub(r"[^A-Za-z0-9._-]", "_", group)


def _metrics(latlon: np.ndarray, times: np.ndarray, test: TrainingData) -> dict[str, Any]:
    return protocol_metrics(latlon, test.latlon.numpy().astype(float), times, test.times.numpy().astype(float))


def cross_validate(
    records_path: str | Path,
    features: FeatureDirs,
    group_by: str | None,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    folds: int = DEFAULT_FOLDS,
    readouts: Sequence[str] = (DEFAULT_READOUT,),
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """Train and predict leave-one-group-out over the values of ``group_by`` (``None``: ``folds`` random folds);
    write ``metrics.json`` and the tables.

    ``readouts``: the time read-outs scored (:data:`~gtloc.inference.predictor.READOUTS`; the first is ``gtloc``).
    Returns ``{"group_by", "folds", "readouts", "groups": {g: {"n", "gtloc", ..., "constant"}}, "pooled": {...},
    "verdicts": {method: [...]}}`` where each method's entry is the protocol's ``{"n", "geo", "time"}``. A finished
    fold is reloaded, not retrained.
    """
    readouts = list(dict.fromkeys(readouts))
    unknown = [r for r in readouts if r not in READOUTS]
    if unknown or not readouts:
        raise ParameterError(Param("readout"), f" must be one of {', '.join(READOUTS)}, got {unknown or 'none'}")
    data = load_training_data(features, records_path, log=log)
    if group_by is not None:
        by_path = dict(zip(load_records(records_path).paths, _groups(records_path, group_by), strict=True))
        groups = np.array([by_path[p] for p in data.paths])
    else:
        groups = _random_folds(len(data), folds, 0 if config is None else config.seed)
    values = sorted(set(groups.tolist()))
    if len(values) < 2:
        raise ParameterError(
            f"{records_path}: ",
            Param("group_by"),
            f" {group_by!r} has {len(values)} group(s); crossval needs at least 2",
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods = [_method(r, readouts[0]) for r in readouts] + ["constant"]
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in methods}
    what = group_by or "fold"
    result: dict[str, Any] = {
        "group_by": group_by,
        "folds": None if group_by is not None else len(values),
        "readouts": readouts,
        "records": str(records_path),
        "groups": {},
    }
    for number, value in enumerate(values, start=1):
        train_rows, test_rows = np.nonzero(groups != value)[0], np.nonzero(groups == value)[0]
        log(f"[{number}/{len(values)}] {what}={value}: train on {len(train_rows)}, predict {len(test_rows)}")
        fold, test = data.subset(train_rows), data.subset(test_rows)
        run = _fold_dir(out, value)
        if not (run / MODEL_CARD_FILE).is_file() or (run / TRAINING_STATE_FILE).is_file():
            resume = (run / TRAINING_STATE_FILE).is_file()
            train(fold, run, config, resume=resume, progress=progress, cache_galleries=False, log=log)
            for state in sorted(run.rglob(TRAINING_STATE_FILE)):
                state.unlink()
        answers = {}
        places = None
        for readout in readouts:
            predictor = Predictor.from_pretrained(run, cache=False, readout=readout, places=places is None)
            pred = predictor.predict(test.features, top_k=1, where=places is None)
            if places is None:
                places = pred.latlon.numpy().astype(float)
            answers[_method(readout, readouts[0])] = (places, pred.best_time.numpy().astype(float))
        floor = constant_baseline(fold.latlon.numpy().astype(float), fold.times.numpy().astype(float), len(test))
        answers["constant"] = (floor.latlon, floor.times)
        entry: dict[str, Any] = {"n": len(test)}
        for method, (latlon, times) in answers.items():
            entry[method] = _metrics(latlon, times, test)
            pooled[method].append((latlon, times))
        result["groups"][value] = entry
    order = np.concatenate([np.nonzero(groups == v)[0] for v in values])
    everyone = data.subset(order)
    joined = {m: (np.concatenate([a for a, _ in p]), np.concatenate([b for _, b in p])) for m, p in pooled.items()}
    result["pooled"] = {method: _metrics(latlon, times, everyone) for method, (latlon, times) in joined.items()}
    truth = (everyone.latlon.numpy().astype(float), everyone.times.numpy().astype(float))
    errors = {m: row_errors(latlon, times, *truth) for m, (latlon, times) in joined.items()}
    units = groups[order] if group_by is not None else np.arange(len(order))
    result["verdicts"] = {
        m: [v.to_dict() for v in verdicts(errors[m], errors["constant"], units)] for m in methods if m != "constant"
    }
    write_json(out / "metrics.json", result)
    atomic_write_text(out / "crossval.md", crossval_report(result))
    return result


def _cell(metrics: dict[str, Any], half: str, key: str, digits: int) -> str:
    part = metrics.get(half)
    return "-" if not part or part.get(key) is None else f"{part[key]:.{digits}f}"


def crossval_table(result: dict[str, Any]) -> str:
    """Markdown: one row per group and a pooled row; GT-Loc (the first read-out) beside the constant floor of each
    training fold."""
    head = (
        f"| {result['group_by'] or 'fold'} | n | hour err (h) | floor hour | month err | floor month | median km "
        "| floor km |\n"
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


def crossval_report(result: dict[str, Any]) -> str:
    """Markdown: the verdicts in words (which measures beat the constant guess), their table, then
    :func:`crossval_table`."""
    by_method = {m: [Verdict.from_dict(v) for v in items] for m, items in result["verdicts"].items()}
    if result["group_by"] is not None:
        unit = f"{len(result['groups'])} {result['group_by']} groups"
        how = f"leave one {result['group_by']} out"
    else:
        unit = f"{sum(g['n'] for g in result['groups'].values())} pictures"
        how = (
            f"{result['folds']} random folds (near-duplicate pictures on both sides make these errors optimistic "
            "for a new place: pass --group-by with a camera or trip column)"
        )
    readouts = ", ".join(f"{_method(r, result['readouts'][0])} = read-out {r}" for r in result["readouts"])
    return (
        f"Cross-validation, {how}; {readouts}; constant = the best constant guess of each training fold.\n\n"
        + summary_sentences(by_method, unit)
        + "\n"
        + verdict_table(by_method, unit)
        + "\n"
        + crossval_table(result)
    )
