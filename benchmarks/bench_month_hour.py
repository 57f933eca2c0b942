"""The month x hour heatmap: the joint posterior against the outer product of its marginals, on a finished demo.

Reports and the web page draw the joint posterior (:attr:`Prediction.month_hour_posterior`: the time posterior
summed into month x hour cells); this takes the model's gallery posterior (:meth:`Predictor.month_hour_posterior`).
The outer product of the month and hour marginals, which the report drew before, assumes month and hour independent
under the posterior. This measures how far apart the two are on the demo's test world:

    gtloc demo --out demo-out
    python benchmarks/bench_month_hour.py --demo demo-out

Columns (over the test pictures): the largest cell difference, the mean total-variation distance
``0.5 * sum |joint - outer|``, how often the most likely cell differs, and the mean log-likelihood of the true
(month, hour) cell under each (higher = better).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from gtloc.inference.predictor import Predictor
from gtloc.model.gtloc import GTLoc
from gtloc.training.data import load_training_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, required=True, help="Output folder of `gtloc demo`.")
    parser.add_argument("--json", type=Path, default=None, help="Where to write the numbers (default: beside --demo).")
    args = parser.parse_args()
    run = args.demo / "runs" / "gtloc"
    predictor = Predictor(GTLoc.from_pretrained(run), cache_dir=run / "galleries")
    test = load_training_data(args.demo / "features-test", args.demo / "world-test" / "records.csv", log=print)
    joint = predictor.month_hour_posterior(predictor.encode_images(test.features)).double()
    outer = joint.sum(dim=2)[:, :, None] * joint.sum(dim=1)[:, None, :]
    n = len(test)
    rows = torch.arange(n)
    month, hour = test.times[:, 0].long() - 1, test.times[:, 2].long()
    difference = (joint - outer).abs()
    result = {
        "n": n,
        "max_abs_cell_difference": float(difference.max()),
        "mean_max_abs_cell_difference": float(difference.amax(dim=(1, 2)).mean()),
        "mean_total_variation": float(0.5 * difference.sum(dim=(1, 2)).mean()),
        "argmax_cell_differs": float((joint.flatten(1).argmax(1) != outer.flatten(1).argmax(1)).double().mean()),
        "true_cell_loglik_joint": float(joint[rows, month, hour].clamp_min(1e-12).log().mean()),
        "true_cell_loglik_outer": float(outer[rows, month, hour].clamp_min(1e-12).log().mean()),
    }
    for name, value in result.items():
        print(f"{name:32} {value:.4g}")
    out = args.json or args.demo / "bench_month_hour.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
