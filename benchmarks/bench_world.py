"""Rendering speed of the synthetic world (``gtloc world``): pictures per second, 1 vs 2 worker processes.

Each row renders and writes the same ``--n`` pictures (JPEG, ``--size`` px) with ``generate_world``; wall time
includes sampling scenes, time zones, rendering, encoding and the records file. ``cpu ms/img`` is the
rendering's CPU time per picture in this process and its workers (less sensitive to other load on the
machine). The ratio column compares every row with the 1-worker row of this one run.

    python benchmarks/bench_world.py --n 1000 --size 224 --out runs/bench/bench_world.json
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time

from gtloc.data.world import generate_world
from gtloc.data.world.render import render_scene
from gtloc.data.world.scenes import sample_scenes
from gtloc.io import write_json


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default="runs/bench/bench_world.json")
    args = parser.parse_args()

    warm = sample_scenes(4, args.seed)  # load the gallery, time zones and textures once, outside the timings
    for i in range(len(warm)):
        render_scene(warm[i], args.size)
    rows = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            cpu0, start = cpu_seconds(), time.perf_counter()
            generate_world(args.n, args.seed, tmp, size=args.size, workers=workers, progress=False)
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
        rows.append(
            {
                "workers": workers,
                "images": args.n,
                "wall_s": wall,
                "images_per_s": args.n / wall,
                "cpu_ms": cpu / args.n * 1e3,
            }
        )
    base = rows[0]["images_per_s"]
    print(f"world rendering, {args.size} px JPEG, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")
    print("| workers | images | wall s | images/s | cpu ms/img | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        row["ratio"] = row["images_per_s"] / base
        print(
            f"| {row['workers']} | {row['images']} | {row['wall_s']:.2f} | {row['images_per_s']:.1f} "
            f"| {row['cpu_ms']:.1f} | {row['ratio']:.2f}x |"
        )
    write_json(args.out, {"size": args.size, "seed": args.seed, "cpus": os.cpu_count(), "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
