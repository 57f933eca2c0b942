"""Training steps/s: the plain loop that re-encodes both full queues with gradient vs gtloc's ``queue_grad=False``.

Both loops run the same batches on identical copies of the model with full queues (steady state); each step is
timed and the median reported. The first step's loss values are compared (same weights, so they must agree to
float rounding). ``--metrics`` also trains a small model both ways on a synthetic task with informative features
and reports held-out geo / time errors, the effect of the approximation.

``--device`` adds the paper-size training step (features 768, batch 512, full queues of 4,096, exact loss) in fp32
and bf16 on the CPU and, when CUDA is there, on the GPU, side by side (steps timed back to back, one wait for the
GPU at the end, as the training loop runs with ``log_every`` > 1). ``--precision-effect`` trains the small model
in fp32 and in bf16 autocast (on the CPU) and reports the losses and held-out errors of both.

    python benchmarks/bench_train.py [--size small|paper] [--steps 6] [--metrics] [--json ...]
    python benchmarks/bench_train.py --device auto --device-steps 20 --precision-effect
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from devices import add_device_argument, describe, devices_to_compare, print_table, synchronize
from gtloc.device import autocast
from gtloc.geo import haversine_km
from gtloc.inference.predictor import Predictor
from gtloc.io import write_json
from gtloc.model.config import GTLocConfig
from gtloc.model.gtloc import GTLoc
from gtloc.model.losses import GTLocLoss
from gtloc.retrieval.galleries import time_grid
from gtloc.timecode import hour_error, month_error
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.data import TrainingData
from gtloc.training.loop import train
from gtloc.training.objective import Objective
from reference import plain_train_step

SIZES = {
    "small": (lambda: small_model_config(feature_dim=768), 128),
    "paper": (lambda: GTLocConfig(feature_dim=768), 256),
}


def synthetic(n: int, feature_dim: int, seed: int) -> TrainingData:
    """Labels uniform on land-ish latitudes and the calendar; features a noisy random projection of the labels."""
    gen = torch.Generator().manual_seed(seed)
    latlon = torch.rand(n, 2, generator=gen) * torch.tensor([120.0, 360.0]) - torch.tensor([60.0, 180.0])
    cols = [(1, 13), (1, 29), (0, 24), (0, 60), (0, 1)]
    times = torch.stack([torch.randint(lo, hi, (n,), generator=gen) for lo, hi in cols], dim=1).float()
    lat, lon = torch.deg2rad(latlon).T
    month, hour = 2 * torch.pi * (times[:, 0] - 1) / 12, 2 * torch.pi * times[:, 2] / 24
    signal = torch.stack(
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin(), month.cos(), month.sin(), hour.cos(), hour.sin()], 1
    )
    proj = torch.randn(7, feature_dim, generator=torch.Generator().manual_seed(123))
    features = signal @ proj + 0.3 * torch.randn(n, feature_dim, generator=gen)
    return TrainingData(features, latlon, times, "synthetic")


def step_times(config: GTLocConfig, batch: int, steps: int) -> dict:
    data = synthetic(batch * (steps + 1 + config.queue_size // batch), config.feature_dim, 0)
    torch.manual_seed(0)
    base = GTLoc(config).train()
    for start in range(0, config.queue_size, batch):  # full queues, as in steady state
        base.enqueue(data.latlon[start : start + batch], data.times[start : start + batch])
    offset = config.queue_size
    models = {"reference": base, "gtloc": copy.deepcopy(base)}
    optims = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, m in models.items()}
    fast_loss = Objective(models["gtloc"], GTLocLoss(), queue_grad=False)
    times: dict[str, list[float]] = {k: [] for k in models}
    first: dict[str, float] = {}
    for step in range(steps):
        sl = slice(offset + step * batch, offset + (step + 1) * batch)
        f, ll, tt = data.features[sl], data.latlon[sl], data.times[sl]
        t0 = time.perf_counter()
        loss_ref = plain_train_step(models["reference"], optims["reference"], f, ll, tt)
        times["reference"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        terms = fast_loss(f, ll, tt)
        optims["gtloc"].zero_grad(set_to_none=True)
        terms["loss"].backward()
        optims["gtloc"].step()
        models["gtloc"].enqueue(ll, tt)
        times["gtloc"].append(time.perf_counter() - t0)
        if step == 0:
            first = {"reference": loss_ref, "gtloc": float(terms["loss"].detach())}
    med = {k: statistics.median(v[1:] if len(v) > 2 else v) for k, v in times.items()}
    return {"seconds_per_step": med, "speedup": med["reference"] / med["gtloc"], "first_loss": first}


def paper_step_ms(device: torch.device, precision: str, steps: int) -> float:
    """Mean ms per paper-size training step (768-d features, batch 512, full queues of 4,096, exact objective)."""
    config, batch = GTLocConfig(feature_dim=768), 512
    data = synthetic(batch * (steps + 2) + config.queue_size, config.feature_dim, 0)
    torch.manual_seed(0)
    model = GTLoc(config).train().to(device)
    for start in range(0, config.queue_size, batch):
        model.enqueue(data.latlon[start : start + batch], data.times[start : start + batch])
    objective = Objective(model, GTLocLoss(), queue_grad=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    offset = config.queue_size

    def step(i: int) -> None:
        rows = slice(offset + i * batch, offset + (i + 1) * batch)
        latlon, times = data.latlon[rows], data.times[rows]
        with autocast(device, precision):
            terms = objective(*(t.to(device, non_blocking=True) for t in (data.features[rows], latlon, times)))
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        model.enqueue(latlon, times)

    step(0)
    step(1)
    synchronize(device)
    start = time.perf_counter()
    for i in range(2, steps + 2):
        step(i)
    synchronize(device)
    return 1e3 * (time.perf_counter() - start) / steps


def device_steps(devices: list[torch.device], steps: int) -> dict:
    rows: dict[str, dict[str, float]] = {}
    for precision in ("fp32", "bf16"):
        name = f"paper step (768, batch 512, queues 4096, exact), {precision}"
        rows[name] = {str(d): paper_step_ms(d, precision, steps if d.type == "cuda" else 3) for d in devices}
    print_table(f"training step on each device ({describe(devices)})", "ms", rows)
    return rows


def precision_effect(epochs: int) -> dict:
    """The small model trained in fp32 and in bf16 autocast on the CPU: last losses and held-out errors."""
    train_data, test = synthetic(3000, 256, 1), synthetic(500, 256, 2)
    model = small_model_config(feature_dim=256, queue_size=512)
    out = {}
    for precision in ("fp32", "bf16"):
        config = TrainConfig(epochs=epochs, batch_size=128, warmup_steps=10, precision=precision, model=model)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            trained = train(train_data, Path(tmp) / "run", config, device="cpu", progress=False)
            seconds = time.perf_counter() - t0
            log = [json.loads(line) for line in (Path(tmp) / "run" / "log.jsonl").read_text().splitlines()]
        gallery = torch.cat([train_data.latlon, test.latlon])
        predictor = Predictor(trained, gps_gallery=gallery, time_gallery=time_grid(), device="cpu")
        pred = predictor.predict(test.features, top_k=1)
        out[precision] = {
            "train_s": seconds,
            "first_loss": log[0]["loss"],
            "last_epoch_loss": statistics.mean(r["loss"] for r in log[-(3000 // 128) :]),
            "median_km": float(haversine_km(pred.latlon, test.latlon).median()),
            "month_error": float(month_error(pred.time_bayes, test.times).mean()),
            "hour_error": float(hour_error(pred.time_bayes, test.times).mean()),
        }
    print(f"\nbf16 autocast vs fp32 on the CPU (small model, synthetic task, {epochs} epochs)")
    print(
        f"{'precision':10} {'train s':>8} {'first loss':>11} {'last-epoch loss':>16} {'median km':>10} "
        f"{'month':>6} {'hour':>6}"
    )
    for name, m in out.items():
        print(
            f"{name:10} {m['train_s']:8.1f} {m['first_loss']:11.4f} {m['last_epoch_loss']:16.4f} "
            f"{m['median_km']:10.0f} {m['month_error']:6.2f} {m['hour_error']:6.2f}"
        )
    return out


def metrics_effect(epochs: int) -> dict:
    train_data, test = synthetic(3000, 256, 1), synthetic(500, 256, 2)
    model = small_model_config(feature_dim=256, queue_size=512)
    out = {}
    for queue_grad in (True, False):
        config = TrainConfig(epochs=epochs, batch_size=128, warmup_steps=10, queue_grad=queue_grad, model=model)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            trained = train(train_data, Path(tmp) / "run", config, progress=False)
            seconds = time.perf_counter() - t0
        gallery = torch.cat([train_data.latlon, test.latlon])
        pred = Predictor(trained, gps_gallery=gallery, time_gallery=time_grid()).predict(test.features, top_k=1)
        out["exact" if queue_grad else "queue_grad=False"] = {
            "train_s": seconds,
            "median_km": float(haversine_km(pred.latlon, test.latlon).median()),
            "month_error": float(month_error(pred.time_bayes, test.times).mean()),
            "hour_error": float(hour_error(pred.time_bayes, test.times).mean()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--metrics", action="store_true")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    add_device_argument(parser)
    parser.add_argument("--device-steps", type=int, default=20, help="Timed GPU steps (the CPU times 3).")
    parser.add_argument("--no-queue-grad-table", action="store_true", help="Skip the reference-vs-gtloc table.")
    parser.add_argument("--precision-effect", action="store_true")
    args = parser.parse_args()
    result: dict = {"devices": device_steps(devices_to_compare(args.device), args.device_steps)}
    if args.precision_effect:
        result["precision_effect"] = precision_effect(args.epochs)
    if args.no_queue_grad_table:
        if args.json:
            write_json(args.json, result)
        return
    make_config, batch = SIZES[args.size]
    config = make_config()
    result.update(size=args.size, batch=batch, queue=config.queue_size, **step_times(config, batch, args.steps))
    sec = result["seconds_per_step"]
    print(f"{args.size} model (hidden {config.encoder_hidden_dim}, batch {batch}, queues {config.queue_size})")
    print(f"{'path':55} {'s/step':>8} {'steps/s':>8} {'speedup':>8}")
    print(
        f"{'reference: plain loop, queues re-encoded with gradient':55} {sec['reference']:8.3f} "
        f"{1 / sec['reference']:8.2f} {1:7.2f}x"
    )
    print(
        f"{'gtloc: queue_grad=False (queues without autograd)':55} {sec['gtloc']:8.3f} "
        f"{1 / sec['gtloc']:8.2f} {result['speedup']:7.2f}x"
    )
    print(
        f"first-step loss (same weights): reference {result['first_loss']['reference']:.6f}, "
        f"gtloc {result['first_loss']['gtloc']:.6f}"
    )
    if args.metrics:
        result["metrics"] = metrics_effect(args.epochs)
        print(f"{'held-out metrics':20} {'train s':>8} {'median km':>10} {'month err':>10} {'hour err':>9}")
        for name, m in result["metrics"].items():
            print(
                f"{name:20} {m['train_s']:8.1f} {m['median_km']:10.0f} {m['month_error']:10.2f} {m['hour_error']:9.2f}"
            )
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
