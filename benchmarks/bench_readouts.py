"""Time read-outs side by side on a finished demo: the same trained model, every posterior and point rule.

Reads ``DEMO/runs/gtloc`` (the demo's GT-Loc model), its training and test features and records, and scores on the
test world: the gallery posterior (the model's softmax over the time grid), the kNN posterior of the training
pictures, their ``mix`` (the default), each with and without the training-time prior, read out by argmax or by
least expected error (Bayes); and the location-given query. One table with ratios to the constant floor.

    python benchmarks/bench_readouts.py --demo demo-out

A run trained before runs stored their training pictures gets its ``neighbours.safetensors`` written here, from
the demo's training features, exactly as ``train`` writes it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gtloc.evaluation.baselines import best_constant_time
from gtloc.inference.predictor import Predictor
from gtloc.retrieval.neighbours import NEIGHBOURS_FILE, NeighbourStore
from gtloc.timecode import hour_error, month_error
from gtloc.training.data import load_training_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=Path("demo-out"))
    args = parser.parse_args()
    demo, run = args.demo, args.demo / "runs" / "gtloc"
    quiet = lambda message: None  # noqa: E731
    train = load_training_data(demo / "features-train", demo / "world-train" / "records.csv", log=quiet)
    test = load_training_data(demo / "features-test", demo / "world-test" / "records.csv", log=quiet)
    if not (run / NEIGHBOURS_FILE).is_file():
        NeighbourStore.from_training(train.features, train.times, train.latlon).save(run / NEIGHBOURS_FILE)
    truth = test.times.numpy().astype(np.float64)
    floor = np.tile(best_constant_time(train.times.numpy().astype(np.float64)), (len(test), 1))
    rows = {"constant": floor}
    for posterior in ("gallery", "knn", "mix"):
        for prior in (False, True):
            predictor = Predictor.from_pretrained(run, time_posterior=posterior, time_prior=prior)
            pred = predictor.predict(test.features, top_k=1, where=False)
            tag = f"{posterior}{' + prior' if prior else ''}"
            rows[f"{tag}, argmax"] = pred.time.numpy()
            rows[f"{tag}, bayes"] = pred.time_bayes.numpy()
            given = predictor.predict_time_given_location(test.features, test.latlon, top_k=1)
            rows[f"{tag}, given location, bayes"] = given.time_bayes.numpy()
    base_h, base_m = np.mean(hour_error(floor, truth)), np.mean(month_error(floor, truth))
    print(f"demo {demo}: {len(train)} training / {len(test)} test pictures")
    print("| read-out | hour err (h) | x floor | month err | x floor |")
    print("|---|---:|---:|---:|---:|")
    summary = {}
    for name, times in rows.items():
        h = float(np.mean(hour_error(times.astype(np.float64), truth)))
        m = float(np.mean(month_error(times.astype(np.float64), truth)))
        summary[name] = {"hour_error": h, "month_error": m}
        print(f"| {name} | {h:.2f} | {h / base_h:.2f} | {m:.2f} | {m / base_m:.2f} |")
    path = demo / "bench_readouts.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
