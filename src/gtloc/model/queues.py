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
        self._host: tuple[int, int] | None = (0, 0)

    @torch.no_grad()
    def push(self, rows: torch.Tensor) -> None:
        """Append ``(B, dim)`` rows (on any device; copied to the queue's), overwriting the oldest ones when full.

        The write position and fill count are mirrored in Python, so pushing and reading never wait for a GPU.
        """
        if self.capacity == 0 or rows.shape[0] == 0:
            return
        rows = rows.detach()[-self.capacity :].to(self.items.device, self.items.dtype, non_blocking=True)
        n = rows.shape[0]
        start, count = self._position()
        first = min(n, self.capacity - start)
        self.items[start : start + first] = rows[:first]
        self.items[: n - first] = rows[first:]
        self._host = ((start + n) % self.capacity, min(count + n, self.capacity))
        self.ptr.fill_(self._host[0])
        self.count.fill_(self._host[1])

    def contents(self) -> torch.Tensor:
        """The filled rows ``(count, dim)`` (order is storage order; contrastive terms do not depend on it)."""
        return self.items[: self._position()[1]]

    def _position(self) -> tuple[int, int]:
        """``(ptr, count)`` as Python ints: read from the buffers once (after loading), then kept in step."""
        if self._host is None:
            self._host = (int(self.ptr), int(self.count))
        return self._host

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        self._host = None  # loaded buffers: read them again
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
