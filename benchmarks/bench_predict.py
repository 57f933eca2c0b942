"""Single-image prediction latency with features given: gtloc's Predictor vs GeoCLIP's predict shape.

GeoCLIP's ``predict`` encodes its 100k GPS gallery on every call; gtloc's ``Predictor`` encodes (or loads from
its fingerprinted cache) its galleries once, then each call is one image-head pass and a gallery search.
Paper-size model (random init), one image of backbone features per call.

``--device`` adds, per device side by side (CPU, and the GPU when CUDA is there): encoding the 100k GPS gallery
with the paper-size location encoder, and a Predictor's prediction (place + time) of one image and of 1,000.

    python benchmarks/bench_predict.py [--calls 20] [--json benchmarks/results/predict.json]
    python benchmarks/bench_predict.py --device auto --devices-only
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from devices import add_device_argument, describe, devices_to_compare, median_ms, print_table
from gtloc.inference.predictor import Predictor
from gtloc.io import write_json
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.galleries import encode_gallery, load_gps_gallery
from reference import geoclip_predict


def device_rows(devices: list[torch.device], calls: int) -> dict[str, dict[str, float]]:
    """ms per device: encode the 100k GPS gallery; predict 1 and 1,000 images (galleries encoded already)."""
    torch.manual_seed(0)
    base = GTLoc().eval()
    gps = load_gps_gallery()
    rows: dict[str, dict[str, float]] = {
        "encode the 100k GPS gallery (paper-size location encoder)": {},
        "Predictor.predict, 1 image, place + time": {},
        "Predictor.predict, 1,000 images, place + time": {},
    }
    names = list(rows)
    one, many = torch.randn(1, base.config.feature_dim), torch.randn(1000, base.config.feature_dim)
    for device in devices:
        model = GTLoc(base.config).eval().to(device)
        model.load_state_dict(base.state_dict())
        repeats = calls if device.type == "cuda" else 1
        rows[names[0]][str(device)] = median_ms(lambda m=model: encode_gallery(m, "gps", gps), device, repeats)
        predictor = Predictor(model, gps_gallery=gps, device=device)
        rows[names[1]][str(device)] = median_ms(lambda p=predictor: p.predict(one), device, calls)
        rows[names[2]][str(device)] = median_ms(lambda p=predictor: p.predict(many), device, max(1, calls // 5))
    print_table(f"prediction on each device ({describe(devices)})", "ms", rows)
    return rows


def median_seconds(run, calls: int) -> float:
    run()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--reference-calls", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    add_device_argument(parser)
    parser.add_argument("--devices-only", action="store_true", help="Only the per-device table.")
    args = parser.parse_args()
    devices = device_rows(devices_to_compare(args.device), args.calls)
    if args.devices_only:
        if args.json:
            write_json(args.json, {"devices": devices})
        return
    torch.manual_seed(0)
    model = GTLoc().eval()
    gps = load_gps_gallery()
    features = torch.randn(1, model.config.feature_dim)

    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        predictor = Predictor(model, gps_gallery=gps, cache_dir=cache)
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        Predictor(model, gps_gallery=gps, cache_dir=cache)
        cached_setup = time.perf_counter() - t0
    # Same answers: GeoCLIP-style top-5 places equal the Predictor's.
    ref_places, _ = geoclip_predict(model, features, gps)
    same = torch.equal(ref_places, predictor.predict(features, top_k=5, when=False).place_topk)

    ref = median_seconds(lambda: geoclip_predict(model, features, gps), args.reference_calls)
    where = median_seconds(lambda: predictor.predict(features, top_k=5, when=False), args.calls)
    both = median_seconds(lambda: predictor.predict(features, top_k=5), args.calls)
    rows = [
        {"path": "reference: GeoCLIP predict (encode 100k gallery per call)", "ms": 1e3 * ref, "speedup": 1.0},
        {"path": "gtloc Predictor.predict, place only", "ms": 1e3 * where, "speedup": ref / where},
        {"path": "gtloc Predictor.predict, place + time", "ms": 1e3 * both, "speedup": ref / both},
    ]
    print(f"{'path':60} {'ms/image':>10} {'speedup':>9}")
    for r in rows:
        print(f"{r['path']:60} {r['ms']:10.1f} {r['speedup']:8.0f}x")
    print(f"Predictor setup: {setup:.1f} s encoding galleries, {cached_setup:.2f} s from the cache; same top-5: {same}")
    if args.json:
        result = {"rows": rows, "setup_s": setup, "cached_setup_s": cached_setup, "same_top5": same}
        write_json(args.json, {**result, "devices": devices})


if __name__ == "__main__":
    main()
