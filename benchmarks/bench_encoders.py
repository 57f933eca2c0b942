"""Throughput of the three heads on this CPU: TimeEncoder, LocationEncoder, image head (items/s).

Full-size model (default ``GTLocConfig``: 512-d space, 1024-wide RFF branches at sigma 1/16/256), float32,
``torch.inference_mode``, one batch size for all. Each row is the median of ``--repeats`` timed batches after
two warm-up batches; the ratio column compares every row to the slowest one, all from this one run.

    python benchmarks/bench_encoders.py --batch 1024 --repeats 10 --out runs/bench/bench_encoders.json
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from gtloc.io import write_json
from gtloc.model.config import GTLocConfig
from gtloc.model.gtloc import GTLoc

MP16_GALLERY_SIZE = 100_000


def inputs(batch: int, feature_dim: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    times = torch.stack(
        [
            torch.randint(1, 13, (batch,), generator=g).float(),
            torch.randint(1, 29, (batch,), generator=g).float(),
            torch.randint(0, 24, (batch,), generator=g).float(),
            torch.randint(0, 60, (batch,), generator=g).float(),
            torch.rand(batch, generator=g) * 60,
        ],
        dim=1,
    )
    latlon = torch.rand(batch, 2, generator=g) * torch.tensor([180.0, 360.0]) - torch.tensor([90.0, 180.0])
    return {"times": times, "latlon": latlon, "features": torch.randn(batch, feature_dim, generator=g)}


def time_batches(fn: Callable[[], torch.Tensor], repeats: int) -> list[float]:
    """Seconds per call for ``repeats`` calls, after two warm-up calls."""
    with torch.inference_mode():
        for _ in range(2):
            fn()
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--feature-dims", type=int, nargs="+", default=[1280, 768], help="image head input dims")
    parser.add_argument("--out", default="runs/bench/bench_encoders.json")
    args = parser.parse_args()

    models = {dim: GTLoc(GTLocConfig(feature_dim=dim, queue_size=0)).eval() for dim in args.feature_dims}
    first = models[args.feature_dims[0]]
    x = inputs(args.batch, args.feature_dims[0])
    cases: dict[str, tuple[torch.nn.Module, Callable[[], torch.Tensor]]] = {
        "TimeEncoder": (first.time_encoder, lambda: first.encode_time(x["times"])),
        "LocationEncoder": (first.location_encoder, lambda: first.encode_location(x["latlon"])),
    }
    for dim, model in models.items():
        feats = inputs(args.batch, dim)["features"]
        cases[f"ImageHead({dim})"] = (model.image_encoder, lambda m=model, f=feats: m.encode_image(f))

    rows = []
    for name, (module, fn) in cases.items():
        seconds = statistics.median(time_batches(fn, args.repeats))
        rows.append(
            {
                "component": name,
                "params": sum(p.numel() for p in module.parameters()),
                "ms_per_batch": 1000 * seconds,
                "items_per_s": args.batch / seconds,
                "mp16_gallery_s": MP16_GALLERY_SIZE * seconds / args.batch,
            }
        )
    slowest = min(r["items_per_s"] for r in rows)
    for r in rows:
        r["x_slowest"] = r["items_per_s"] / slowest

    load = os.getloadavg()[0]
    print(
        f"batch {args.batch}, float32, inference_mode, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    header = f"{'component':<18}{'params':>12}{'ms/batch':>11}{'items/s':>12}{'100k gallery s':>16}{'x slowest':>11}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['component']:<18}{r['params']:>12,}{r['ms_per_batch']:>11.1f}{r['items_per_s']:>12,.0f}"
            f"{r['mp16_gallery_s']:>16.2f}{r['x_slowest']:>11.1f}"
        )
    write_json(
        args.out,
        {
            "batch": args.batch,
            "repeats": args.repeats,
            "dtype": "float32",
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_1min": load,
            "rows": rows,
        },
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
