"""The training set in memory (:class:`TrainingData`, also a test set of the evaluation), read from a records file and
its feature cache; its held-out validation rows; the seeded batches and crops each training step sees."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gtloc.data.samplers import CameraBalancedSampler
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.training.held_out import DataSource
from gtloc.training.validation import validation_rows

if TYPE_CHECKING:
    from gtloc.data.features import FeatureDirs
    from gtloc.training.config import TrainConfig
    from gtloc.training.distributed import DistContext


@dataclass
class TrainingData:
    """In-memory training set. ``features`` ``(N, D)`` or ten-crop ``(N, C, D)``; ``latlon`` ``(N, 2)`` degrees
    and ``times`` ``(N, 5)`` local time, NaN where a label is missing; ``source``: the records file they came
    from (for the model card)."""

    features: torch.Tensor
    latlon: torch.Tensor
    times: torch.Tensor
    backbone: str
    paths: list[str] | None = None
    cameras: list[str] | None = None
    extras: dict[str, list[str]] = field(default_factory=dict)
    source: DataSource | None = None

    def __len__(self) -> int:
        return self.features.shape[0]

    def digests(self) -> dict[str, str]:
        """Content digests of the ``records`` (paths and labels) and the ``features``: a resumed run must see the
        same data it started with."""

        def digest(*parts: bytes) -> str:
            h = hashlib.blake2b(digest_size=16)
            for part in parts:
                h.update(part)
            return h.hexdigest()

        paths = "\n".join(self.paths or []).encode()
        labels = torch.cat([self.latlon.float().flatten(), self.times.float().flatten()]).nan_to_num(-999.0)
        return {
            "records": digest(paths, labels.numpy().tobytes()),
            "features": digest(self.features.float().contiguous().numpy().tobytes()),
        }

    def subset(self, rows: np.ndarray) -> TrainingData:
        """The rows ``rows`` (integer positions or a boolean mask) of this set."""
        pick = np.arange(len(self))[rows].tolist()
        idx = torch.tensor(pick, dtype=torch.long)
        return TrainingData(
            features=self.features[idx],
            latlon=self.latlon[idx],
            times=self.times[idx],
            backbone=self.backbone,
            paths=None if self.paths is None else [self.paths[i] for i in pick],
            cameras=None if self.cameras is None else [self.cameras[i] for i in pick],
            extras={k: [v[i] for i in pick] for k, v in self.extras.items()},
            source=self.source,
        )


def load_training_data(features_dir: FeatureDirs, records_path: str | Path, log=print) -> TrainingData:
    """The rows of ``records_path`` with their cached features from ``features_dir``, looked up by ``path``.

    ``features_dir``: one feature directory, or a list of them (e.g. the directories of sharded workers).

    Rows whose image failed to decode during feature extraction are skipped with a message; any other row
    without cached features is an error naming it.
    """
    from gtloc.data.features import FeatureStore
    from gtloc.data.schema import load_records

    records = load_records(records_path)
    store = FeatureStore.open(features_dir)
    failed = store.failed
    keep = [i for i, path in enumerate(records.paths) if path not in failed]
    if len(keep) < len(records):
        dropped = len(records) - len(keep)
        log(f"skipping {dropped} records whose images failed to decode (see failed.csv in {_named(features_dir)})")
        records = records.subset(keep)
    if len(records) == 0:
        raise GtlocError(f"{records_path}: no records with features to use")
    return TrainingData(
        features=store.load(records.paths).float(),
        latlon=torch.from_numpy(records.latlon.astype(np.float32)),
        times=torch.from_numpy(records.times.astype(np.float32)),
        backbone=store.backbone,
        paths=list(records.paths),
        cameras=records.extras.get("camera"),
        extras=dict(records.extras),
        source=DataSource.of(records_path),
    )


def _named(features_dir: FeatureDirs) -> str:
    return str(features_dir) if isinstance(features_dir, str | os.PathLike) else ", ".join(map(str, features_dir))


def split_validation(
    data: TrainingData, config: TrainConfig, ctx: DistContext | None
) -> tuple[TrainingData, TrainingData | None]:
    """The training rows and the held-out validation rows (``None`` without ``val_split`` / ``val_group``)."""
    if not config.val_split and config.val_group is None:
        return data, None
    if ctx is not None:
        raise ParameterError(Param("val_split"), " / ", Param("val_group"), " run in a single process only")
    groups = None
    if config.val_group is not None:
        if config.val_group not in data.extras:
            columns = ", ".join(sorted(data.extras)) or "none"
            raise ParameterError(
                Param("val_group"), f" {config.val_group!r} is not a column of the training records (extra: {columns})"
            )
        groups = data.extras[config.val_group]
    held = validation_rows(len(data), config.seed, config.val_split, groups)
    return data.subset(~held), data.subset(held)


class Batches:
    """Deterministic batches: a seeded order per epoch, so a resumed run sees the same batches.

    The order is a permutation, or with ``cameras`` a :class:`CameraBalancedSampler` draw of the same length.
    """

    def __init__(self, n: int, batch_size: int, seed: int, cameras: list[str] | None = None):
        self.n, self.seed = n, seed
        self.batch_size = min(batch_size, n)
        self.per_epoch = n // self.batch_size
        self._sampler = None if cameras is None else CameraBalancedSampler(cameras, n, seed)
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    @classmethod
    def of(cls, data: TrainingData, config: TrainConfig) -> Batches:
        """The batches of ``data`` under ``config`` (its ``batch_size``, ``seed`` and ``sampler``)."""
        if config.sampler != "camera":
            return cls(len(data), config.batch_size, config.seed)
        if data.cameras is None:
            raise GtlocError("sampler 'camera' needs a camera column in the training records")
        return cls(len(data), config.batch_size, config.seed, data.cameras)

    def indices(self, step: int) -> torch.Tensor:
        epoch, b = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            if self._sampler is None:
                gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
                self._perm = torch.randperm(self.n, generator=gen)
            else:
                self._sampler.set_epoch(epoch)
                self._perm = torch.tensor(list(self._sampler), dtype=torch.long)
            self._epoch = epoch
        return self._perm[b * self.batch_size : (b + 1) * self.batch_size]


def pick_crops(features: torch.Tensor, step: int, seed: int) -> torch.Tensor:
    """Ten-crop features ``(B, C, D)`` -> one random crop per sample ``(B, D)`` (test-time views as augmentation)."""
    if features.dim() == 2:
        return features
    gen = torch.Generator().manual_seed(seed * 7919 + step)
    crop = torch.randint(features.shape[1], (features.shape[0],), generator=gen)
    return features[torch.arange(features.shape[0]), crop]
