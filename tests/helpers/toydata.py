"""A toy image world for fast end-to-end tests: coloured pictures whose colour encodes place and time,
a tiny deterministic backbone (mean colour statistics) that stands in for a real network, random labels, and a
small training config for both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gtloc.backbones import BACKBONES, BackboneSpec
from gtloc.backbones.base import Backbone
from gtloc.backbones.preprocess import Preprocess
from gtloc.data.schema import Records, write_records
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.data import TrainingData


class ToyBackbone(Backbone):
    """Features = per-channel means and stds over a 4x4 grid of the 32x32 input: ``(B, 96)``."""

    name = "toy"
    feature_dim = 96
    weights_id = "toy-v1"

    def __init__(self) -> None:
        self.preprocessing = Preprocess(
            size=32, resize=32, interpolation="bilinear", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), tencrop_resize=36
        )

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        cells = batch.unfold(2, 8, 8).unfold(3, 8, 8)  # (B, 3, 4, 4, 8, 8)
        means = cells.mean(dim=(-1, -2)).flatten(1)
        stds = cells.std(dim=(-1, -2)).flatten(1)
        return torch.cat([means, stds], dim=1).float()


def register_backbone(monkeypatch, backbone: Backbone) -> list[str | None]:
    """Register ``backbone`` under its name for this test, so that a run trained on it loads it by name like a real
    one (``load_backbone``, ``Predictor.backbone``); returns the ``model_path`` of each load, as it happens."""
    loads: list[str | None] = []

    def load(path, device, fast, precision):
        loads.append(path)
        return backbone

    spec = BackboneSpec(backbone.name, backbone.feature_dim, backbone.preprocessing, "test stand-in", load)
    monkeypatch.setitem(BACKBONES, backbone.name, spec)
    return loads


def toy_records(n: int, seed: int = 0) -> Records:
    """``n`` records with places on land-ish latitudes and times over the year and day."""
    rng = np.random.default_rng(seed)
    latlon = np.stack([rng.uniform(-60, 70, n), rng.uniform(-180, 180, n)], axis=1).round(4)
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    hour = rng.integers(0, 24, n)
    minute = rng.integers(0, 60, n)
    times = np.stack([month, day, hour, minute, np.zeros(n)], axis=1).astype(float)
    return Records(paths=[f"img/{i:04d}.png" for i in range(n)], latlon=latlon, times=times)


def render_toy_world(root: Path, records: Records, seed: int = 0) -> None:
    """Write one 32x32 PNG per record: the sky brightness follows the hour, the ground colour the place and month."""
    rng = np.random.default_rng(seed)
    for path, (lat, lon), t in zip(records.paths, records.latlon, records.times, strict=True):
        day = np.cos((t[2] - 12) / 24 * 2 * np.pi) * 0.5 + 0.5
        season = np.cos((t[0] - 1) / 12 * 2 * np.pi) * np.sign(lat + 1e-9) * 0.5 + 0.5
        img = np.zeros((32, 32, 3))
        img[:16] = [0.2 + 0.7 * day, 0.3 + 0.6 * day, 0.5 + 0.5 * day]
        img[16:] = [(lat + 90) / 180, (lon + 180) / 360, season]
        img += rng.normal(0, 0.02, img.shape)
        out = root / path
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img.clip(0, 1) * 255).astype(np.uint8)).save(out)


def make_toy_dataset(root: Path, n: int, seed: int = 0) -> Path:
    """Render a toy world under ``root`` and write ``root/records.csv``; returns the records path."""
    records = toy_records(n, seed)
    render_toy_world(root, records, seed)
    write_records(records, root / "records.csv")
    return root / "records.csv"


def random_labels(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random places ``(n, 2)`` (latitudes -70..70 degrees) and local times ``(n, 5)``, from ``seed`` alone."""
    return _draw_labels(n, torch.Generator().manual_seed(seed))


def _draw_labels(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    latlon = torch.rand(n, 2, generator=gen) * torch.tensor([140.0, 360.0]) - torch.tensor([70.0, 180.0])
    cols = [(1, 13), (1, 29), (0, 24), (0, 60), (0, 1)]
    times = torch.stack([torch.randint(lo, hi, (n,), generator=gen) for lo, hi in cols], dim=1).float()
    return latlon, times


def random_training_data(n: int = 96, dim: int = 16, seed: int = 0) -> TrainingData:
    """``n`` pictures with random ``(n, dim)`` features and :func:`random_labels`-style places and times."""
    gen = torch.Generator().manual_seed(seed)
    latlon, times = _draw_labels(n, gen)
    return TrainingData(torch.randn(n, dim, generator=gen), latlon, times, "test")


def mini_train_config(**overrides) -> TrainConfig:
    """2 epochs of batches of 12 over a very small model (hidden 32, embeddings 16, RFF 16, queues of 24), for
    :func:`random_training_data`, used as written (``adapt_to_data=False``, as :func:`tiny_train_config`);
    ``overrides`` set any field."""
    model = small_model_config(encoder_hidden_dim=32, image_hidden_dim=32, embed_dim=16, rff_dim=16, queue_size=24)
    values = dict(epochs=2, batch_size=12, warmup_steps=2, checkpoint_every=5, model=model, adapt_to_data=False)
    values.update(overrides)
    return TrainConfig(**values)


def tiny_train_config(**overrides) -> TrainConfig:
    """3 epochs of batches of 32 over a small model (hidden 32, RFF 16, queues of 64); ``overrides`` set any field.

    The config is used as written (``adapt_to_data=False``): tests of the loop's mechanics need a fixed config;
    tests/test_small_data.py covers the adaptation to small training sets.
    """
    model = small_model_config(encoder_hidden_dim=32, image_hidden_dim=32, queue_size=64, rff_dim=16)
    values = dict(epochs=3, batch_size=32, warmup_steps=3, checkpoint_every=5, model=model, adapt_to_data=False)
    values.update(overrides)
    return TrainConfig(**values)
