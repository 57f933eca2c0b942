"""Samplers over records. :class:`CameraBalancedSampler`: pick a camera uniformly, then one of its images.

GT-Loc trains on SkyFinder this way so that a webcam with 100x more frames than another does not dominate
the time labels. Sampling is with replacement; an epoch is ``num_samples`` draws.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

from gtloc.data.schema import Records
from gtloc.errors import GtlocError


class CameraBalancedSampler(Sampler[int]):
    """Draw ``num_samples`` record indices: a camera uniformly at random, then an image of it uniformly.

    ``cameras``: one camera name per record (N strings, none empty). The draws depend only on ``seed``,
    the epoch (:meth:`set_epoch`) and the set of cameras, so every process of a run sees the same order.
    """

    def __init__(self, cameras: Sequence[str], num_samples: int, seed: int = 0) -> None:
        if len(cameras) == 0:
            raise GtlocError("CameraBalancedSampler: no records (cameras is empty)")
        if num_samples < 1:
            raise GtlocError(f"CameraBalancedSampler: num_samples must be >= 1, got {num_samples}")
        empty = next((i for i, c in enumerate(cameras) if not c), None)
        if empty is not None:
            raise GtlocError(f"CameraBalancedSampler: record {empty} has no camera name")
        names, camera_of = np.unique(np.asarray(cameras, dtype=object).astype(str), return_inverse=True)
        order = np.argsort(camera_of, kind="stable")
        counts = np.bincount(camera_of, minlength=len(names))
        self.camera_names: list[str] = [str(n) for n in names]
        self._members = torch.as_tensor(order, dtype=torch.long)
        self._starts = torch.as_tensor(np.concatenate([[0], np.cumsum(counts)[:-1]]), dtype=torch.long)
        self._counts = torch.as_tensor(counts, dtype=torch.long)
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.epoch = 0

    @classmethod
    def from_records(
        cls, records: Records, num_samples: int | None = None, seed: int = 0, column: str = "camera"
    ) -> CameraBalancedSampler:
        """A sampler over ``records`` using its ``column`` extra; ``num_samples`` defaults to ``len(records)``."""
        if column not in records.extras:
            available = ", ".join(records.extras) or "none"
            raise GtlocError(f"records have no {column!r} column (extra columns: {available})")
        return cls(records.extras[column], num_samples or len(records), seed)

    def set_epoch(self, epoch: int) -> None:
        """Use a different (but deterministic) draw for each epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        camera = torch.randint(len(self._counts), (self.num_samples,), generator=generator)
        offset = (torch.rand(self.num_samples, generator=generator, dtype=torch.float64) * self._counts[camera]).long()
        offset = torch.minimum(offset, self._counts[camera] - 1)
        yield from self._members[self._starts[camera] + offset].tolist()
