"""The combined verify (clock, sun, model -> one verdict) on true and moved claims, with and without a model.

Pictures:

* **webcam world** (generated, SYNTHETIC): a fixed-webcam world (``--cameras`` cameras, ``--n`` pictures, seed
  ``--seed``); every ``--test-every``-th picture is held out for the test, the rest trains a small GT-Loc model
  (the demo's config, EfficientNet-Lite0 features; or ``--run RUN``, a model trained on the same cameras) as a user
  would on their own webcams. World pictures carry no EXIF: the clock check cannot judge them, the sun reads pixels.
  Claims per test picture: the true place and instant; the same place 12 h later; another test picture's place at
  least 1,000 km away at the same local clock time; both moved.
* **real photos**: the camera photos of tests/fixtures/exif-photos. Their EXIF claims as written (one camera, the
  FinePix S2 Pro in Paris, was set 1 h behind local time: its GPS says so), copies whose camera clock and GPS
  stamp are rewritten to agree with the true instant (true claims), and copies whose camera clock is left on
  another time zone (``ZONES_H`` hours off), once with the GPS stamp and once without it (then only the sun can
  tell). The true instant is the photo's GPS time where it has one, else its camera time at the place.

For each set, claim and model, the share of photos each check (and the verdict) calls consistent / inconsistent /
cannot judge. The verdict's inconsistent share is the false-alarm rate on true claims and the detection rate on
moved ones. With a model, the rows ``with model`` judge each part by the run's fitted ``inconsistent_below``
(calibration.json), the rows ``with model, fixed 10 %`` by the fixed threshold it replaced (the same ranks, judged
again): before and after side by side. Prints one table and writes JSON.

    python benchmarks/bench_verify.py [--work runs/bench-verify] [--run RUN] [--out runs/bench-verify/verify.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import torch

from bench_clock import FIXTURES, offset_text, write_copy
from gtloc.data.claims import Claim, ClaimedTime, make_claim
from gtloc.data.clock import read_clock
from gtloc.data.exif import PhotoExif, read_photo_exif
from gtloc.data.schema import Records, load_records, write_records
from gtloc.evidence import CANNOT_JUDGE, CONSISTENT, INCONSISTENT
from gtloc.evidence.verify import PhotoVerdict, verify_photos
from gtloc.geo import pairwise_haversine_km
from gtloc.timecode import local_to_utc, utc_to_local

ZONES_H = (-10, -6, -3, 2, 5.5, 9, 12)
"""Hours a camera clock is left off the local time (its owner's home zone): whole hours and India's :30."""
CHECKS = ("clock", "sun", "model", "verdict")
SHARES = (CONSISTENT, INCONSISTENT, CANNOT_JUDGE)


@dataclass
class GivenClaims:
    """Each photo's claim, made beforehand (the world has no EXIF to make them from)."""

    claims: dict[str, Claim]

    def problem(self, photo: Path) -> str:
        return ""

    def claim(self, photo: Path, exif: PhotoExif | None) -> Claim:
        return self.claims[str(photo)]


def webcam_world(work: Path, n: int, cameras: int, seed: int, test_every: int) -> tuple[Path, Records, Records]:
    """The webcam world in ``work/world`` (rendered once) and its train / test records."""
    from gtloc.data.world import generate_world

    world = work / "world"
    if not (world / "records.csv").is_file():
        generate_world(n, seed, world, workers=2, progress=True, cameras=cameras)
    records = load_records(world / "records.csv")
    test = np.arange(len(records)) % test_every == 0
    for name, rows in (("train", ~test), ("test", test)):
        write_records(records.subset(np.flatnonzero(rows)), world / f"{name}.csv")
    return world, load_records(world / "train.csv"), load_records(world / "test.csv")


def train_run(work: Path, world: Path, epochs: int, seed: int) -> Path:
    """A model trained on the world's training pictures (the demo's config), in ``work/run`` (trained once)."""
    run = work / "run"
    if (run / "model.safetensors").is_file():
        return run
    from gtloc.backbones.extract import extract_features
    from gtloc.evaluation.demo import DemoSettings, demo_train_config
    from gtloc.training.data import load_training_data
    from gtloc.training.loop import train

    records = world / "train.csv"
    extract_features(load_records(records), world / "images", "efficientnet-lite0", work / "features", progress=True)
    config = demo_train_config(DemoSettings(epochs=epochs, seed=seed))
    train(load_training_data(work / "features", records), run, config, progress=True)
    return run


def world_claims(test: Records, images: Path, rng: np.random.Generator) -> dict[str, dict[str, Claim]]:
    """``kind -> {photo: claim}`` for the true, 12-h-moved, place-moved and both-moved claims."""
    unix = [int(float(t)) for t in test.extras["unix_ts"]]
    distances = np.asarray(pairwise_haversine_km(test.latlon, test.latlon))
    out: dict[str, dict[str, Claim]] = {k: {} for k in ("true", "12 h later", "other place", "both")}
    for i, rel in enumerate(test.paths):
        lat, lon = (float(v) for v in test.latlon[i])
        utc = datetime.fromtimestamp(unix[i], timezone.utc)
        local = utc_to_local(utc, lat, lon)
        far = np.flatnonzero(distances[i] >= 1000.0)
        other = test.latlon[int(rng.choice(far))]
        path = str(images / rel)
        out["true"][path] = make_claim(None, lat, lon, ClaimedTime(utc))
        out["12 h later"][path] = make_claim(None, lat, lon, ClaimedTime(utc + timedelta(hours=12)))
        out["other place"][path] = make_claim(None, float(other[0]), float(other[1]), ClaimedTime(local))
        out["both"][path] = make_claim(None, float(other[0]), float(other[1]), ClaimedTime(local + timedelta(hours=12)))
    return out


def true_instant(exif: PhotoExif) -> datetime:
    """The photo's capture instant: its GPS time when the fix is fresh, else its camera time at the place."""
    reading = read_clock(exif)
    if reading.gps_utc is not None and reading.fix != "stale":
        return reading.gps_utc
    return local_to_utc(exif.local_time, exif.lat, exif.lon)


def real_photo_sets(tmp: Path) -> dict[str, list[list[Path]]]:
    """The fixture photos as written, and rewritten copies: right clocks, clocks on another zone (with and without
    a GPS time). Each set is a list of batches, each verified in one call: the copies of one zone offset together,
    as a camera has one clock setting at a time (seven copies of one camera with seven clocks in one call would
    read, to the clock check's camera rule, as one clock with stale GPS fixes)."""
    sets: dict[str, list[list[Path]]] = {"EXIF as written": [[]], "right clock": [[]]}
    sets |= {kind: [[] for _ in ZONES_H] for kind in ("zone, GPS time", "zone, no GPS")}
    for path in sorted(FIXTURES.glob("*.jpg")):
        exif = read_photo_exif(path)
        sets["EXIF as written"][0].append(path)
        truth = true_instant(exif).replace(microsecond=0)
        local = utc_to_local(truth, exif.lat, exif.lon)
        copy = tmp / f"{path.stem}-right.jpg"
        write_copy(path, copy, local, truth, None)
        sets["right clock"][0].append(copy)
        for z, hours in enumerate(ZONES_H):
            camera = local + timedelta(hours=hours)
            for kind, gps in (("zone, GPS time", truth), ("zone, no GPS", None)):
                copy = tmp / f"{path.stem}-{offset_text(hours * 3600)}-{'gps' if gps else 'nogps'}.jpg"
                write_copy(path, copy, camera, gps, None)
                sets[kind][z].append(copy)
    return sets


def shares(results: list[PhotoVerdict]) -> dict[str, dict[str, float]]:
    """``check -> verdict -> share`` over ``results`` (``not run`` checks left out)."""
    out = {}
    for name in CHECKS:
        verdicts = [
            r.word if name == "verdict" else r.check(name).verdict
            for r in results
            if name == "verdict" or r.check(name)
        ]
        if verdicts:
            out[name] = {v: sum(x == v for x in verdicts) / len(verdicts) for v in SHARES}
    return out


def place_parts(results: list[PhotoVerdict]) -> dict[str, dict[str, float]]:
    """The model's place part under the place rule of gtloc.evidence.model (``region rule``) and under the
    percentile alone (``percentile only``, the rule before it), and the month and hour parts: verdict shares."""
    from gtloc.evidence.model import DOUBTFUL, part_verdict, rank_verdict

    seen: dict[str, list[str]] = {"percentile only": [], "region rule": [], "month": [], "hour": []}
    for r in results:
        if r.model is None or r.model.verification is None:
            continue
        for rank in r.model.verification.ranks:
            if rank.kind == "place":
                seen["region rule"].append(rank_verdict(rank))
                alone = part_verdict(
                    "place",
                    rank.percentile,
                    rank.sharpness,
                    rank.in_domain,
                    rank.flat_below,
                    inconsistent_below=rank.inconsistent_below,
                )
                seen["percentile only"].append(alone)
            elif rank.kind in seen:
                seen[rank.kind].append(rank_verdict(rank))
    return {k: {v: sum(x == v for x in got) / len(got) for v in (*SHARES, DOUBTFUL)} for k, got in seen.items() if got}


FIXED_BELOW = 10.0
"""The percentile below which every part was inconsistent before the threshold was fitted per run."""


def fixed_threshold(results: list[PhotoVerdict]) -> list[PhotoVerdict]:
    """``results`` with the model check judged again with every part's ``inconsistent_below`` at
    :data:`FIXED_BELOW`, and the verdict combined again."""
    from gtloc.evidence.check import Check
    from gtloc.evidence.combine import combine
    from gtloc.evidence.model import model_verdict, rank_verdict

    out = []
    for r in results:
        if r.model is None or r.model.verification is None:
            out.append(r)
            continue
        view = r.model.verification
        verdicts = [rank_verdict(replace(rank, inconsistent_below=FIXED_BELOW)) for rank in view.ranks]
        judged = Check("model", model_verdict([v for v in verdicts if v is not None], view.in_domain), "")
        checks = [judged if c.name == "model" else c for c in r.checks]
        out.append(replace(r, checks=checks, verdict=combine(checks)))
    return out


def cell(block: dict[str, dict[str, float]], name: str) -> str:
    if name not in block:
        return "not run"
    s = block[name]
    return f"{100 * s[CONSISTENT]:.1f} / {100 * s[INCONSISTENT]:.1f} / {100 * s[CANNOT_JUDGE]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("runs/bench-verify"))
    parser.add_argument(
        "--run", type=Path, default=None, help="a model trained on the same webcams (default: train one)"
    )
    parser.add_argument("--n", type=int, default=1500, help="pictures in the webcam world")
    parser.add_argument("--cameras", type=int, default=30)
    parser.add_argument("--test-every", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    world, _, test = webcam_world(args.work, args.n, args.cameras, args.seed, args.test_every)
    run = args.run or train_run(args.work, world, args.epochs, args.seed)
    from gtloc.inference.predictor import Predictor

    predictor = Predictor.from_pretrained(run)
    rng = np.random.default_rng(args.seed)
    results: dict[str, dict[str, dict]] = {}
    parts: dict[str, dict[str, dict[str, float]]] = {}
    for kind, claims in world_claims(test, world / "images", rng).items():
        for model in (None, predictor):
            verdicts = list(verify_photos(list(claims), GivenClaims(claims), model))
            label = "with model" if model is not None else "no model"
            results[f"webcam world | {kind} | {label}"] = {"n": len(verdicts), **shares(verdicts)}
            if model is not None:
                fixed = fixed_threshold(verdicts)
                results[f"webcam world | {kind} | with model, fixed 10 %"] = {"n": len(fixed), **shares(fixed)}
                parts[kind] = place_parts(verdicts)
    tmp = args.work / "real"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for kind, batches in real_photo_sets(tmp).items():
        for model in (None, predictor):
            verdicts = [v for photos in batches for v in verify_photos(photos, predictor=model)]
            label = "with model" if model is not None else "no model"
            results[f"real photos | {kind} | {label}"] = {"n": len(verdicts), **shares(verdicts)}
    shutil.rmtree(tmp)
    seconds = round(time.perf_counter() - t0, 1)

    fitted = predictor.temperatures.inconsistent_below
    print(f"\nshares in % (consistent / inconsistent / cannot judge); model: {run}; {seconds} s")
    print(f"fitted inconsistent_below: {fitted} (fixed: {FIXED_BELOW:g} for each part)\n")
    print("| pictures | claim | model | n | clock | sun | model check | verdict |")
    print("|---|---|---|---:|---|---|---|---|")
    for key, block in results.items():
        pictures, kind, label = key.split(" | ")
        row = " | ".join(cell(block, name) for name in CHECKS)
        print(f"| {pictures} | {kind} | {label} | {block['n']} | {row} |")
    print("\nThe model's parts on the webcam world, % consistent / inconsistent / cannot judge / doubtful\n")
    print("| claim | place, percentile only | place, region rule | month | hour |")
    print("|---|---|---|---|---|")
    for kind, block in parts.items():
        cells = [" / ".join(f"{100 * v:.1f}" for v in block[name].values()) for name in block]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    out = args.out or args.work / "verify.json"
    report = {
        "run": str(run),
        "seconds": seconds,
        "inconsistent_below": fitted,
        "results": results,
        "model_parts": parts,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
