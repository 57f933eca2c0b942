"""The one answer on a finished demo's test world: the top gallery entry against the best distinct place, how often
the stated radius and hour window hold the truth, and what the place answer costs.

Reads ``DEMO/runs/gtloc`` (the demo's GT-Loc model) and its test features and records (pictures the model never
trained or calibrated on). Three tables, each measured side by side in one run:

* geo metrics of the top gallery entry (the answer before the merge) and of the best distinct place (entries within
  10 km merged, what predict, verify, the web page and the evaluation show now);
* coverage of the radius (how often the true place lies within it) and of the hour window (how often the true clock
  hour lies in it), each with the run's fitted mass level and with the default for runs without one (the posterior
  taken at its word), against the probability it states;
* time per picture of the plain top-k search, the merge, and the radius.

    python benchmarks/bench_place_answer.py --demo demo-out
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from gtloc.geo import geo_metrics, haversine_km
from gtloc.inference.predictor import Predictor
from gtloc.retrieval.place_answer import PLACE_CANDIDATES
from gtloc.training.data import load_training_data


def _timed(fn, repeats: int = 3) -> tuple[object, float]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=Path("demo-out"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    demo, run = args.demo, args.demo / "runs" / "gtloc"
    test = load_training_data(demo / "features-test", demo / "world-test" / "records.csv", log=lambda _: None)
    predictor = Predictor.from_pretrained(run)
    fitted = predictor.temperatures
    queries = predictor.encode_images(test.features)
    truth = test.latlon.numpy().astype(np.float64)
    scale = predictor.scale("img_gps_logit_scale")

    found, t_search = _timed(lambda: predictor.gps_search.search(queries, PLACE_CANDIDATES, scale))
    (places, _), t_merge = _timed(lambda: predictor._distinct(found, 5))
    _, t_radius = _timed(lambda: predictor.place_radius(queries, places[:, 0], found))
    entry = predictor.gps_gallery.labels[found.indices[:, 0]].numpy().astype(np.float64)
    merged = places[:, 0].numpy().astype(np.float64)
    moved = float(np.mean(np.asarray(haversine_km(entry, merged)) > 1e-6))
    print(f"demo {demo}: {len(test)} test pictures; the merge moved the answer for {100 * moved:.1f} % of them\n")
    print("| place answer | median km | acc@1km % | acc@25km % | acc@200km % | acc@750km % | acc@2500km % |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    summary: dict[str, object] = {"pictures": len(test), "moved_share": moved}
    for name, answer in (("top gallery entry (before)", entry), ("best distinct place (now)", merged)):
        m = geo_metrics(answer, truth)
        summary[name] = m
        accs = " | ".join(f"{100 * m[f'acc_{t}km']:.1f}" for t in (1, 25, 200, 750, 2500))
        print(f"| {name} | {m['median_km']:.1f} | {accs} |")

    errors = np.asarray(haversine_km(merged, truth))
    default = Predictor.from_pretrained(run, temperatures=replace(fitted, place_mass=None))
    print("\n| stated | how | mass level | coverage on the test world % | median radius km / window |")
    print("|---|---|---:|---:|---:|")
    for name, source in (("fitted on the held-out pictures", predictor), ("default (no fit)", default)):
        r = source.place_radius(queries, places[:, 0], found).numpy()
        covered = float(np.mean(errors <= r))
        level = source.temperatures.radius_mass
        summary[f"radius, {name}"] = {"level": level, "coverage": covered, "median_radius_km": float(np.median(r))}
        stated = f"{100 * fitted.place_coverage:.0f} %"
        print(f"| {stated} | radius, {name} | {level:.3f} | {100 * covered:.1f} | {np.median(r):,.0f} |")
    true_hour = test.times[:, 2].numpy().astype(int)
    unfitted = Predictor.from_pretrained(run, temperatures=replace(fitted, hour_mass=None))
    for name, source in (("fitted on the held-out pictures", predictor), ("default (no fit)", unfitted)):
        pred = source.predict(test.features, top_k=1, where=False)
        first, hours, stated = (v.numpy() for v in pred.hour_window())
        covered = float(np.mean((true_hour - first) % 24 < hours))
        level = source.temperatures.window_mass
        summary[f"hour window, {name}"] = {
            "level": level,
            "stated_mean": float(stated.mean()),
            "coverage": covered,
            "hours_mean": float(hours.mean()),
        }
        print(
            f"| {100 * stated.mean():.0f} % (mean) | hour window, {name} | {level:.3f} | {100 * covered:.1f} | "
            f"{hours.mean():.1f} h wide on average |"
        )

    per = 1000 / len(test)
    print("\n| step | ms per picture | x search |")
    print("|---|---:|---:|")
    for name, seconds in (("top-64 search", t_search), ("merge", t_merge), ("radius (whole gallery)", t_radius)):
        print(f"| {name} | {seconds * per:.2f} | {seconds / t_search:.2f} |")
    summary["ms_per_picture"] = {"search": t_search * per, "merge": t_merge * per, "radius": t_radius * per}
    path = demo / "bench_place_answer.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
