"""The one rule for a missing label: a row has a label when all its fields are finite (numpy and torch alike)."""

from __future__ import annotations

import numpy as np
import torch

from gtloc.labels import has_label

NAN, INF = float("nan"), float("inf")


def test_a_row_with_any_nan_or_infinite_field_has_no_label():
    latlon = np.array([[48.85, 2.35], [NAN, 2.35], [48.85, NAN], [INF, 0.0], [0.0, 0.0]])
    assert has_label(latlon).tolist() == [True, False, False, False, True]


def test_torch_rows_give_a_torch_mask_equal_to_numpy():
    times = torch.tensor([[7.0, 14, 12, 30, 0], [7, 14, NAN, 30, 0], [NAN] * 5])
    mask = has_label(times)
    assert isinstance(mask, torch.Tensor) and mask.dtype == torch.bool
    assert mask.tolist() == has_label(times.numpy()).tolist() == [True, False, False]


def test_one_row_gives_one_answer():
    assert bool(has_label(torch.tensor([1.0, 2.0])))
    assert not bool(has_label(np.array([1.0, NAN])))
