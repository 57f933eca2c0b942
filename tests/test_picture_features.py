"""A picture's one backbone feature vector from its crops (the crops' mean), and what compares pictures by it."""

from __future__ import annotations

import pytest
import torch

from gtloc.data.features import picture_features
from gtloc.errors import GtlocError
from gtloc.model.domain import domain_vectors
from gtloc.retrieval.neighbours import NeighbourStore


def _crops(n: int = 6, c: int = 10, d: int = 8) -> torch.Tensor:
    return torch.randn(n, c, d, generator=torch.Generator().manual_seed(0))


def test_ten_crops_become_their_mean_and_one_crop_stays_as_it_is():
    crops = _crops()
    torch.testing.assert_close(picture_features(crops), crops.sum(dim=1) / crops.shape[1])
    one = crops[:, 0]
    assert torch.equal(picture_features(one), one)
    assert picture_features(one.half()).dtype == torch.float32


def test_other_shapes_are_refused_with_the_shape_named():
    with pytest.raises(GtlocError, match=r"\(2, 3, 4, 5\)"):
        picture_features(torch.zeros(2, 3, 4, 5))


def test_the_domain_check_and_the_neighbours_read_ten_crops_as_their_mean():
    crops = _crops()
    mean = picture_features(crops)
    torch.testing.assert_close(domain_vectors(crops), domain_vectors(mean))
    store = NeighbourStore.from_training(crops, torch.rand(6, 5) + 1, torch.rand(6, 2))
    torch.testing.assert_close(store.query(crops), store.query(mean))
