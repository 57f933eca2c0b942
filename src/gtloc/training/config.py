"""Training hyper-parameters: one dataclass, read from and written to YAML. The run directory keeps a copy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gtloc.errors import GtlocError
from gtloc.io import atomic_write_text
from gtloc.model.config import GalleryConfig, GTLocConfig, from_mapping
from gtloc.model.losses import LossWeights

TRAIN_PRECISIONS = ("fp32", "bf16")


# Validation metrics that can pick the saved step (gtloc.training.validation), and "last": the last step.
SELECT = ("hour", "month", "geo", "loss", "last")


@dataclass
class TrainConfig:
    """Every hyper-parameter of a training run.

    ``warmup_steps`` of linear warm-up, then cosine decay to ``lr * min_lr_ratio`` at the last step.
    ``tau``: temperature of the toroidal soft time targets (0 = hard InfoNCE targets).
    ``checkpoint_every``: steps between resumable checkpoints (a kill loses at most this many steps).
    ``sampler``: ``"shuffle"`` (each record once per epoch) or ``"camera"`` (pick a camera, then one of its
    images, from the records' ``camera`` column: webcam archives where a few cameras hold most pictures).
    ``adapt_to_data``: fit the run to its training set (:mod:`gtloc.training.small_data`): label queues no longer
    than the distinct labels, warm-up at most a tenth of the steps, and below ``SMALL_DATA_N`` pictures a narrow,
    strongly regularised model. The resolved values are what ``train_config.yaml`` records.
    ``val_split`` / ``val_group``: hold out a random fraction of the rows / whole groups of a records column
    (e.g. ``camera``; with ``val_split`` > 0 groups are added until that fraction is held out), scored every
    ``val_every`` steps (0: once per epoch); the step with the best ``select`` metric (``hour``, ``month``, ``geo``
    or ``loss``) is the run's model (``last``: the last step is, the held-out rows only fit calibration);
    ``patience`` > 0 stops after that many validations without improvement
    (:mod:`gtloc.training.validation`). ``refit``: then train again on all the rows (held-out ones too) with the
    same settings, keeping the calibration and validation metrics of the held-out rows
    (:mod:`gtloc.training.refit`; needs held-out rows and ``select: last``).
    ``queue_grad``: ``False`` encodes the label queues without gradient (MoCo-style constant negatives; about
    3x faster steps at the paper's sizes, see docs/scale.md); ``True`` is the exact objective.
    ``log_every``: steps per line of ``log.jsonl`` (each line holds the terms' means over its steps; the device
    waits for the host only then, so on a GPU use tens of steps); not part of the run's identity.
    ``precision``: ``"fp32"`` or ``"bf16"`` (autocast of the forward pass; on the CPU too). Its effect on the losses
    is measured in docs/scale.md.
    """

    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    min_lr_ratio: float = 0.01
    grad_clip: float = 1.0
    tau: float = 0.3
    use_queues: bool = True
    queue_grad: bool = True
    loss_weights: LossWeights = field(default_factory=LossWeights)
    checkpoint_every: int = 50
    sampler: str = "shuffle"
    adapt_to_data: bool = True
    val_split: float = 0.0
    val_group: str | None = None
    val_every: int = 0
    select: str = "hour"
    patience: int = 0
    refit: bool = False
    log_every: int = 1
    precision: str = "fp32"
    seed: int = 0
    model: GTLocConfig = field(default_factory=GTLocConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, what: str = "training config") -> TrainConfig:
        """The config in ``data``, every field (also of ``loss_weights`` and ``model``) type- and range-checked."""
        return from_mapping(cls, dict(data or {}), what)

    def validate(self) -> str:
        """The first out-of-range field as ``"name: why"``, or "" when all are in range."""
        checks = [
            (self.epochs >= 1, f"epochs: must be >= 1, got {self.epochs}"),
            (self.batch_size >= 2, f"batch_size: must be >= 2 (contrastive needs negatives), got {self.batch_size}"),
            (self.lr > 0, f"lr: must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"weight_decay: must be >= 0, got {self.weight_decay}"),
            (self.warmup_steps >= 0, f"warmup_steps: must be >= 0, got {self.warmup_steps}"),
            (self.grad_clip > 0, f"grad_clip: must be > 0, got {self.grad_clip}"),
            (self.tau >= 0, f"tau: must be >= 0, got {self.tau}"),
            (self.checkpoint_every >= 1, f"checkpoint_every: must be >= 1, got {self.checkpoint_every}"),
            (self.log_every >= 1, f"log_every: must be >= 1, got {self.log_every}"),
            (self.precision in TRAIN_PRECISIONS, f"precision: must be 'fp32' or 'bf16', got {self.precision!r}"),
            (0 <= self.min_lr_ratio <= 1, f"min_lr_ratio: must be in [0, 1], got {self.min_lr_ratio}"),
            (self.sampler in ("shuffle", "camera"), f"sampler: must be 'shuffle' or 'camera', got {self.sampler!r}"),
            (0 <= self.val_split < 1, f"val_split: must be in [0, 1), got {self.val_split}"),
            (self.val_every >= 0, f"val_every: must be >= 0, got {self.val_every}"),
            (self.patience >= 0, f"patience: must be >= 0, got {self.patience}"),
            (
                not (self.patience and self.select == "last"),
                f"patience: early stopping needs a select metric ({', '.join(SELECT[:-1])}), not last",
            ),
            (
                not self.refit or ((self.val_split > 0 or self.val_group is not None) and self.select == "last"),
                "refit: training again on all rows needs held-out rows (val_split or val_group) and select: last",
            ),
            (
                self.select in SELECT,
                f"select: must be {', '.join(SELECT[:-1])} or {SELECT[-1]}, got {self.select!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                return message
        problem = self.model.validate()
        return f"model.{problem}" if problem else ""


def load_train_config(path: str | Path | None) -> TrainConfig:
    """Read a YAML (or JSON) training config; ``None`` gives the defaults."""
    if path is None:
        return TrainConfig()
    path = Path(path)
    if not path.is_file():
        raise GtlocError(f"training config {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise GtlocError(f"{path}: {where}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if data is not None and not isinstance(data, dict):
        raise GtlocError(f"{path}: a training config must be a mapping of keys to values")
    try:
        return TrainConfig.from_dict(data or {})
    except GtlocError as exc:
        raise GtlocError(f"{path}: {exc}") from None


def train_config_yaml(config: TrainConfig) -> str:
    """The config as YAML text, every field in declaration order (what :func:`load_train_config` reads back)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


def save_train_config(config: TrainConfig, path: str | Path) -> None:
    """Write the config as YAML, atomically."""
    atomic_write_text(path, train_config_yaml(config))


def small_model_config(**overrides: Any) -> GTLocConfig:
    """A model a few times smaller than the paper's (hidden 256, queue 1024): fits CPU training in minutes."""
    values: dict[str, Any] = {
        "encoder_hidden_dim": 256,
        "image_hidden_dim": 512,
        "queue_size": 1024,
        "gallery": GalleryConfig(),
    }
    values.update(overrides)
    return GTLocConfig(**values)
