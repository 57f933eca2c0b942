"""Baselines: the constant floor is the best constant, random draws from the galleries, classification learns."""

from __future__ import annotations

import numpy as np
import torch

from gtloc.evaluation.baselines import best_constant_time, classification_baseline, geo_medoid, random_baseline
from gtloc.geo import haversine_km
from gtloc.timecode import hour_error, month_error


def _times(months, hours):
    n = len(months)
    return np.stack([months, np.ones(n), hours, np.zeros(n), np.zeros(n)], axis=1).astype(float)


def test_best_constant_time_beats_every_other_constant():
    rng = np.random.default_rng(0)
    times = _times(rng.choice([11, 12, 1, 2], 400), rng.choice([21, 22, 23, 0, 1], 400))
    best = best_constant_time(times)
    assert best[0] in (12, 1) and (best[2] >= 23 or best[2] <= 0)
    cost = month_error(np.tile(best, (400, 1)), times).mean()
    for m in range(1, 13):
        other = best.copy()
        other[0], other[1] = m, 1
        assert cost <= month_error(np.tile(other, (400, 1)), times).mean() + 1e-9
    hour_cost = hour_error(np.tile(best, (400, 1)), times).mean()
    for h in range(24):
        other = best.copy()
        other[2], other[3] = h, 0
        assert hour_cost <= hour_error(np.tile(other, (400, 1)), times).mean() + 1e-9


def test_geo_medoid_sits_in_the_dense_cluster():
    rng = np.random.default_rng(1)
    europe = np.stack([rng.normal(48, 3, 300), rng.normal(5, 5, 300)], axis=1)
    elsewhere = np.stack([rng.uniform(-50, 60, 100), rng.uniform(-180, 180, 100)], axis=1)
    medoid = geo_medoid(np.concatenate([europe, elsewhere]))
    assert haversine_km(medoid, np.array([48.0, 5.0])) < 1000


def test_random_baseline_draws_gallery_entries():
    gps = np.array([[1.0, 2.0], [3.0, 4.0]])
    times = _times([3, 4], [5, 6])
    pred = random_baseline(gps, times, 50, seed=0)
    assert {tuple(r) for r in pred.latlon} <= {tuple(r) for r in gps}
    assert {tuple(r) for r in pred.times} <= {tuple(r) for r in times}


def test_classification_baseline_learns_separable_bins():
    rng = np.random.default_rng(2)
    months, hours = rng.integers(1, 13, 600), rng.integers(0, 24, 600)
    feats = np.concatenate([np.eye(12)[months - 1], np.eye(24)[hours]], axis=1) + rng.normal(0, 0.05, (600, 36))
    feats = torch.tensor(feats, dtype=torch.float32)
    pred = classification_baseline(feats[:500], _times(months[:500], hours[:500]), feats[500:], epochs=40)
    truth = _times(months[500:], hours[500:])
    assert month_error(pred.times, truth).mean() < 0.6
    assert hour_error(pred.times, truth).mean() < 0.8
    assert np.isnan(pred.latlon).all()
