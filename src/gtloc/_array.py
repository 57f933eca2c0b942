"""Tiny helpers so that the time and geo math accept numpy arrays and torch tensors alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

ArrayLike = Any  # np.ndarray | torch.Tensor | float


def is_torch(x: ArrayLike) -> bool:
    return isinstance(x, torch.Tensor)


def as_array(x: ArrayLike) -> ArrayLike:
    """Return a torch tensor unchanged, anything else as a float64 numpy array."""
    return x if is_torch(x) else np.asarray(x, dtype=np.float64)


def xp(x: ArrayLike):
    """The array module (``torch`` or ``numpy``) that ``x`` belongs to."""
    return torch if is_torch(x) else np


def minimum(a: ArrayLike, b: ArrayLike) -> ArrayLike:
    return torch.minimum(a, b) if is_torch(a) else np.minimum(a, b)


def plain(value: Any) -> Any:
    """A numpy or torch scalar as a Python number (so messages read ``13.0``, not ``np.float64(13.0)``)."""
    return value.item() if isinstance(value, (np.generic, torch.Tensor)) and value.ndim == 0 else value


def stack_last(parts: list[ArrayLike]) -> ArrayLike:
    return torch.stack(parts, dim=-1) if is_torch(parts[0]) else np.stack(parts, axis=-1)
