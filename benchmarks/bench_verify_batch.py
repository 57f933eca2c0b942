"""``gtloc verify`` on 100 photos in one call against 100 calls of one photo each, with and without a model.

The photos: copies of the real camera photos in tests/fixtures/exif-photos (their EXIF claims), ``--photos`` of
them. With a model: a small GT-Loc run (EfficientNet-Lite0 features, the 100k MP-16 GPS gallery encoded once
and cached in the run, as ``predict`` and ``verify`` use it) trained for a few steps on a small generated world,
or ``--run RUN``. Each call is a fresh ``python -m gtloc verify`` process, as a user's shell would run it; the
verdicts of the two ways are checked to be the same. Prints a table and writes JSON.

    python benchmarks/bench_verify_batch.py [--photos 100] [--run RUN] [--work runs/bench-verify-batch]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "exif-photos"


def photo_folder(folder: Path, n: int) -> list[Path]:
    """``n`` copies of the fixture photos in ``folder``."""
    sources = sorted(FIXTURES.glob("*.jpg"))
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for i in range(n):
        source = sources[i % len(sources)]
        photos.append(folder / f"{i:03d}-{source.name}")
        shutil.copy(source, photos[-1])
    return photos


def small_run(work: Path) -> Path:
    """A GT-Loc run trained for a few steps on 200 generated pictures (its quality does not matter here)."""
    run = work / "run"
    if (run / "model.safetensors").is_file():
        return run
    from gtloc.backbones.extract import extract_features
    from gtloc.data.schema import load_records
    from gtloc.data.world import generate_world
    from gtloc.evaluation.demo import DemoSettings, demo_train_config
    from gtloc.training.data import load_training_data
    from gtloc.training.loop import train

    generate_world(200, 5, work / "world", workers=2, progress=False)
    records = work / "world" / "records.csv"
    extract_features(load_records(records), work / "world" / "images", "efficientnet-lite0", work / "features")
    train(
        load_training_data(work / "features", records), run, demo_train_config(DemoSettings(epochs=2)), progress=False
    )
    return run


def gtloc(*args: str | Path, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "gtloc", "verify", *map(str, args)], env=env, check=True, capture_output=True)


def verdicts(paths: list[Path]) -> list[tuple[str, ...]]:
    rows = []
    for path in paths:
        with open(path, newline="") as handle:
            rows += [
                (Path(r["path"]).name, r["verdict"], r["clock"], r["sun"], r["model"]) for r in csv.DictReader(handle)
            ]
    return rows


def measure(photos: list[Path], folder: Path, out: Path, run: Path | None, env: dict[str, str]) -> dict[str, float]:
    """Seconds for one call on ``folder`` and for one call per photo; their verdicts must agree."""
    model = ["--checkpoint", run] if run is not None else []
    gtloc(photos[0], "--out", out / "warm-up.csv", *model, env=env)  # the gallery cache and the OS file cache
    start = time.perf_counter()
    gtloc(folder, "--out", out / "one-call.csv", *model, env=env)
    one_call = time.perf_counter() - start
    start = time.perf_counter()
    for i, photo in enumerate(photos):
        gtloc(photo, "--out", out / f"call-{i:03d}.csv", *model, env=env)
    many_calls = time.perf_counter() - start
    single = verdicts([out / f"call-{i:03d}.csv" for i in range(len(photos))])
    if sorted(verdicts([out / "one-call.csv"])) != sorted(single):
        raise SystemExit("the verdicts of one call and of one call per photo differ")
    return {"one_call_s": round(one_call, 2), "many_calls_s": round(many_calls, 2), "ratio": many_calls / one_call}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--run", type=Path, default=None, help="a run directory (default: train a small one)")
    parser.add_argument("--work", type=Path, default=Path("runs/bench-verify-batch"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    run = args.run or small_run(args.work)
    folder = args.work / "photos"
    shutil.rmtree(folder, ignore_errors=True)
    photos = photo_folder(folder, args.photos)
    env = {k: v for k, v in os.environ.items() if k != "GTLOC_CHECKPOINT"}
    results = {}
    for label, model in (("no model", None), ("with model", run)):
        out = args.work / label.replace(" ", "-")
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        results[label] = measure(photos, folder, out, model, env)
    print(f"\n{args.photos} photos (copies of tests/fixtures/exif-photos); model: {run}\n")
    print(f"| checks | one call (s) | {args.photos} calls (s) | one call is faster by |")
    print("|---|---:|---:|---:|")
    for label, r in results.items():
        checks = "clock, sun" + (", model" if label == "with model" else "")
        print(f"| {checks} | {r['one_call_s']:.1f} | {r['many_calls_s']:.1f} | {r['ratio']:.1f}x |")
    (args.work / "verify_batch.json").write_text(json.dumps({"run": str(run), **results}, indent=2) + "\n")
    print(f"\nJSON: {args.work / 'verify_batch.json'}")


if __name__ == "__main__":
    main()
