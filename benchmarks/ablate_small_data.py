"""What each change did on the few-frames webcam worlds: one training config and feature set, leave one camera out,
every read-out of the same fold models (the "what was tried" table of docs/small-data.md).

The worlds are those of ``bench_small_data.py`` (``gtloc world --cameras 8 --frames-min 20 --frames-max 50``, one per
seed). Feature sets (``--feats``): ``lite0`` (efficientnet-lite0), ``photometric`` (the colour and brightness
statistics) or ``lite0+photometric`` (both, each block weighted by :mod:`gtloc.backbones.blocks`; ``--no-blocks``
weighs every number alike), one centre crop or ten crops (``--crops ten``: training draws a random crop per step,
prediction averages the ten). ``--config`` is a JSON object of training-config overrides (``{"epochs": 15}``,
``{"model": {"image_hidden_dim": 128}}``); ``--holdout`` keeps the small-set default of holding out whole cameras to
calibrate on and then training again on all of them (``gtloc.training.small_data.small_data_validation``; with
``--no-refit`` the model is the one trained without them), which is otherwise turned off here so that every row
trains on all training cameras.

Rows, each as a ratio to the best constant guess of the same folds (hour / month): ``knn_features`` (10 nearest in
standardised efficientnet-lite0 centre-crop features, circular median), ``gallery`` (the learned read-out: least
expected error under the model's posterior), ``knn`` (the run's training neighbours), ``mix`` (the default
read-out) and ``mix<w>`` (the two mixed at weight ``w`` on the model).

    python benchmarks/ablate_small_data.py --out runs/bench-small-data --feats lite0+photometric --crops ten
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import gtloc.training.resume as training_resume
from bench_small_data import knn_features
from gtloc.backbones.extract import extract_features
from gtloc.data.features import FeatureStore
from gtloc.data.schema import load_records
from gtloc.data.world import generate_world
from gtloc.inference.predictor import Predictor
from gtloc.retrieval.time_posterior import TimePosterior
from gtloc.timecode import best_constant_time, hour_error, month_error
from gtloc.training.config import TrainConfig
from gtloc.training.data import TrainingData
from gtloc.training.loop import train

MIX_WEIGHTS = (0.25, 0.75, 0.9)


def _overridden(config: dict, overrides: dict) -> dict:
    for key, value in overrides.items():
        if isinstance(value, dict):
            _overridden(config.setdefault(key, {}), value)
        else:
            config[key] = value
    return config


def _features(out: Path, seed: int, backbone: str, tencrop: bool, paths: list[str]) -> torch.Tensor:
    world = out / f"world-{seed}"
    folder = out / f"ablate-{backbone}-{'ten' if tencrop else 'centre'}-{seed}"
    extract_features(load_records(world / "records.csv"), world / "images", backbone, folder, tencrop=tencrop,
                     progress=False, num_workers=0)  # fmt: skip
    return FeatureStore.open(folder).load(paths).float()


def fold_answers(run: Path, features: torch.Tensor) -> dict[str, np.ndarray]:
    """Each read-out's time answers ``(N, 5)`` of the run in ``run`` for ``features``."""
    answers = {}
    for name in ("gallery", "knn", "mix"):
        predictor = Predictor.from_pretrained(run, cache=False, places=False, time_posterior=name, readout="bayes")
        answers[name] = predictor.predict(features, top_k=1, where=False).time_bayes.numpy().astype(np.float64)
    queries = predictor.encode_images(features)
    gallery = predictor.time_posterior_of([(queries, predictor.scale("img_time_logit_scale"))], None).probs
    knn = predictor.neighbours.time_posterior(features, predictor.time_gallery.labels)
    for weight in MIX_WEIGHTS:
        mixed = TimePosterior(weight * gallery + (1 - weight) * knn, predictor._time_gallery())
        answers[f"mix{weight}"] = mixed.bayes().numpy().astype(np.float64)
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-small-data"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--feats", choices=("lite0", "photometric", "lite0+photometric"), default="lite0+photometric")
    parser.add_argument("--crops", choices=("centre", "ten"), default="ten")
    parser.add_argument("--config", default="{}", help="JSON training-config overrides")
    parser.add_argument("--holdout", action="store_true", help="keep the small-set held-out cameras")
    parser.add_argument("--no-refit", action="store_true", help="with --holdout: no second run on all pictures")
    parser.add_argument("--no-blocks", action="store_true", help="weigh every feature alike")
    args = parser.parse_args()
    torch.set_num_threads(1)
    held_out = training_resume.small_data_validation
    if not args.holdout:
        training_resume.small_data_validation = lambda config, n, extras: config
    elif args.no_refit:
        training_resume.small_data_validation = lambda config, n, extras: replace(
            held_out(config, n, extras), refit=False
        )
    config = TrainConfig.from_dict(_overridden(TrainConfig().to_dict(), json.loads(args.config)))
    backbone = {"lite0": "efficientnet-lite0", "photometric": "photometric"}.get(
        args.feats, "efficientnet-lite0+photometric"
    )
    errors: dict[str, dict[str, list[np.ndarray]]] = {}
    began = time.perf_counter()
    for seed in args.seeds:
        world = args.out / f"world-{seed}"
        if not (world / "records.csv").is_file():
            generate_world(None, seed, world, cameras=8, frames=(20, 50), progress=False)
        records = load_records(world / "records.csv")
        features = _features(args.out, seed, backbone, args.crops == "ten", records.paths)
        lite0 = _features(args.out, seed, "efficientnet-lite0", False, records.paths).numpy().astype(np.float64)
        times = torch.from_numpy(records.times.astype(np.float32))
        latlon = torch.from_numpy(records.latlon.astype(np.float32))
        cameras = np.array(records.extras["camera"])
        name = backbone.replace("+", "&") if args.no_blocks else backbone  # another name: no block weights
        for camera in sorted(set(cameras.tolist())):
            tr, te = np.nonzero(cameras != camera)[0], np.nonzero(cameras == camera)[0]
            data = TrainingData(features[tr], latlon[tr], times[tr], name, paths=[records.paths[i] for i in tr],
                                cameras=list(cameras[tr]), extras={"camera": list(cameras[tr])})  # fmt: skip
            run = args.out / "ablate-run"
            shutil.rmtree(run, ignore_errors=True)
            train(data, run, replace(config, seed=config.seed + seed), progress=False, cache_galleries=False)
            truth = records.times[te].astype(np.float64)
            train_t = records.times[tr].astype(np.float64)
            answers = {
                "constant": np.tile(best_constant_time(train_t), (len(te), 1)),
                "knn_features": knn_features(lite0[tr], train_t, lite0[te]),
                **fold_answers(run, features[te]),
            }
            for method, answer in answers.items():
                error = np.stack([hour_error(answer, truth), month_error(answer, truth)], 1)
                errors.setdefault(method, {}).setdefault(str(seed), []).append(error)
    shutil.rmtree(args.out / "ablate-run", ignore_errors=True)
    pooled = {m: np.concatenate([e for parts in seeds.values() for e in parts]) for m, seeds in errors.items()}
    floor = pooled["constant"].mean(0)
    setting = (
        f"--feats {args.feats} --crops {args.crops} --config '{args.config}'"
        + (" --holdout" if args.holdout else "")
        + (" --no-refit" if args.no_refit else "")
        + (" --no-blocks" if args.no_blocks else "")
    )
    print(f"{setting}: seeds {args.seeds}, hour / month as x the constant guess ({time.perf_counter() - began:.0f} s)")
    for method, err in pooled.items():
        if method != "constant":
            hour, month = err.mean(0) / floor
            print(f"  {method:14s} {hour:.3f} / {month:.3f}")
    per_seed = {
        seed: {
            m: (np.concatenate(errors[m][seed]).mean(0) / np.concatenate(errors["constant"][seed]).mean(0)).tolist()
            for m in errors
        }
        for seed in map(str, args.seeds)
    }
    line = {"setting": setting, "pooled": {m: (e.mean(0) / floor).tolist() for m, e in pooled.items()}}
    with open(args.out / "ablate_small_data.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(line | {"per_seed": per_seed}) + "\n")


if __name__ == "__main__":
    main()
