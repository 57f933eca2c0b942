"""Ten-crop rules side by side on a finished demo: what renormalising the mean crop embedding changes.

Averaging the similarities of ten crops (the paper's test-time augmentation) equals scoring the plain mean of the
ten L2-normalised crop embeddings, whose norm is below 1: the softmax over a gallery then runs at a lower effective
logit scale. ``GTLoc.embed_images`` renormalises the mean (a unit query, like every other embedding of the shared
space). Top-1 answers are the same under both rules (one positive factor per query); probabilities, the month and
hour posteriors and the Bayes read-out differ. This scores both rules, and the center crop alone, on the demo's
test world with its trained model:

    gtloc demo --out demo-out
    python benchmarks/bench_tencrop.py --demo demo-out

Columns: mean norm of the query before renormalising; month/hour errors of the argmax and Bayes read-outs;
median km; mean top-1 place probability; mean negative log-likelihood of the true month and hour under the
month and hour posteriors (lower = better calibrated).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from gtloc.evaluation.protocol import protocol_metrics
from gtloc.inference.predictor import Predictor
from gtloc.model.gtloc import GTLoc
from gtloc.training.data import load_training_data

CENTER_CROP = 4  # ten-crop order: four corners, center, then the same five of the flipped picture


def _nll(posterior: torch.Tensor, index: torch.Tensor) -> float:
    return float(-posterior.gather(1, index[:, None]).clamp_min(1e-12).log().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, required=True, help="Output folder of `gtloc demo` (ten-crop test).")
    parser.add_argument("--json", type=Path, default=None, help="Where to write the rows (default: beside --demo).")
    args = parser.parse_args()
    run = args.demo / "runs" / "gtloc"
    model = GTLoc.from_pretrained(run)
    predictor = Predictor(model, cache_dir=run / "galleries")
    test = load_training_data(args.demo / "features-test", args.demo / "world-test" / "records.csv", log=print)
    if test.features.dim() != 3:
        raise SystemExit(f"{args.demo}/features-test holds single-crop features: run the demo with ten-crop")
    with torch.inference_mode():
        crops = model.encode_image(test.features.float())
    mean = crops.mean(dim=1)
    queries = {
        "mean of crops (= mean of similarities)": mean,
        "renormalised mean of crops": F.normalize(mean, dim=-1),
        "center crop only": crops[:, CENTER_CROP],
    }
    true_latlon, true_times = test.latlon.numpy().astype(float), test.times.numpy().astype(float)
    months, hours = test.times[:, 0].long() - 1, test.times[:, 2].long()
    rows, answers = {}, {}
    for name, query in queries.items():
        pred = predictor.predict_embeddings(query, top_k=1)
        latlon = pred.latlon.numpy().astype(float)
        argmax = protocol_metrics(latlon, true_latlon, pred.time.numpy().astype(float), true_times)
        bayes = protocol_metrics(latlon, true_latlon, pred.time_bayes.numpy().astype(float), true_times)
        answers[name] = pred.latlon
        rows[name] = {
            "query_norm": float(query.norm(dim=-1).mean()),
            "month_err": argmax["time"]["month_error"],
            "hour_err": argmax["time"]["hour_error"],
            "bayes_month_err": bayes["time"]["month_error"],
            "bayes_hour_err": bayes["time"]["hour_error"],
            "median_km": argmax["geo"]["median_km"],
            "top1_place_prob": float(pred.place_probs[:, 0].mean()),
            "month_nll": _nll(pred.month_posterior, months),
            "hour_nll": _nll(pred.hour_posterior, hours),
        }
    names = list(queries)
    same = float((answers[names[0]] == answers[names[1]]).all(dim=1).float().mean())
    header = ["rule", *rows[names[0]]]
    print(f"{len(test)} test pictures, ten crops each; top-1 places equal under the first two rules: {same:.1%}\n")
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    for name, row in rows.items():
        print("| " + " | ".join([name, *(f"{v:.4g}" for v in row.values())]) + " |")
    out = args.json or args.demo / "bench_tencrop.json"
    out.write_text(json.dumps({"n": len(test), "same_top1_place": same, "rules": rows}, indent=2) + "\n")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
