"""Photo libraries: speed of `gtloc library scan` and `fill` beside exiftool, and how well `fill` places photos.

On SYNTHETIC libraries (:mod:`gtloc.library.synthetic`: a household with recurring views near home, trips and four
cameras, one without GPS, one with its clock on the home time zone on trips, a partner's phone mostly without
location; and unrelated photographers with a phone and a camera without GPS):

1. Speed, in one run on the same photos: exiftool reading the tags gtloc reads (``exiftool -json -n -r``, one
   process), gtloc's metadata pass alone (EXIF, camera, content hash: what a scan reads besides pixels), a full
   scan (with backbone features), a re-scan of the unchanged library, and fill. Peak memory (max RSS) of the scan
   and fill processes.
2. ``--big N``: N camera-size photos (the first library's photos blown up to 4032 x 3024, 12 megapixels, with
   sensor noise and their EXIF), scanned with the JPEG decoded at reduced scale (draft mode, the default) and in
   full (``DRAFT_MARGIN`` set out of reach in that process), side by side, beside exiftool on the same files.
3. Hide-and-recover (``evaluate_library``) by photo and by session: track, scene, model (with ``--checkpoint``)
   apart and combined, beside PhotoPrism's rule and the nearest photo in time; also split into recurring views
   and one-off photos (trips, town), as ``truth.csv`` says; pooled over the libraries, with the ratio of fill's
   photos within 25 km to PhotoPrism's.
4. The real targets: the photos whose EXIF has no GPS (known here from ``truth.csv``), placed by fill and by
   PhotoPrism's rule on the whole library; then ``--hide time`` (the clock source with each photo's GPS time
   hidden, the library's most common hour) and the ``clock`` source's corrected times against the truth.
5. ``--large N``: a library of N photos scanned in a fresh process (peak memory), re-scanned unchanged, and filled.
   Rendering 20,000 pictures takes hours on a busy 2-core machine, so the large library holds ``--pool`` rendered
   photos (a synthetic library of its own) and copies of them re-encoded with their camera's EXIF moved by whole
   weeks: every file has its own bytes, EXIF and features to compute, as in a real library.

    python benchmarks/bench_library.py --out /tmp/libbench [--photos 1000] [--seeds 3 4] [--checkpoint RUN]
        [--big 60] [--large 20000 --pool 2000] [--workers 1] [--json benchmarks/results/library.json]
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
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from gtloc.library.arrays import LibraryArrays, clock_seconds
from gtloc.library.baselines import nearest_in_time, photoprism
from gtloc.library.catalog import Library
from gtloc.library.evaluate import PLACE_METHODS, evaluate_library, score_places
from gtloc.library.fill import FillSettings, Sources, library_features
from gtloc.library.synthetic import TRUTH_CSV, SyntheticSettings, make_synthetic_library
from gtloc.library.timeline import utc_timeline

EXIF_TAGS = ["-GPSLatitude", "-GPSLongitude", "-DateTimeOriginal", "-OffsetTimeOriginal", "-Make", "-Model",
             "-SerialNumber", "-GPSDateStamp", "-GPSTimeStamp"]  # fmt: skip
CHILD = """
import json, resource, sys, time
from gtloc.device import quiet_cpu_threads
quiet_cpu_threads()
import torch
torch.set_num_threads({threads})
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}))
"""
SCAN = (
    "from gtloc.library.scan import scan_library\n"
    "scan_library({photos!r}, {lib!r}, num_workers={workers}, device='cpu')"
)
FULL_DECODE = "import gtloc.data.images\ngtloc.data.images.DRAFT_MARGIN = 10**9  # never reduced\n"
BIG_SIZE = (4032, 3024)
FILL = "from gtloc.library.fill import fill_library\nfill_library({lib!r}, {out!r})"


def child(body: str, threads: int) -> dict:
    """Run ``body`` in a fresh Python; its seconds and peak memory (its own, and its largest worker's)."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(body=body, threads=threads)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def truth_of(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / TRUTH_CSV, newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def render(folder: Path, photos: int, seed: int, workers: int, heic: bool = False) -> float:
    if (folder / TRUTH_CSV).is_file():
        return float("nan")
    start = time.perf_counter()
    make_synthetic_library(folder, SyntheticSettings(photos=photos, seed=seed, heic=heic), workers=workers)
    return time.perf_counter() - start


def replicate(pool: Path, folder: Path, n: int) -> None:
    """``n`` photos in ``folder``: the pool's photos, then copies re-encoded with their EXIF a few weeks later."""
    from gtloc.data.exif import read_photo_exif
    from gtloc.data.exif_write import CameraExif, write_jpeg
    from gtloc.data.ingest import list_photos
    from gtloc.library.scan import camera_identity

    sources, _, _ = list_photos(pool)
    for i in range(n):
        rel = sources[i % len(sources)]
        copy = i // len(sources)
        target = folder / f"copy-{copy:03d}" / rel
        if target.is_file():
            continue
        exif = read_photo_exif(pool / rel)
        make, model, serial = camera_identity(pool / rel)
        shift = timedelta(weeks=copy)
        info = CameraExif(exif.lat, exif.lon, exif.local_time and exif.local_time + shift, exif.utc_offset,
                          None, make, model, serial)  # fmt: skip
        with Image.open(pool / rel) as image:
            write_jpeg(target, image.convert("RGB"), info)


def camera_size(source: Path, folder: Path, n: int) -> None:
    """``n`` 12-megapixel JPEGs in ``folder``: ``source``'s photos blown up, with sensor noise and their EXIF."""
    from gtloc.data.ingest import list_photos

    paths, _, _ = list_photos(source)
    rng = np.random.default_rng(0)
    for rel in paths[:n]:
        target = folder / Path(rel).with_suffix(".jpg")
        if target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(source / rel) as image:
            exif = image.getexif()
            big = np.asarray(image.convert("RGB").resize(BIG_SIZE, Image.Resampling.BICUBIC), np.float32)
        big += rng.normal(0, 3, big.shape).astype(np.float32)
        Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(target, quality=92, exif=exif)


def big_speed(folder: Path, lib: Path, n: int, workers: int, threads: int) -> dict:
    """Scans of ``n`` camera-size photos with and without the reduced JPEG decode, and exiftool, in one run."""
    out: dict = {"photos": n, "exiftool_s": exiftool_pass(folder)}
    for name, prefix in (("draft", ""), ("full", FULL_DECODE)):
        shutil.rmtree(lib, ignore_errors=True)
        out[name] = child(prefix + SCAN.format(photos=str(folder), lib=str(lib), workers=workers), threads)
    return out


def metadata_pass(folder: Path) -> float:
    """gtloc's per-file metadata work in a scan (EXIF place and time, camera, content hash), no pixels."""
    from gtloc.data.exif import read_photo_exif
    from gtloc.data.ingest import list_photos
    from gtloc.library.scan import camera_identity, content_hash

    paths, _, _ = list_photos(folder)
    start = time.perf_counter()
    for rel in paths:
        read_photo_exif(folder / rel, check_pixels=False)
        camera_identity(folder / rel)
        content_hash(folder / rel)
    return time.perf_counter() - start


def exiftool_pass(folder: Path) -> float | None:
    if shutil.which("exiftool") is None:
        return None
    start = time.perf_counter()
    subprocess.run(["exiftool", "-json", "-n", "-r", "-ext", "jpg", "-ext", "heic", *EXIF_TAGS, str(folder)],
                   capture_output=True, check=True)  # fmt: skip
    return time.perf_counter() - start


def speed(folder: Path, lib: Path, n: int, workers: int, threads: int) -> dict:
    """Every speed measure on one library, in one run."""
    shutil.rmtree(lib, ignore_errors=True)
    out: dict = {"photos": n}
    out["exiftool_s"] = exiftool_pass(folder)
    out["metadata_s"] = metadata_pass(folder)
    scan = child(SCAN.format(photos=str(folder), lib=str(lib), workers=workers), threads)
    rescan = child(SCAN.format(photos=str(folder), lib=str(lib), workers=workers), threads)
    fill = child(FILL.format(lib=str(lib), out=str(lib.parent / f"{lib.name}-estimates.csv")), threads)
    out.update(scan=scan, rescan=rescan, fill=fill)
    return out


def split_rows(arrays: LibraryArrays, truth: dict, rows: np.ndarray) -> dict[str, np.ndarray]:
    recurring = np.array([truth[arrays.paths[r]]["view"] == "recurring" for r in rows], bool)
    return {"all": rows, "recurring views": rows[recurring], "one-off photos": rows[~recurring]}


def true_targets(lib: Path, truth: dict, predictor=None, label: str = "") -> dict:
    """fill and the references on the photos whose EXIF has no GPS, against the truth; plus the clock source."""
    library = Library.open(lib)
    arrays = LibraryArrays.of(library.photos)
    sources = Sources(library_features(library), FillSettings(), predictor, label)
    targets = np.flatnonzero(~arrays.has_place)
    answers = sources.place_answers(arrays, targets)
    utc = utc_timeline(arrays)
    answers += [sources.choose(answers), photoprism(arrays, utc, targets), nearest_in_time(arrays, utc, targets)]
    true = np.array([[float(truth[p]["lat"]), float(truth[p]["lon"])] for p in arrays.paths])
    tables = {}
    for cut, rows in split_rows(arrays, truth, targets).items():
        tables[cut] = [vars(score_places(a.source, a, true, rows)) for a in answers]
    clock = sources.time_answers(arrays, np.arange(len(arrays)))[0]
    local = np.array([clock_seconds(datetime.fromisoformat(truth[p]["local_time"])) for p in arrays.paths])
    wrong = np.array([abs(float(truth[p]["clock_error_s"])) >= 600 for p in arrays.paths])
    right = np.abs(clock.local_s - local[clock.index]) <= 120
    tables["clock"] = {
        "photos_with_wrong_clock": int(wrong.sum()),
        "corrected": len(clock),
        "corrected_of_wrong": int(wrong[clock.index].sum()),
        "within_2_min": int(right.sum()),
        "within_radius": int((np.abs(clock.local_s - local[clock.index]) <= clock.radius_h * 3600).sum()),
    }
    return tables


def hide_and_recover(lib: Path, truth: dict, predictor=None, label: str = "") -> dict:
    out = {}
    for unit in ("photo", "session"):
        result = evaluate_library(lib, hide="place", unit=unit, predictor=predictor, model_label=label)
        arrays = LibraryArrays.of(Library.open(lib).photos)
        cuts = {}
        for cut, rows in split_rows(arrays, truth, result.hidden).items():
            cuts[cut] = [vars(score_places(m, result.answers[m], arrays.latlon, rows)) for m in PLACE_METHODS
                         if m in result.answers]  # fmt: skip
        out[unit] = {"folds": result.folds, "cuts": cuts}
    times = evaluate_library(lib, hide="time", predictor=predictor, model_label=label)
    out["time"] = {"folds": times.folds, "scores": [vars(s) for s in times.scores], "notes": times.notes}
    return out


def table(rows: list[dict], title: str) -> str:
    def pct(v):
        return "-" if v is None or not np.isfinite(v) else f"{100 * v:.1f}"

    def km(v):
        return "-" if v is None or not np.isfinite(v) else f"{v:.1f}"

    lines = [f"\n{title}", "| method | photos | answered % | median km | within 25 km (% of photos) | off > 200 km "
             "(% of answered) | truth within radius % |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        coverage = r["answered"] / r["hidden"] if r["hidden"] else float("nan")
        cells = [r["method"], r["hidden"], pct(coverage), km(r["median_error"]), pct(r["near_of_hidden"]),
                 pct(r["far_of_answered"]), pct(r["within_radius"])]  # fmt: skip
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def _weighted(rows: list[dict], key: str, by: str) -> float:
    values = [(r[key], r[by]) for r in rows if r[by] and r[key] is not None and np.isfinite(r[key])]
    total = sum(w for _, w in values)
    return sum(v * w for v, w in values) / total if total else float("nan")


def pooled(per_seed: list[list[dict]]) -> list[dict]:
    """Scores of several libraries pooled by photo count (medians: the median of the per-library medians)."""
    out = []
    for rows in zip(*per_seed, strict=True):
        medians = [r["median_error"] for r in rows if np.isfinite(r["median_error"])]
        out.append({
            "method": rows[0]["method"],
            "hidden": sum(r["hidden"] for r in rows),
            "answered": sum(r["answered"] for r in rows),
            "median_error": float(np.median(medians)) if medians else float("nan"),
            "near_of_hidden": _weighted(rows, "near_of_hidden", "hidden"),
            "far_of_answered": _weighted(rows, "far_of_answered", "answered"),
            "within_radius": _weighted(rows, "within_radius", "answered"),
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="Working folder (libraries are kept and reused).")
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="*", default=[3, 4], help="Libraries to measure quality on.")
    parser.add_argument("--checkpoint", type=Path, help="A trained run for the model source.")
    parser.add_argument("--heic", action="store_true", help="The libraries' phones write HEIC.")
    parser.add_argument("--big", type=int, default=0, help="Also scan this many 12-megapixel photos, both ways.")
    parser.add_argument("--large", type=int, default=0, help="Also scan a library of this many photos.")
    parser.add_argument("--pool", type=int, default=2000, help="Rendered photos the large library is made of.")
    parser.add_argument("--workers", type=int, default=1, help="Decoding processes of the scans.")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the scan and fill processes.")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    predictor = None
    if args.checkpoint:
        from gtloc.inference.predictor import load

        predictor = load(args.checkpoint, device="cpu")
    report: dict = {"photos": args.photos, "seeds": args.seeds, "load_average": os.getloadavg()}
    hidden, targets = {}, {}
    for seed in args.seeds:
        folder, lib = args.out / f"lib-{seed}", args.out / f"lib-{seed}.gtloc"
        render(folder, args.photos, seed, workers=2, heic=args.heic)
        truth = truth_of(folder)
        if seed == args.seeds[0]:
            report["speed"] = speed(folder, lib, args.photos, args.workers, args.threads)
        else:  # incremental: reads only what an earlier scan (or an older reader) left unread
            child(SCAN.format(photos=str(folder), lib=str(lib), workers=args.workers), args.threads)
        label = str(args.checkpoint or "")
        hidden[seed] = hide_and_recover(lib, truth, predictor, label)
        targets[seed] = true_targets(lib, truth, predictor, label)
    report.update(hide_and_recover=hidden, true_targets=targets)
    if args.big and args.seeds:
        folder = args.out / f"big-{args.big}"
        camera_size(args.out / f"lib-{args.seeds[0]}", folder, args.big)
        report["big"] = big_speed(folder, args.out / f"big-{args.big}.gtloc", args.big, args.workers, args.threads)
    if args.large:
        pool, folder = args.out / f"pool-{args.pool}", args.out / f"large-{args.large}"
        render(pool, args.pool, 99, workers=2)
        replicate(pool, folder, args.large)
        lib = args.out / f"large-{args.large}.gtloc"
        report["large"] = {"pool": args.pool, **speed(folder, lib, args.large, args.workers, args.threads)}
    print_report(report, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=float) + "\n")


def print_report(report: dict, args: argparse.Namespace) -> None:
    print(f"load average at start: {report['load_average']}")
    for name in ("speed", "large"):
        s = report.get(name)
        if not s:
            continue
        n = s["photos"]
        made = f", {s['pool']} rendered and re-encoded copies of them" if "pool" in s else ""
        print(f"\n{name}: {n} photos (256 px JPEG{made}), {args.workers} decoding worker(s), {args.threads} threads")
        print("| pass | seconds | photos/s | peak RSS MB (process / largest worker) |\n|---|---:|---:|---:|")
        if s["exiftool_s"] is not None:
            print(f"| exiftool -json -n -r (the same tags) | {s['exiftool_s']:.1f} | {n / s['exiftool_s']:.0f} | |")
        print(f"| gtloc metadata (EXIF, camera, hash) | {s['metadata_s']:.1f} | {n / s['metadata_s']:.0f} | |")
        for key, what in (("scan", "gtloc library scan"), ("rescan", "re-scan, unchanged"), ("fill", "fill")):
            r = s[key]
            print(f"| {what} | {r['seconds']:.1f} | {n / r['seconds']:.0f} | {r['maxrss_mb']:.0f} / "
                  f"{r['children_maxrss_mb']:.0f} |")  # fmt: skip
    big = report.get("big")
    if big:
        n = big["photos"]
        print(f"\n{n} camera-size photos ({BIG_SIZE[0]} x {BIG_SIZE[1]} JPEG), {args.workers} decoding worker(s)")
        print("| pass | seconds | photos/s | peak RSS MB (process / largest worker) |\n|---|---:|---:|---:|")
        if big["exiftool_s"] is not None:
            print(f"| exiftool -json -n -r (the same tags) | {big['exiftool_s']:.1f} | {n / big['exiftool_s']:.1f} | |")
        for key, what in (("full", "scan, full JPEG decode"), ("draft", "scan, JPEG decoded at reduced scale")):
            r = big[key]
            print(f"| {what} | {r['seconds']:.1f} | {n / r['seconds']:.1f} | {r['maxrss_mb']:.0f} / "
                  f"{r['children_maxrss_mb']:.0f} |")  # fmt: skip
        print(f"reduced-scale decode: {big['full']['seconds'] / big['draft']['seconds']:.2f}x the photos/s")
    hidden = report["hide_and_recover"]
    seeds = list(hidden)
    if not seeds:  # `--seeds` with none: speed only
        return
    summary = []
    for unit in ("photo", "session"):
        for cut in ("all", "recurring views", "one-off photos"):
            rows = pooled([hidden[s][unit]["cuts"][cut] for s in seeds])
            print(table(rows, f"hide-and-recover by {unit}, {cut}, libraries {seeds} pooled"))
            summary.append((f"hidden by {unit}", cut, rows))
    per_seed = report["true_targets"]
    for cut in ("all", "recurring views", "one-off photos") if per_seed else ():
        rows = pooled([per_seed[s][cut] for s in per_seed])
        print(table(rows, f"photos without GPS, {cut}, libraries {list(per_seed)} pooled"))
        summary.append(("without GPS", cut, rows))
    print("\nfill against PhotoPrism's rule: photos placed within 25 km (and answers off by more than 200 km)")
    print("| photos | cut | fill within 25 km % | PhotoPrism within 25 km % | ratio | fill off > 200 km % | "
          "fill truth within radius % |\n|---|---|---:|---:|---:|---:|---:|")  # fmt: skip
    for what, cut, rows in summary:
        by = {r["method"]: r for r in rows}
        fill, prism = by["combined"], by["photoprism"]
        ratio = fill["near_of_hidden"] / prism["near_of_hidden"] if prism["near_of_hidden"] else float("nan")
        print(
            f"| {what} | {cut} | {100 * fill['near_of_hidden']:.1f} | {100 * prism['near_of_hidden']:.1f} | "
            f"{ratio:.2f} | {100 * fill['far_of_answered']:.1f} | {100 * fill['within_radius']:.1f} |"
        )
    print("\nper library, within 25 km in % of the hidden photos: fill / PhotoPrism's rule")
    print("| library | by photo | ... one-off photos | by session | ... one-off photos |\n|---:|---:|---:|---:|---:|")
    for seed in seeds:
        cells = []
        for unit in ("photo", "session"):
            for cut in ("all", "one-off photos"):
                by = {r["method"]: r for r in hidden[seed][unit]["cuts"][cut]}
                cells.append(f"{100 * by['combined']['near_of_hidden']:.1f} / "
                             f"{100 * by['photoprism']['near_of_hidden']:.1f}")  # fmt: skip
        print(f"| {seed} | " + " | ".join(cells) + " |")
    for seed in seeds:
        times = hidden[seed]["time"]
        rows = [{**r, "far_of_answered": float("nan")} for r in times["scores"]]
        print(table(rows, f"--hide time, library {seed} ({times['folds']} folds; median error in hours)"))
        print("\n".join(times["notes"]))
    for seed, tables in per_seed.items():
        print(f"clock source on the whole library, seed {seed}: {tables['clock']}")


if __name__ == "__main__":
    main()
