"""Few frames from a few fixed webcams, evaluated on cameras never seen in training (leave-one-camera-out): the
yardstick of docs/small-data.md.

For each seed: a synthetic fixed-webcam world (``gtloc world --cameras 8 --frames-min 20 --frames-max 50``: cameras
at random MP-16 places and headings, frames at random instants of the year and the 24-h day, nights included), then
for each feature set ``gtloc crossval --group-by camera`` with the default training config, each fold's model read
out three ways:

* ``gtloc``: the default read-out (``mix``);
* ``gtloc_gallery_bayes``: the learned space alone (the model's posterior over its time gallery, least expected
  error): what the trained model adds;
* ``gtloc_knn``: the training neighbours alone (no trained weights).

Feature sets (``--sets``): ``tencrop`` and ``centre``, the default backbone of ``gtloc features`` for a small set
(``--backbone``, default ``efficientnet-lite0+photometric``) with ten crops (the default under 2,000 records) or
one centre crop; ``lite0`` (efficientnet-lite0, centre crop: the features before issue 24). On the same folds:

* ``constant``: the best constant guess of each training fold (the floor);
* ``knn_features``: the 10 training pictures nearest in standardised efficientnet-lite0 centre-crop features
  (cosine), their circular median month and hour (the issue's yardstick);
* ``ridge_photometric``: ridge regression from the photometric statistics (:mod:`gtloc.backbones.photometric`) to
  the cos/sin of the month and hour angles.

Tables pooled over all seeds and cameras and per seed, with ratios to the floor; then the domain check of the same
fold models (first feature set): for each held-out camera, whether the model beat the constant guess on its hour
and the share of its frames in domain, and the share of the real photos in ``tests/fixtures/exif-photos`` in
domain. JSON beside them.

    python benchmarks/bench_small_data.py --out runs/bench-small-data [--seeds 0 1 2] [--sets tencrop centre lite0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from gtloc.backbones.extract import extract_features
from gtloc.backbones.photometric import FEATURE_DIM as PHOTOMETRIC_DIM
from gtloc.data.features import FeatureStore
from gtloc.data.schema import load_records
from gtloc.data.world import generate_world
from gtloc.evaluation.crossval import cross_validate
from gtloc.inference.predictor import Predictor
from gtloc.timecode import (
    HOUR_PERIOD,
    MONTH_PERIOD,
    best_constant_time,
    cyclic_difference,
    hour_error,
    month_error,
    torus_angles,
)
from gtloc.training.data import load_training_data

READOUTS = {"gtloc": "mix", "gtloc_gallery_bayes": "bayes", "gtloc_knn": "knn"}
SETS = {"tencrop": True, "centre": False, "lite0": False}


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


def ridge(train_x: np.ndarray, train_t: np.ndarray, test_x: np.ndarray, alpha: float = 10.0) -> np.ndarray:
    """Ridge from standardised features to the cos/sin of the month and hour angles, read back as a time."""
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


def _features(world: Path, out: Path, backbone: str, tencrop: bool) -> Path:
    """The world's features with ``backbone`` (ten crops or one), cached in ``out``."""
    extract_features(load_records(world / "records.csv"), world / "images", backbone, out, tencrop=tencrop,
                     progress=False, num_workers=0)  # fmt: skip
    return out


REAL_PHOTOS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "exif-photos"


def domain_rows(folds: Path, features: torch.Tensor, cameras: np.ndarray, errors: dict) -> list[dict]:
    """Per held-out camera of the crossval in ``folds``: hour errors of the model and of the constant guess, the
    share of its frames in domain, and the share of the real photos in domain for that fold's model."""
    photos = sorted(p for p in REAL_PHOTOS.iterdir() if p.suffix.lower() == ".jpg")
    rows = []
    for index, camera in enumerate(sorted(set(cameras.tolist()))):
        predictor = Predictor.from_pretrained(folds / "folds" / camera, cache=False, places=False)
        own = predictor.predict(features[torch.from_numpy(cameras == camera)], top_k=1, where=False)
        real = predictor.predict(predictor.photo_features(photos), top_k=1, where=False)
        rows.append(
            {
                "camera": camera,
                "hour": float(errors["gtloc"][index][:, 0].mean()),
                "constant_hour": float(errors["constant"][index][:, 0].mean()),
                "in_domain": float(own.in_domain.float().mean()),
                "real_in_domain": float(real.in_domain.float().mean()),
            }
        )
    return rows


def one_seed(out: Path, seed: int, args: argparse.Namespace) -> tuple[dict[str, list[np.ndarray]], list[dict]]:
    world = out / f"world-{seed}"
    if not (world / "records.csv").is_file():
        generate_world(
            None, seed, world, cameras=args.cameras, frames=(args.frames_min, args.frames_max), progress=False
        )
    records = world / "records.csv"
    lite0 = _features(world, out / f"features-lite0-{seed}", "efficientnet-lite0", False)
    photometric = _features(world, out / f"features-photometric-{seed}", "photometric", False)
    data = load_training_data(lite0, records, log=_quiet)
    x, t = data.features.numpy().astype(np.float64), data.times.numpy().astype(np.float64)
    stats = FeatureStore.open(photometric).load(data.paths).numpy().astype(np.float64)
    assert stats.shape[1] == PHOTOMETRIC_DIM
    cameras = np.array(data.cameras)
    groups = sorted(set(cameras.tolist()))
    errors: dict[str, list[np.ndarray]] = {}

    def score(name: str, times: np.ndarray, rows: np.ndarray) -> None:
        errors.setdefault(name, []).append(np.stack([hour_error(times, t[rows]), month_error(times, t[rows])], 1))

    for camera in groups:
        tr, te = cameras != camera, cameras == camera
        score("constant", np.tile(best_constant_time(t[tr]), (int(te.sum()), 1)), te)
        score("knn_features", knn_features(x[tr], t[tr], x[te]), te)
        score("ridge_photometric", ridge(stats[tr], t[tr], stats[te]), te)
    domain: list[dict] = []
    for name in args.sets:
        backbone = "efficientnet-lite0" if name == "lite0" else args.backbone
        feats = lite0 if name == "lite0" else _features(world, out / f"features-{name}-{seed}", backbone, SETS[name])
        folds = out / f"crossval-{name}-{seed}"
        cross_validate(records, feats, "camera", folds, progress=False, log=_quiet, readouts=tuple(READOUTS.values()))
        fold_data = load_training_data(feats, records, log=_quiet)
        if fold_data.paths != data.paths:
            raise RuntimeError(f"{name}: the feature sets hold other pictures")
        for camera in groups:
            te = cameras == camera
            run = folds / "folds" / camera
            features = fold_data.features[torch.from_numpy(te)]
            for method, readout in READOUTS.items():
                predictor = Predictor.from_pretrained(run, cache=False, places=False, readout=readout)
                answer = predictor.predict(features, top_k=1, where=False).best_time
                score(f"{method}[{name}]", answer.numpy().astype(np.float64), te)
        if not domain:
            own = {"gtloc": errors[f"gtloc[{name}]"][-len(groups) :], "constant": errors["constant"]}
            domain = domain_rows(folds, fold_data.features, cameras, own)
    return errors, domain


def _quiet(message: str) -> None:
    """Progress messages of the library are not printed (the tables are the output)."""


def table(rows: dict[str, np.ndarray]) -> list[str]:
    floor = rows["constant"].mean(0)
    lines = ["| method | n | hour err (h) | x floor | month err | x floor |", "|---|---:|---:|---:|---:|---:|"]
    for name, err in rows.items():
        hour, month = err.mean(0)
        lines.append(
            f"| {name} | {len(err)} | {hour:.2f} | {hour / floor[0]:.3f} | {month:.2f} | {month / floor[1]:.3f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-small-data"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--backbone", default="efficientnet-lite0+photometric")
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--frames-min", type=int, default=20)
    parser.add_argument("--frames-max", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    began = time.perf_counter()
    results = {seed: one_seed(args.out, seed, args) for seed in args.seeds}
    per_seed = {seed: errors for seed, (errors, _) in results.items()}
    domain = [row | {"seed": seed} for seed, (_, rows) in results.items() for row in rows]
    names = per_seed[args.seeds[0]]
    pooled = {name: np.concatenate([np.concatenate(e[name]) for e in per_seed.values()]) for name in names}
    print(
        f"leave-one-camera-out, {args.cameras} cameras x {args.frames_min}-{args.frames_max} frames, "
        f"seeds {args.seeds}, backbone {args.backbone} ({time.perf_counter() - began:.0f} s)"
    )
    print("\n".join(table(pooled)))
    summary = {"pooled": {}, "per_seed": {}}
    for name, err in pooled.items():
        summary["pooled"][name] = {"n": len(err), "hour_error": err.mean(0)[0], "month_error": err.mean(0)[1]}
    for seed, errors in per_seed.items():
        rows = {name: np.concatenate(parts) for name, parts in errors.items()}
        print(f"\nseed {seed}")
        print("\n".join(table(rows)))
        summary["per_seed"][str(seed)] = {
            name: {"n": len(err), "hour_error": err.mean(0)[0], "month_error": err.mean(0)[1]}
            for name, err in rows.items()
        }
    print(f"\ndomain check of the {args.sets[0]} fold models (in domain: share of the held-out camera's frames)")
    print("| seed | camera | hour err (h) | constant | beats it | in domain | real photos in domain |")
    print("|---:|---|---:|---:|---|---:|---:|")
    for row in domain:
        beats = row["hour"] < row["constant_hour"]
        print(
            f"| {row['seed']} | {row['camera']} | {row['hour']:.2f} | {row['constant_hour']:.2f} | "
            f"{'yes' if beats else 'no'} | {100 * row['in_domain']:.0f} % | {100 * row['real_in_domain']:.0f} % |"
        )
    useful = [row for row in domain if row["hour"] < row["constant_hour"]]
    half_in = [row for row in useful if row["in_domain"] >= 0.5]
    print(
        f"cameras where the model beats the constant hour: {len(useful)} of {len(domain)}; of those, "
        f"{len(half_in)} with at least half their frames in domain; real photos in domain: "
        f"{100 * np.mean([row['real_in_domain'] for row in domain]):.1f} % (mean over the fold models)"
    )
    summary["domain"] = domain
    path = args.out / "bench_small_data.json"
    path.write_text(json.dumps({"settings": vars(args) | {"out": str(args.out)}, **summary}, indent=2) + "\n")
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
