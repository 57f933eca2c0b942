"""FIFO queues of past labels (GPS coordinates, timestamps) used as extra contrastive negatives."""

from __future__ import annotations

import torch
from torch import nn


class LabelQueue(nn.Module):
    """A first-in first-out ring buffer of ``capacity`` label rows of width ``dim``.

    Buffers (saved with the model): ``items`` ``(capacity, dim)``, ``ptr`` (next write position) and
    ``count`` (rows filled so far, at most ``capacity``). :meth:`push` takes any batch size: it wraps
    around the end, and a batch longer than the capacity keeps only its last ``capacity`` rows.
    """

    def __init__(self, capacity: int, dim: int):
        super().__init__()
        if capacity < 0:
            raise ValueError(f"queue capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self.register_buffer("items", torch.zeros(capacity, dim))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def push(self, rows: torch.Tensor) -> None:
        """Append ``(B, dim)`` rows, overwriting the oldest ones when full."""
        if self.capacity == 0 or rows.shape[0] == 0:
            return
        rows = rows.detach().to(self.items.dtype)[-self.capacity :]
        n = rows.shape[0]
        start = int(self.ptr)
        idx = (torch.arange(n) + start) % self.capacity
        self.items[idx] = rows
        self.ptr.fill_((start + n) % self.capacity)
        self.count.fill_(min(int(self.count) + n, self.capacity))

    def contents(self) -> torch.Tensor:
        """The filled rows ``(count, dim)`` (order is storage order; contrastive terms do not depend on it)."""
        return self.items[: int(self.count)]
