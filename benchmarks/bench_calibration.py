"""Are the shown probabilities calibrated? Expected calibration error (ECE, 10 bins) and reliability diagrams of the
month, hour and place (within 750 km) answers on a held-out world, before (the learned logit scales) and after the
temperatures the run fitted on its own held-out pictures (``calibration.json``), side by side in one run.

* month / hour: the probability of the answer's calendar month / clock hour in the marginal of the posterior that
  predictions show (the run's read-out: by default the ``mix`` of the model's posterior and the training
  neighbours'; the answer is the marginal's argmax); right when it is the true month / hour.
* place: the posterior mass within 750 km of the best place; right when the true place is within 750 km of it.

    python benchmarks/bench_calibration.py --run RUN --records TEST/records.csv --features FEAT_TEST \\
        --out calibration.json --plot reliability.png
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gtloc.data.features import FeatureStore
from gtloc.data.schema import load_records
from gtloc.evaluation.calibration import expected_calibration_error, plot_reliability
from gtloc.geo import haversine_km
from gtloc.inference.predictor import Predictor
from gtloc.io import write_json
from gtloc.model.calibration import Temperatures
from gtloc.retrieval.posterior import PLACE_RADIUS_KM


def answers(
    predictor: Predictor, queries: torch.Tensor, features: torch.Tensor, latlon: np.ndarray, times: np.ndarray
) -> dict:
    """``{posterior: (confidence (N,), correct (N,))}`` for month, hour and place; the time posterior is the run's
    read-out's (with the pictures' ``features``: the ``mix`` of the model's and the training neighbours')."""
    pred = predictor.predict_embeddings(queries, top_k=1, features=features)
    month_p, month = pred.month_posterior.max(dim=1)
    hour_p, hour = pred.hour_posterior.max(dim=1)
    place_p = predictor.place_confidence(queries)
    place_err = haversine_km(pred.latlon.double().numpy(), latlon)
    return {
        "month": (month_p.numpy(), (month.numpy() + 1) == times[:, 0].astype(int)),
        "hour": (hour_p.numpy(), hour.numpy() == times[:, 2].astype(int)),
        f"place ({PLACE_RADIUS_KM:g} km)": (place_p.numpy(), place_err <= PLACE_RADIUS_KM),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="run directory (with calibration.json)")
    parser.add_argument("--records", required=True, help="records CSV of the held-out world")
    parser.add_argument("--features", required=True, help="feature cache of the held-out world")
    parser.add_argument("--out", default="calibration.json", help="JSON results")
    parser.add_argument("--plot", default="reliability.png", help="reliability diagrams (PNG)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    records = load_records(args.records)
    features = FeatureStore.open(args.features).load(records.paths).float()
    calibrated = Predictor.from_pretrained(args.run)
    if not calibrated.temperatures.fitted:
        parser.error(f"{args.run} has no fitted temperatures (calibration.json)")
    raw = Predictor.from_pretrained(args.run, temperatures=Temperatures())
    queries = calibrated.encode_images(features)
    before = answers(raw, queries, features, records.latlon, records.times)
    after = answers(calibrated, queries, features, records.latlon, records.times)
    results = {
        "run": args.run,
        "records": args.records,
        "n": len(records),
        "temperatures": vars(calibrated.temperatures),
    }
    print(
        f"ECE ({len(records)} pictures, 10 bins); temperatures place {calibrated.temperatures.place:.3f}, "
        f"time {calibrated.temperatures.time:.3f} (fitted on {calibrated.temperatures.fitted_on} held-out pictures)"
    )
    print("| posterior | ECE before | ECE after | after / before | mean shown p before | after | share right |")
    print("|---|---|---|---|---|---|---|")
    for name in before:
        (c0, y0), (c1, y1) = before[name], after[name]
        e0, e1 = expected_calibration_error(c0, y0), expected_calibration_error(c1, y1)
        results[name] = {
            "ece_before": e0,
            "ece_after": e1,
            "confidence_before": float(c0.mean()),
            "confidence_after": float(c1.mean()),
            "accuracy": float(np.mean(y1)),
        }
        print(
            f"| {name} | {e0:.3f} | {e1:.3f} | {e1 / e0:.2f} | {c0.mean():.3f} | {c1.mean():.3f} | {np.mean(y1):.3f} |"
        )
    plot_reliability({name: {"before": before[name], "after": after[name]} for name in before}, args.plot)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(args.out, results)
    print(f"\nwritten {args.out} and {args.plot} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
