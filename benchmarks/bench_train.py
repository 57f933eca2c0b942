"""Training steps/s: the plain loop that re-encodes both full queues with gradient vs gtloc's ``queue_grad=False``.

Both loops run the same batches on identical copies of the model with full queues (steady state); each step is
timed and the median reported. The first step's loss values are compared (same weights, so they must agree to
float rounding). ``--metrics`` also trains a small model both ways on a synthetic task with informative features
and reports held-out geo / time errors, the effect of the approximation.

    python benchmarks/bench_train.py [--size small|paper] [--steps 6] [--metrics] [--json ...]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch

from gtloc.geo import haversine_km
from gtloc.inference.predictor import Predictor
from gtloc.io import write_json
from gtloc.model.config import GTLocConfig
from gtloc.model.gtloc import GTLoc
from gtloc.model.losses import GTLocLoss
from gtloc.retrieval.galleries import time_grid
from gtloc.timecode import hour_error, month_error
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.loop import TrainingData, train
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
    args = parser.parse_args()
    make_config, batch = SIZES[args.size]
    config = make_config()
    result = {"size": args.size, "batch": batch, "queue": config.queue_size, **step_times(config, batch, args.steps)}
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
