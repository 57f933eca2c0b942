"""Tiny helpers so that the time and geo math accept numpy arrays and torch tensors alike.

torch is never imported here: a value can only be a tensor if torch is already loaded, so commands that only
need numpy math (``gtloc ingest``) start without paying for it.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

ArrayLike = Any  # np.ndarray | torch.Tensor | float


def _torch():
    return sys.modules.get("torch")


def is_torch(x: ArrayLike) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def as_array(x: ArrayLike) -> ArrayLike:
    """Return a torch tensor unchanged, anything else as a float64 numpy array."""
    return x if is_torch(x) else np.asarray(x, dtype=np.float64)


def xp(x: ArrayLike):
    """The array module (``torch`` or ``numpy``) that ``x`` belongs to."""
    return _torch() if is_torch(x) else np


def minimum(a: ArrayLike, b: ArrayLike) -> ArrayLike:
    return _torch().minimum(a, b) if is_torch(a) else np.minimum(a, b)


def plain(value: Any) -> Any:
    """A numpy or torch scalar as a Python number (so messages read ``13.0``, not ``np.float64(13.0)``)."""
    return value.item() if (isinstance(value, np.generic) or is_torch(value)) and value.ndim == 0 else value


def stack_last(parts: list[ArrayLike]) -> ArrayLike:
    return _torch().stack(parts, dim=-1) if is_torch(parts[0]) else np.stack(parts, axis=-1)
