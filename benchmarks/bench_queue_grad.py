"""Effect of ``queue_grad: false`` on the demo's metrics: the demo config trained both ways on the same features.

Trains ``gtloc.evaluation.demo.demo_train_config(DemoSettings())`` with ``queue_grad`` true (the exact
objective) and false (queues encoded without gradient), same seed and batches, on a finished demo's cached
features, predicts the test world and scores it with ``gtloc.evaluation.protocol.protocol_metrics``. Seconds/step
is the median of the ``seconds`` column of each run's ``log.jsonl``. The two runs are trained one after the other
(``--threads`` torch threads each).

    python benchmarks/bench_queue_grad.py --demo DEMO_OUT [--threads 2] [--epochs 20] [--seed 0] [--json ...]

``DEMO_OUT`` is the output of ``gtloc demo`` (``features-train``, ``features-test``, ``world-*/records.csv``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from gtloc.evaluation.demo import DemoSettings, demo_train_config
from gtloc.evaluation.protocol import protocol_metrics
from gtloc.inference.predictor import Predictor
from gtloc.io import write_json
from gtloc.training.checkpoint import LOG_FILE
from gtloc.training.data import TrainingData, load_training_data
from gtloc.training.loop import train


def score(model, test: TrainingData) -> dict:
    pred = Predictor(model).predict(test.features)
    latlon, truth_ll, truth_t = (x.numpy().astype(float) for x in (pred.latlon, test.latlon, test.times))
    argmax = protocol_metrics(latlon, truth_ll, pred.time.numpy().astype(float), truth_t)
    bayes = protocol_metrics(latlon, truth_ll, pred.time_bayes.numpy().astype(float), truth_t)
    return {"geo": argmax["geo"], "time": argmax["time"], "time_bayes": bayes["time"]}


def run(train_data: TrainingData, test: TrainingData, queue_grad: bool, epochs: int, seed: int, out: Path) -> dict:
    config = demo_train_config(DemoSettings(epochs=epochs, seed=seed))
    config = replace(config, queue_grad=queue_grad)
    t0 = time.perf_counter()
    model = train(train_data, out, config, progress=False)
    wall = time.perf_counter() - t0
    seconds = [json.loads(line)["seconds"] for line in (out / LOG_FILE).read_text().splitlines() if line]
    return {"queue_grad": queue_grad, "train_s": wall, "s_per_step": statistics.median(seconds), **score(model, test)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, required=True, help="Output folder of `gtloc demo`.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=DemoSettings().epochs)
    parser.add_argument("--seed", type=int, default=0, help="Training seed (the demo's is 0).")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "queue-grad.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_data = load_training_data(args.demo / "features-train", args.demo / "world-train" / "records.csv")
    test = load_training_data(args.demo / "features-test", args.demo / "world-test" / "records.csv")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for queue_grad in (True, False):
            rows.append(run(train_data, test, queue_grad, args.epochs, args.seed, Path(tmp) / f"qg-{queue_grad}"))
            r = rows[-1]
            print(f"queue_grad={queue_grad}: {r['train_s']:.0f} s, {r['s_per_step']:.3f} s/step", flush=True)
    exact, fast = rows
    print(f"\ndemo config, {len(train_data)} train / {len(test)} test pictures, {args.epochs} epochs, seed {args.seed}")
    print(f"{'metric':<22}{'queue_grad: true':>18}{'queue_grad: false':>19}")
    lines = [
        ("month error (argmax)", lambda r: r["time"]["month_error"], "{:.3f}"),
        ("hour error (argmax)", lambda r: r["time"]["hour_error"], "{:.3f}"),
        ("month error (bayes)", lambda r: r["time_bayes"]["month_error"], "{:.3f}"),
        ("hour error (bayes)", lambda r: r["time_bayes"]["hour_error"], "{:.3f}"),
        ("median km", lambda r: r["geo"]["median_km"], "{:.0f}"),
        ("acc@2500 km (%)", lambda r: 100 * r["geo"]["acc_2500km"], "{:.1f}"),
        ("s/step (median)", lambda r: r["s_per_step"], "{:.3f}"),
        ("train wall s", lambda r: r["train_s"], "{:.0f}"),
    ]
    for name, get, fmt in lines:
        print(f"{name:<22}{fmt.format(get(exact)):>18}{fmt.format(get(fast)):>19}")
    print(f"speed ratio (s/step true / false): {exact['s_per_step'] / fast['s_per_step']:.2f}x")
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at the end: {load}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    summary = {"epochs": args.epochs, "threads": args.threads, "seed": args.seed, "runs": rows, "loadavg_end": load}
    write_json(args.json, summary)


if __name__ == "__main__":
    main()
