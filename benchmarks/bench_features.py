"""Feature extraction speed: eager torch vs channels_last vs the ONNX Runtime fast path, on the same images.

Generates N photo-like JPEGs with Pillow, then measures images/s for
  * the network alone (preprocessed (B, 3, 224, 224) batches; best of ``--repeats`` passes), and
  * end to end through ``extract_features`` (decode in threads + preprocess + network + shard writing),
side by side in one run, and prints a table with each path's ratio to eager torch.

    python benchmarks/bench_features.py [--images 128] [--batch-size 32] [--json benchmarks/results/features.json]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gtloc.backbones import load_backbone
from gtloc.backbones.efficientnet import EfficientNetLite0Backbone
from gtloc.backbones.extract import extract_features
from gtloc.data.images import load_image
from gtloc.io import write_json


def make_images(folder: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` 640x480 JPEGs: a sky gradient, ground, random shapes and sensor noise."""
    rng = np.random.default_rng(seed)
    names = []
    for i in range(count):
        sky = np.linspace(rng.uniform(80, 200), 255, 480)[:, None, None] * np.array(rng.uniform(0.5, 1.0, 3))
        pixels = np.broadcast_to(sky, (480, 640, 3)).copy()
        pixels[300:] = rng.uniform(30, 160, 3)
        pixels += rng.normal(0, 8, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.integers(0, 600), rng.integers(100, 440)
            draw.rectangle(
                [x, y, x + rng.integers(10, 120), y + rng.integers(10, 120)], fill=tuple(rng.integers(0, 255, 3))
            )
        name = f"img{i:04d}.jpg"
        image.save(folder / name, quality=90)
        names.append(name)
    return names


def images_per_second(
    runs: dict[str, Callable[[torch.Tensor], object]], batches: list[torch.Tensor], repeats: int
) -> dict[str, float]:
    """Best-of-``repeats`` throughput of each run over all ``batches``, passes interleaved across runs.

    Interleaving (eager, then the next path, ... then eager again) spreads any background load evenly.
    """
    for run in runs.values():
        run(batches[0])  # warm-up
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for label, run in runs.items():
            start = time.perf_counter()
            for batch in batches:
                run(batch)
            best[label] = min(best[label], time.perf_counter() - start)
    count = sum(len(b) for b in batches)
    return {label: count / seconds for label, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/features.json"))
    args = parser.parse_args()

    eager = EfficientNetLite0Backbone(fast=False)
    fast = load_backbone("efficientnet-lite0", fast=True)
    if fast.runtime != "onnxruntime":
        raise SystemExit("the ONNX fast path is unavailable here (see the warning above)")
    channels_last = EfficientNetLite0Backbone(fast=False)
    channels_last.features.to(memory_format=torch.channels_last)

    def run_channels_last(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return channels_last.features(batch.contiguous(memory_format=torch.channels_last))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        names = make_images(folder, args.images)
        pixels = torch.stack([eager.preprocess(load_image(folder / n)) for n in names])
        batches = list(pixels.split(args.batch_size))
        with torch.inference_mode():
            difference = (fast.encode_images(pixels[:8]) - eager.encode_images(pixels[:8])).abs().max().item()

        runs = {
            "eager torch": eager.encode_images,
            "eager torch, channels_last": run_channels_last,
            "onnxruntime (fast path)": fast.encode_images,
        }
        network = images_per_second(runs, batches, args.repeats)
        end_to_end = {}
        for label, backbone in (("eager torch", eager), ("onnxruntime (fast path)", fast)):
            start = time.perf_counter()
            extract_features(
                names, folder, backbone, Path(tmp) / label.split()[0], batch_size=args.batch_size, progress=False
            )
            end_to_end[label] = len(names) / (time.perf_counter() - start)

    print(
        f"\nEfficientNet-Lite0 features, {args.images} images 640x480 -> 224, batch {args.batch_size}, "
        f"{torch.get_num_threads()} torch threads, max |onnx - eager| = {difference:.2e}\n"
    )
    print(f"{'stage':<12} {'path':<28} {'images/s':>9} {'vs eager':>9}")
    for stage, table in (("network", network), ("end to end", end_to_end)):
        for path, speed in table.items():
            print(f"{stage:<12} {path:<28} {speed:>9.1f} {speed / table['eager torch']:>8.2f}x")
    result = {
        "benchmark": "feature extraction, efficientnet-lite0",
        "images": args.images,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.platform(),
        "max_abs_diff_onnx_vs_eager": difference,
        "network_images_per_s": network,
        "end_to_end_images_per_s": end_to_end,
        "ratio_onnx_vs_eager": {
            "network": network["onnxruntime (fast path)"] / network["eager torch"],
            "end_to_end": end_to_end["onnxruntime (fast path)"] / end_to_end["eager torch"],
        },
    }
    write_json(args.json, result)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
