"""Galleries: the shipped MP-16 list, the time grid, galleries from files, and the encoded-once cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gtloc.data.schema import Records, write_records
from gtloc.errors import GtlocError
from gtloc.geo import InvalidCoordinateError
from gtloc.model.config import GalleryConfig
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.galleries import (
    build_gps_gallery,
    build_time_gallery,
    encode_gallery,
    load_gps_gallery,
    load_time_gallery_npy,
    time_gallery_from_records,
    time_grid,
)
from gtloc.timecode import InvalidTimeError
from helpers.world import tiny_config


def tiny_model(seed: int = 0) -> GTLoc:
    return GTLoc(tiny_config(feature_dim=8, seed=seed))


def test_mp16_gallery_is_the_shipped_100k_list():
    gallery = load_gps_gallery()
    assert gallery.shape == (100_000, 2) and gallery.dtype == torch.float32
    assert torch.allclose(gallery[0], torch.tensor([-50.943392, -72.935664]))
    assert gallery[:, 0].abs().max() <= 90 and gallery[:, 1].abs().max() <= 180


def test_time_grid_is_regular_and_gives_every_month_the_same_weight():
    grid = time_grid(7, 30)
    assert grid.shape == (12 * 4 * 48, 5)
    assert torch.equal(torch.bincount(grid[:, 0].long())[1:], torch.full((12,), 4 * 48))
    assert torch.equal(torch.bincount(grid[:, 2].long()), torch.full((24,), 12 * 4 * 2))
    assert set(grid[grid[:, 0] == 2][:, 1].tolist()) == {1, 8, 15, 22}
    daily = time_grid(1, 60)
    assert len(torch.unique(daily, dim=0)) == len(daily) == (11 * 30 + 28) * 24
    with pytest.raises(GtlocError, match="time grid steps must be >= 1"):
        time_grid(0, 30)


def test_time_gallery_from_records_keeps_distinct_times(tmp_path):
    times = np.array([[1, 1, 5, 0, 0], [1, 1, 5, 0, 0], [7, 3, 12, 30, 0], [np.nan] * 5])
    records = Records(paths=["a", "b", "c", "d"], latlon=np.zeros((4, 2)), times=times)
    gallery = time_gallery_from_records(records)
    assert gallery.tolist() == [[1, 1, 5, 0, 0], [7, 3, 12, 30, 0]]
    write_records(records, tmp_path / "r.csv")
    assert build_time_gallery(GalleryConfig(time=str(tmp_path / "r.csv"))).shape == (2, 5)


def test_time_gallery_npy_is_validated(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.array([[12, 31, 23, 59, 0], [2, 29, 0, 0, 0]], dtype=np.float32))
    assert load_time_gallery_npy(good).shape == (2, 5)
    assert build_time_gallery(GalleryConfig(time=str(good))).shape == (2, 5)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([[13, 1, 0, 0, 0]]))
    with pytest.raises(InvalidTimeError, match=r"bad\.npy: row 0: invalid month 13") as info:
        load_time_gallery_npy(bad)
    assert (info.value.field, info.value.where) == ("month", f"{bad}: row 0")
    np.save(bad, np.zeros((3, 4)))
    with pytest.raises(GtlocError, match=r"must have shape \(T, 5\)"):
        load_time_gallery_npy(bad)


def test_gps_gallery_from_a_csv(tmp_path):
    path = tmp_path / "places.csv"
    path.write_text("LAT,LON\n48.85,2.35\n-33.87,151.21\n")
    assert torch.allclose(build_gps_gallery(str(path)), torch.tensor([[48.85, 2.35], [-33.87, 151.21]]))
    path.write_text("lat,lon\n48.85,2.35\n123,0\n")
    with pytest.raises(
        InvalidCoordinateError, match=r"places\.csv line 3: invalid lat '123': must be within \[-90, 90\]"
    ):
        build_gps_gallery(str(path))
    path.write_text("x,y\n1,2\n")
    with pytest.raises(GtlocError, match="needs lat and lon columns"):
        build_gps_gallery(str(path))


def test_encoded_gallery_is_cached_per_model_and_labels(tmp_path):
    model = tiny_model()
    labels = time_grid(30, 120)
    first = encode_gallery(model, "time", labels, tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert torch.allclose(first.embeddings.norm(dim=1), torch.ones(len(labels)), atol=1e-5)
    assert torch.equal(encode_gallery(model, "time", labels, tmp_path).embeddings, first.embeddings)
    assert len(list(tmp_path.iterdir())) == 1
    other = tiny_model(seed=1)
    encode_gallery(other, "time", labels, tmp_path)
    encode_gallery(model, "time", labels[:10], tmp_path)
    assert len(list(tmp_path.iterdir())) == 3
    with torch.no_grad():
        model.time_encoder.TimeEnc0.head[0].bias.add_(1.0)
    changed = encode_gallery(model, "time", labels, tmp_path)
    assert not torch.allclose(changed.embeddings, first.embeddings)
