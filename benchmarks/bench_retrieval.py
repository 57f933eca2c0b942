"""Batch retrieval over the 100k MP-16 GPS gallery and the time grid: gtloc's search paths vs the reference loop.

The paper-size location/time encoders (random init) encode the galleries once (cached in ``--cache``). Queries are
image-like: ``normalise(gallery[j] + noise)`` with ``--noise`` set so that a query's cosine to its source entry is
about 0.9, the regime where near-duplicate gallery entries make top-1 sensitive (real queries: see docs/scale.md).
Each path's time is the best of ``--repeats`` interleaved passes. Top-1 agreement with exact search counts an answer
as agreeing when its similarity (recomputed in float64) is within 1e-6 of the exact best: the MP-16 list holds
5,900 duplicate coordinates, whose identical embeddings tie, and float32 rounding breaks near-ties arbitrarily.
The strict column counts identical indices.

``--device`` adds gtloc's exact search (:func:`gtloc.retrieval.search.search`: top-5 and the softmax normaliser
over the whole gallery) of ``--device-queries`` queries (default 10,000) over the 100k GPS gallery, per device side by
side (CPU, and the GPU when CUDA is there), with the top-5 indices compared between devices.

    python benchmarks/bench_retrieval.py [--queries 2048] [--json benchmarks/results/retrieval.json]
    python benchmarks/bench_retrieval.py --device auto --devices-only
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from devices import add_device_argument, describe, devices_to_compare, median_ms, print_table
from gtloc.io import write_json
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.faiss import FaissIndex
from gtloc.retrieval.galleries import encode_gallery, load_gps_gallery, time_grid
from gtloc.retrieval.search import search
from reference import official_eval_top1


def best_seconds(runs: dict[str, Callable[[], torch.Tensor]], repeats: int) -> tuple[dict, dict]:
    """Best-of-``repeats`` wall time of each run (passes interleaved across runs) and each run's top-1 answer."""
    times, answers = {name: float("inf") for name in runs}, {}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            answers[name] = run()
            times[name] = min(times[name], time.perf_counter() - t0)
    return times, answers


def tie_aware_agreement(
    queries: torch.Tensor, gallery: torch.Tensor, answer: torch.Tensor, exact: torch.Tensor
) -> float:
    """Fraction of queries whose answer scores (float64) within 1e-6 of the exact answer's score."""
    q = queries.double()
    got = (q * gallery[answer].double()).sum(dim=1)
    best = (q * gallery[exact].double()).sum(dim=1)
    return float((got >= best - 1e-6).double().mean())


def image_like_queries(gallery: torch.Tensor, n: int, noise: float, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    rows = gallery[torch.randint(len(gallery), (n,), generator=gen)]
    return F.normalize(rows + noise * torch.randn(rows.shape, generator=gen), dim=1)


def bench_gallery(name: str, gallery: torch.Tensor, queries: torch.Tensor, args) -> list[dict]:
    runs: dict[str, Callable[[], torch.Tensor]] = {
        "reference: chunked matmul + argmax": lambda: official_eval_top1(queries, gallery),
        "gtloc search (exact, top-5 + softmax norm)": lambda: search(queries, gallery, 5, chunk_size=256).indices[:, 0],
    }
    builds = {}
    t0 = time.perf_counter()
    flat = FaissIndex.build(gallery, "flat")
    builds["faiss flat"] = time.perf_counter() - t0
    runs["faiss flat (exact)"] = lambda: flat.search(queries, 5).indices[:, 0]
    if len(gallery) >= 20_000:
        t0 = time.perf_counter()
        ivf = FaissIndex.build(gallery, "ivf", nlist=args.nlist)
        builds["faiss ivf"] = time.perf_counter() - t0
        for nprobe in args.nprobe:
            runs[f"faiss ivf nlist={ivf.index.nlist} nprobe={nprobe}"] = lambda p=nprobe: (
                setattr(ivf, "nprobe", p),
                ivf.search(queries, 5).indices[:, 0],
            )[1]
    seconds, answers = best_seconds(runs, args.repeats)
    exact = answers["reference: chunked matmul + argmax"]
    ref = seconds["reference: chunked matmul + argmax"]
    rows = []
    for run, secs in seconds.items():
        build = next((v for k, v in builds.items() if run.startswith(k)), 0.0)
        rows.append(
            {
                "gallery": name,
                "path": run,
                "queries_per_s": len(queries) / secs,
                "speedup": ref / secs,
                "top1_agreement": tie_aware_agreement(queries, gallery, answers[run], exact),
                "top1_same_index": float((answers[run] == exact).float().mean()),
                "build_s": build,
            }
        )
    return rows


def device_rows(devices: list[torch.device], gallery: torch.Tensor, count: int, repeats: int) -> dict:
    """ms of the exact top-5 search of ``count`` queries over ``gallery`` on each device; top-5 agreement."""
    queries = image_like_queries(gallery, count, 0.02)
    row: dict[str, float] = {}
    found = {}
    for device in devices:
        q, g = queries.to(device), gallery.to(device)
        row[str(device)] = median_ms(
            lambda q=q, g=g: search(q, g, 5, 30.0), device, repeats if device.type == "cuda" else 1
        )
        found[str(device)] = search(q, g, 5, 30.0).indices.cpu()
    name = f"exact top-5 search, {count:,} queries x {gallery.shape[0]:,} gallery"
    print_table(f"search on each device ({describe(devices)})", "ms", {name: row})
    first = next(iter(found.values()))
    agreement = {d: float((idx == first).float().mean()) for d, idx in found.items()}
    print(f"top-5 indices equal to the CPU's: {', '.join(f'{d} {100 * a:.2f}%' for d, a in agreement.items())}")
    return {"ms": row, "top5_same_as_cpu": agreement, "queries": count, "gallery": int(gallery.shape[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2048)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nlist", type=int, default=1024)
    parser.add_argument("--nprobe", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "gtloc-bench-galleries")
    parser.add_argument("--json", type=Path, default=None)
    add_device_argument(parser)
    parser.add_argument("--device-queries", type=int, default=10_000)
    parser.add_argument("--devices-only", action="store_true", help="Only the per-device table.")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = GTLoc().eval()
    gps = encode_gallery(model, "gps", load_gps_gallery(), args.cache).embeddings
    devices = device_rows(devices_to_compare(args.device), gps, args.device_queries, args.repeats)
    if args.devices_only:
        if args.json:
            write_json(args.json, {"devices": devices})
        return
    times = encode_gallery(model, "time", time_grid(), args.cache).embeddings
    rows = []
    for name, gallery in (("gps-100k", gps), ("time-grid", times)):
        queries = image_like_queries(gallery, args.queries, args.noise)
        rows += bench_gallery(name, gallery, queries, args)
    print(
        f"{'gallery':10} {'path':46} {'queries/s':>10} {'speedup':>8} {'top-1 agr.':>10} {'strict':>8} {'build s':>8}"
    )
    for r in rows:
        print(
            f"{r['gallery']:10} {r['path']:46} {r['queries_per_s']:10.0f} {r['speedup']:7.2f}x "
            f"{100 * r['top1_agreement']:9.2f}% {100 * r['top1_same_index']:7.2f}% {r['build_s']:8.1f}"
        )
    if args.json:
        result = {"threads": torch.get_num_threads(), "queries": args.queries, "rows": rows, "devices": devices}
        write_json(args.json, result)


if __name__ == "__main__":
    main()
