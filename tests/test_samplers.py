"""CameraBalancedSampler: cameras drawn uniformly whatever their sizes, images uniformly within a camera."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from torch.utils.data import DataLoader

from gtloc.data.samplers import CameraBalancedSampler
from gtloc.data.schema import Records
from gtloc.errors import GtlocError


def test_cameras_are_balanced_when_one_has_100x_more_images():
    cameras = ["big"] * 10_000 + ["small"] * 100
    draws = list(CameraBalancedSampler(cameras, num_samples=20_000, seed=3))
    share = Counter(cameras[i] for i in draws)
    assert abs(share["big"] / 20_000 - 0.5) < 0.02
    assert abs(share["small"] / 20_000 - 0.5) < 0.02


def test_images_are_uniform_within_a_camera():
    cameras = ["big"] * 10_000 + ["small"] * 100
    draws = np.array(list(CameraBalancedSampler(cameras, num_samples=20_000, seed=5)))
    small = np.bincount(draws[draws >= 10_000] - 10_000, minlength=100)
    assert small.min() > 50 and small.max() < 160  # about 100 draws each
    assert len(np.unique(draws[draws < 10_000])) > 6_000  # spread over the big camera, not stuck on a few


def test_interleaved_cameras_map_back_to_their_own_images():
    cameras = ["a", "b", "c", "a", "b", "a"]
    draws = list(CameraBalancedSampler(cameras, num_samples=3_000, seed=0))
    assert set(draws) == set(range(6))
    share = Counter(cameras[i] for i in draws)
    assert all(900 < share[c] < 1100 for c in "abc")


def test_deterministic_for_a_seed_and_epoch():
    cameras = [f"cam{i % 7}" for i in range(500)]
    sampler = CameraBalancedSampler(cameras, num_samples=200, seed=11)
    first = list(sampler)
    assert list(sampler) == first and len(sampler) == 200
    assert list(CameraBalancedSampler(cameras, num_samples=200, seed=11)) == first
    assert list(CameraBalancedSampler(cameras, num_samples=200, seed=12)) != first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_works_with_a_dataloader():
    cameras = ["a"] * 30 + ["b"] * 3
    loader = DataLoader(list(range(33)), batch_size=8, sampler=CameraBalancedSampler(cameras, 20, seed=1))
    batches = [b.tolist() for b in loader]
    assert [len(b) for b in batches] == [8, 8, 4]


def test_from_records_uses_the_camera_column():
    records = Records(
        paths=["a.jpg", "b.jpg", "c.jpg"],
        latlon=np.zeros((3, 2)),
        times=np.full((3, 5), np.nan),
        extras={"camera": ["x", "x", "y"]},
    )
    sampler = CameraBalancedSampler.from_records(records, seed=2)
    assert len(sampler) == 3 and sampler.camera_names == ["x", "y"]
    with pytest.raises(GtlocError) as info:
        CameraBalancedSampler.from_records(records, column="webcam")
    assert str(info.value) == "records have no 'webcam' column (extra columns: camera)"


@pytest.mark.parametrize(
    ("cameras", "num_samples", "message"),
    [
        ([], 10, "CameraBalancedSampler: no records (cameras is empty)"),
        (["a"], 0, "CameraBalancedSampler: num_samples must be >= 1, got 0"),
        (["a", "b", "", "a"], 10, "CameraBalancedSampler: record 2 has no camera name"),
    ],
)
def test_bad_input(cameras, num_samples, message):
    with pytest.raises(GtlocError) as info:
        CameraBalancedSampler(cameras, num_samples)
    assert str(info.value) == message
