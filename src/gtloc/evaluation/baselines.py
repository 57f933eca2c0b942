"""Baselines and ablations that train and evaluate on the same cached features as GT-Loc.

Each returns predicted ``latlon`` ``(N, 2)`` and/or ``times`` ``(N, 5)`` (NaN for the half it does not predict), so
that all of them are scored by the same :func:`gtloc.evaluation.protocol.protocol_metrics`.

* ``constant``: the best constant guess fitted on the training labels (the protocol's floor): the month value and
  the hour that minimise the mean cyclic errors, and the training place with the smallest median distance.
* ``random``: a uniformly random entry of the GPS gallery and of the time gallery.
* ``classification``: month (12 bins) and hour (24 bins) heads with cross-entropy on the same features, like the
  earlier time estimators; the predicted bin's centre is the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from gtloc.data.features import picture_features
from gtloc.geo import haversine_km
from gtloc.labels import has_label
from gtloc.timecode import best_constant_time


@dataclass
class BaselinePrediction:
    """``latlon`` ``(N, 2)`` degrees and ``times`` ``(N, 5)`` local time; NaN where the method gives no answer."""

    latlon: np.ndarray
    times: np.ndarray


def _nan(n: int, width: int) -> np.ndarray:
    return np.full((n, width), np.nan)


def geo_medoid(train_latlon: np.ndarray, max_candidates: int = 2000, seed: int = 0) -> np.ndarray:
    """The training place with the smallest median great-circle distance to all training places, ``(2,)``."""
    places = train_latlon[has_label(train_latlon)]
    rng = np.random.default_rng(seed)
    candidates = places[rng.choice(len(places), min(max_candidates, len(places)), replace=False)]
    cost = np.array([np.median(haversine_km(c[None, :], places)) for c in candidates])
    return candidates[int(np.argmin(cost))]


def constant_baseline(train_latlon: np.ndarray, train_times: np.ndarray, n: int) -> BaselinePrediction:
    """The best constant guess for ``n`` test images."""
    return BaselinePrediction(
        latlon=np.tile(geo_medoid(train_latlon), (n, 1)), times=np.tile(best_constant_time(train_times), (n, 1))
    )


def random_baseline(gps_gallery: np.ndarray, time_gallery: np.ndarray, n: int, seed: int = 0) -> BaselinePrediction:
    """A uniformly random gallery entry per test image."""
    rng = np.random.default_rng(seed)
    return BaselinePrediction(
        latlon=gps_gallery[rng.integers(len(gps_gallery), size=n)].astype(float),
        times=time_gallery[rng.integers(len(time_gallery), size=n)].astype(float),
    )


def classification_baseline(
    train_features: torch.Tensor,
    train_times: np.ndarray,
    test_features: torch.Tensor,
    epochs: int = 60,
    hidden_dim: int = 512,
    seed: int = 0,
    progress: bool = False,
) -> BaselinePrediction:
    """Month and hour bins with cross-entropy on standardised features (an MLP with dropout, AdamW);
    ``progress`` shows a bar over the epochs."""
    rows = has_label(train_times)
    x = picture_features(train_features[torch.from_numpy(rows)])
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    month = torch.from_numpy(train_times[rows, 0].astype(np.int64) - 1)
    hour = torch.from_numpy(train_times[rows, 2].astype(np.int64))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(x.shape[1], hidden_dim), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden_dim, 36)
        )
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
        xs = (x - mean) / std
        for _ in tqdm(range(epochs), desc="classification baseline", unit="epoch", disable=not progress):
            for idx in torch.randperm(len(xs)).split(256):
                logits = net(xs[idx])
                loss = nn.functional.cross_entropy(logits[:, :12], month[idx]) + nn.functional.cross_entropy(
                    logits[:, 12:], hour[idx]
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    net.eval()
    with torch.no_grad():
        test = picture_features(test_features)
        logits = net((test - mean) / std)
    m = logits[:, :12].argmax(1).numpy() + 1
    h = logits[:, 12:].argmax(1).numpy()
    n = len(m)
    times = np.stack([m, np.full(n, 16), h, np.full(n, 30), np.zeros(n)], axis=1).astype(float)
    return BaselinePrediction(latlon=_nan(n, 2), times=times)
