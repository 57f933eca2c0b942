"""Feature extraction speed: eager torch vs channels_last vs the ONNX Runtime fast path, on the same images.

Generates N photo-like JPEGs with Pillow, then measures images/s for
  * the network alone (preprocessed (B, 3, 224, 224) batches; best of ``--repeats`` passes), and
  * end to end through ``extract_features`` (decode in threads + preprocess + network + shard writing),
side by side in one run, and prints a table with each path's ratio to eager torch.

``--device`` adds, per device side by side (the CPU in fp32 on its fastest path, and the GPU when CUDA is there in
``--precision``): the network alone on random batches, and end to end from the JPEG files on disk through
``extract_features`` (decoding in ``--workers`` processes, pinned memory on CUDA). ``--backbone clip-vit-l-14
--backbone-path DIR`` measures the paper's backbone from a local copy (nothing is downloaded).

    python benchmarks/bench_features.py [--images 128] [--batch-size 32] [--json benchmarks/results/features.json]
    python benchmarks/bench_features.py --devices-only --device auto --backbone clip-vit-l-14 \
        --backbone-path DIR --precision bf16 --images 4096 --batch-size 256 --workers 12
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

from devices import add_device_argument, describe, devices_to_compare, print_table, synchronize
from gtloc.backbones import load_backbone
from gtloc.backbones.efficientnet import EfficientNetLite0Backbone
from gtloc.backbones.extract import extract_features
from gtloc.data.images import load_image
from gtloc.io import write_json


def device_rows(args, folder: Path, names: list[str], out: Path) -> dict[str, dict[str, float]]:
    """images/s per device: the network alone (random batches), and end to end from the JPEG files."""
    devices = devices_to_compare(args.device)
    rows: dict[str, dict[str, float]] = {}
    network = f"network only, {args.backbone}, batch {args.batch_size}"
    files = f"end to end from JPEG files, {args.workers} decoding processes"
    rows[network], rows[files] = {}, {}
    for device in devices:
        precision = args.precision if device.type == "cuda" else "fp32"
        backbone = load_backbone(args.backbone, model_path=args.backbone_path, device=device, precision=precision)
        size = backbone.preprocessing.size
        batch = torch.randn(args.batch_size, 3, size, size)
        if device.type == "cuda":
            batch = batch.pin_memory()
        backbone.encode_images(batch)  # warm-up
        synchronize(device)
        start = time.perf_counter()
        for _ in range(max(1, args.repeats)):
            backbone.encode_images(batch)
        synchronize(device)
        rows[network][f"{device} {precision}"] = args.batch_size * max(1, args.repeats) / (time.perf_counter() - start)
        count = len(names) if device.type == "cuda" else min(len(names), args.cpu_images)
        start = time.perf_counter()
        extract_features(
            names[:count],
            folder,
            backbone,
            out / f"{device.type}-{precision}",
            batch_size=args.batch_size,
            num_workers=args.workers,
            progress=False,
        )
        rows[files][f"{device} {precision}"] = count / (time.perf_counter() - start)
    print_table(f"features on each device ({describe(devices)})", "img/s", rows, lower_is_better=False)
    return rows


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
    add_device_argument(parser)
    parser.add_argument("--devices-only", action="store_true", help="Only the per-device table.")
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--backbone-path", type=Path, default=None)
    parser.add_argument("--precision", default="fp32", help="Precision on the GPU (the CPU column is fp32).")
    parser.add_argument("--workers", type=int, default=4, help="Decoding processes for the device table.")
    parser.add_argument("--cpu-images", type=int, default=64, help="Images the CPU column extracts end to end.")
    args = parser.parse_args()
    if args.devices_only:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "images"
            folder.mkdir()
            names = make_images(folder, args.images)
            write_json(args.json, {"devices": device_rows(args, folder, names, Path(tmp))})
        print(f"\nwrote {args.json}")
        return

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
