"""Few frames from a few fixed webcams, evaluated on cameras never seen in training (leave-one-camera-out).

For each seed: a synthetic fixed-webcam world (``gtloc world --cameras 8 --frames-min 20 --frames-max 50``: cameras
at random MP-16 places and headings, frames at random instants of the year and the 24-h day, nights included),
EfficientNet-Lite0 features (center crop), then ``gtloc crossval --group-by camera`` with plain defaults. The same
folds score:

* ``constant``: the best constant guess of each training fold (the floor);
* ``knn_features``: the 10 training pictures nearest in standardised feature space (cosine), their circular
  median month and hour;
* ``ridge_colour``: ridge regression from colour statistics (mean and std of RGB over a 4 x 4 grid) to the
  cos/sin of the month and hour angles;
* ``gtloc``: ``gtloc train`` + ``gtloc predict`` defaults (the ``mix`` read-out);
* ``gtloc_validation``: the same with ``--val-group camera --select hour --patience 5`` (one training camera held
  out to pick the step);
* ``gtloc_gallery_argmax`` / ``gtloc_gallery_bayes`` / ``gtloc_knn``: the same runs read out from the gallery
  posterior alone (argmax: the paper's; Bayes: least expected error) or from the training neighbours alone.

One table pooled over all seeds and cameras, with ratios to the floor; JSON beside it.

    python benchmarks/bench_small_data.py --out runs/bench-small-data [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gtloc.backbones.extract import extract_features
from gtloc.data.schema import load_records
from gtloc.data.world import generate_world
from gtloc.evaluation.baselines import best_constant_time
from gtloc.evaluation.crossval import cross_validate
from gtloc.inference.predictor import Predictor
from gtloc.timecode import HOUR_PERIOD, MONTH_PERIOD, cyclic_difference, hour_error, month_error, torus_angles
from gtloc.training.config import TrainConfig
from gtloc.training.loop import load_training_data

VALIDATION = TrainConfig(val_group="camera", select="hour", patience=5)
METHODS = (
    "constant",
    "knn_features",
    "ridge_colour",
    "gtloc",
    "gtloc_validation",
    "gtloc_gallery_argmax",
    "gtloc_gallery_bayes",
    "gtloc_knn",
)


def colour_statistics(path: Path, grid: int = 4) -> np.ndarray:
    """Mean and std of R, G, B over the picture and over a ``grid x grid`` tiling: ``(6 * (1 + grid^2),)``."""
    x = np.asarray(Image.open(path).convert("RGB").resize((64, 64)), dtype=np.float64) / 255.0
    tiles = [x] + [t for row in np.array_split(x, grid, 0) for t in np.array_split(row, grid, 1)]
    return np.concatenate([np.concatenate([t.mean((0, 1)), t.std((0, 1))]) for t in tiles])


def circular_median(values: np.ndarray, period: float) -> np.ndarray:
    """Per row of ``values`` ``(N, K)``, the entry minimising the summed cyclic distance to the row: ``(N,)``."""
    cost = cyclic_difference(values[:, :, None], values[:, None, :], period).sum(axis=2)
    return np.take_along_axis(values, cost.argmin(axis=1)[:, None], 1)[:, 0]


def knn_features(train_x: np.ndarray, train_t: np.ndarray, test_x: np.ndarray, k: int = 10) -> np.ndarray:
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6

    def unit(x: np.ndarray) -> np.ndarray:
        z = (x - mean) / std
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    nearest = np.argsort(-(unit(test_x) @ unit(train_x).T), axis=1)[:, :k]
    month = circular_median(train_t[nearest, 0] + (train_t[nearest, 1] - 1) / 31.0, MONTH_PERIOD)
    hour = circular_median(train_t[nearest, 2] + train_t[nearest, 3] / 60.0, HOUR_PERIOD)
    return _times(month, hour)


def ridge_colour(train_x: np.ndarray, train_t: np.ndarray, test_x: np.ndarray, alpha: float = 10.0) -> np.ndarray:
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    a, b = (train_x - mean) / std, (test_x - mean) / std
    theta, phi = torus_angles(train_t).T
    targets = np.stack([np.cos(theta), np.sin(theta), np.cos(phi), np.sin(phi)], 1)
    a1, b1 = np.hstack([a, np.ones((len(a), 1))]), np.hstack([b, np.ones((len(b), 1))])
    w = np.linalg.solve(a1.T @ a1 + alpha * np.eye(a1.shape[1]), a1.T @ targets)
    out = b1 @ w
    month = (np.arctan2(out[:, 1], out[:, 0]) + np.pi) / (2 * np.pi) * 12.0 + 1.0
    hour = (np.arctan2(out[:, 3], out[:, 2]) + np.pi) / (2 * np.pi) * 24.0
    return _times(month, hour)


def _times(month_value: np.ndarray, hour_value: np.ndarray) -> np.ndarray:
    """Month values in [1, 13) (month + fraction) and hours in [0, 24) -> ``(N, 5)`` time rows."""
    month_value = np.mod(month_value - 1, 12) + 1
    month = np.floor(month_value)
    day = np.clip(np.floor((month_value - month) * 31) + 1, 1, 28)
    hour_value = np.mod(hour_value, 24)
    return np.stack([month, day, np.floor(hour_value), np.floor((hour_value % 1) * 60), np.zeros(len(month))], 1)


def one_seed(out: Path, seed: int, args: argparse.Namespace) -> dict[str, list[np.ndarray]]:
    world, feats = out / f"world-{seed}", out / f"features-{seed}"
    if not (world / "records.csv").is_file():
        generate_world(
            None, seed, world, cameras=args.cameras, frames=(args.frames_min, args.frames_max), progress=False
        )
    records = load_records(world / "records.csv")
    extract_features(records, world / "images", "efficientnet-lite0", feats, progress=False)
    result = cross_validate(
        world / "records.csv", feats, "camera", out / f"crossval-{seed}", progress=False, log=_quiet
    )
    checked = cross_validate(
        world / "records.csv", feats, "camera", out / f"crossval-val-{seed}", VALIDATION, progress=False, log=_quiet
    )
    data = load_training_data(feats, world / "records.csv", log=_quiet)
    colours = np.stack([colour_statistics(world / "images" / p) for p in data.paths])
    x, t = data.features.numpy().astype(np.float64), data.times.numpy().astype(np.float64)
    cameras = np.array(data.cameras)
    errors: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    for camera in result["groups"]:
        tr, te = cameras != camera, cameras == camera
        run = out / f"crossval-{seed}" / "folds" / camera
        answers = {
            "constant": np.tile(best_constant_time(t[tr]), (int(te.sum()), 1)),
            "knn_features": knn_features(x[tr], t[tr], x[te]),
            "ridge_colour": ridge_colour(colours[tr], t[tr], colours[te]),
        }
        feats_te = data.features[torch.from_numpy(te)]
        for name, posterior, point in (
            ("gtloc", "mix", "bayes"),
            ("gtloc_gallery_argmax", "gallery", "argmax"),
            ("gtloc_gallery_bayes", "gallery", "bayes"),
            ("gtloc_knn", "knn", "bayes"),
        ):
            pred = Predictor.from_pretrained(run, time_posterior=posterior).predict(feats_te, top_k=1, where=False)
            answers[name] = (pred.time if point == "argmax" else pred.time_bayes).numpy().astype(np.float64)
        answers["gtloc_validation"] = _fold_answers(out / f"crossval-val-{seed}" / "folds" / camera, feats_te)
        if checked["groups"][camera]["n"] != int(te.sum()):
            raise RuntimeError(f"fold {camera}: the validation crossval scored other rows")
        for name, times in answers.items():
            errors[name].append(np.stack([hour_error(times, t[te]), month_error(times, t[te])], 1))
    return errors


def _fold_answers(run: Path, features: torch.Tensor) -> np.ndarray:
    """The default read-out's time answers of the run in ``run`` for ``features``."""
    return Predictor.from_pretrained(run).predict(features, top_k=1, where=False).time_bayes.numpy().astype(np.float64)


def _quiet(message: str) -> None:
    """Progress messages of the library are not printed (the table is the output)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-small-data"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--frames-min", type=int, default=20)
    parser.add_argument("--frames-max", type=int, default=50)
    args = parser.parse_args()
    pooled: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    for seed in args.seeds:
        for name, parts in one_seed(args.out, seed, args).items():
            pooled[name] += parts
    rows = {name: np.concatenate(parts) for name, parts in pooled.items()}
    floor = rows["constant"].mean(0)
    summary = {}
    print(
        f"leave-one-camera-out, {args.cameras} cameras x {args.frames_min}-{args.frames_max} frames, seeds {args.seeds}"
    )
    print("| method | n | hour err (h) | x floor | month err | x floor |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, err in rows.items():
        hour, month = err.mean(0)
        summary[name] = {"n": len(err), "hour_error": hour, "month_error": month}
        print(f"| {name} | {len(err)} | {hour:.2f} | {hour / floor[0]:.2f} | {month:.2f} | {month / floor[1]:.2f} |")
    path = args.out / "bench_small_data.json"
    path.write_text(json.dumps({"settings": vars(args) | {"out": str(args.out)}, "methods": summary}, indent=2) + "\n")
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
