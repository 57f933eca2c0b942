"""A run's identity and what resuming it checks: the config a run uses (the saved one when resuming; another is
refused), the digest of that config and of the data, the step its checkpoint restores, and whether it finished."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import torch

from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.model.card import ModelCard
from gtloc.model.gtloc import GTLoc
from gtloc.training.checkpoint import (
    LOG_FILE,
    MODEL_WEIGHTS_FILE,
    TRAIN_CONFIG_FILE,
    TRAINING_STATE_FILE,
    load_training_state,
)
from gtloc.training.config import TrainConfig, load_train_config
from gtloc.training.data import TrainingData
from gtloc.training.run_log import truncate_log
from gtloc.training.small_data import adapt_config, distinct_labels, small_data_validation

# Fields that do not change what is computed: a run resumed with another value is the same run.
NOT_DIGESTED = ("log_every",)


def _non_default(obj: object) -> dict:
    """The fields of a (nested) config dataclass that differ from their defaults."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            nested = _non_default(value)
            if nested:
                out[f.name] = nested
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if value != default:
            out[f.name] = value
    return out


def config_digest(config: TrainConfig) -> str:
    """A digest of what a config sets; a field added later with a default does not change old runs' digests.

    The device is no part of it (a run trained on a GPU resumes on the CPU and back), nor is ``log_every``."""
    settings = {k: v for k, v in _non_default(config).items() if k not in NOT_DIGESTED}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=list).encode()).hexdigest()[:16]


def resolve_config(out_dir: Path, config: TrainConfig | None, resume: bool, data: TrainingData) -> TrainConfig:
    """The run's config: the one saved in ``out_dir`` when resuming (a different one is refused), else ``config``.

    The model's ``backbone`` and ``feature_dim`` always come from the training features.
    """
    if config is not None:
        config = _with_features(config, data)
    saved_path = out_dir / TRAIN_CONFIG_FILE
    if resume:
        if not saved_path.is_file():
            raise GtlocError(f"cannot resume: {saved_path} does not exist (is {out_dir} a gtloc training run?)")
        saved = load_train_config(saved_path)
        if config is not None and config_digest(config) != config_digest(saved):
            diff = sorted(k for k, v in config.to_dict().items() if saved.to_dict()[k] != v and k not in NOT_DIGESTED)
            raise ParameterError(
                f"cannot resume {out_dir} with a different config (differs in {diff}); use a new ", Param("out_dir")
            )
        return saved
    if (out_dir / TRAINING_STATE_FILE).exists():
        raise ParameterError(
            f"{out_dir} already holds a training run: pass ",
            Param("resume", True),
            " to continue it, or choose another ",
            Param("out_dir"),
        )
    return config or _with_features(TrainConfig(), data)


def _with_features(config: TrainConfig, data: TrainingData) -> TrainConfig:
    """The config with the model's backbone, feature size and crops from ``data``, adapted to its size
    (``small_data``)."""
    model = replace(
        config.model, backbone=data.backbone, feature_dim=data.features.shape[-1], tencrop=data.features.dim() == 3
    )
    config = small_data_validation(replace(config, model=model), len(data), data.extras)
    return adapt_config(config, len(data), distinct_labels(data.latlon, data.times))


def restore(
    out_dir: Path,
    model: GTLoc,
    optimizer: torch.optim.Optimizer,
    digest: str,
    data_digests: dict[str, str],
    main: bool,
) -> int:
    """Load the checkpoint in ``out_dir`` into ``model`` and ``optimizer``; the step it was written at. A checkpoint
    of another config (``digest``) or other data (``data_digests``) is refused; process 0 (``main``) drops the log
    lines of the steps after it (they are redone)."""
    state = load_training_state(out_dir / TRAINING_STATE_FILE, model, optimizer)
    if state.config_digest != digest:
        raise GtlocError(f"{out_dir / TRAINING_STATE_FILE} was written under another config; cannot resume it")
    changed = [k for k, v in data_digests.items() if state.data_digests.get(k) != v]
    if changed:
        raise GtlocError(
            f"cannot resume {out_dir}: its {' and '.join(changed)} differ from those the run started with; "
            "resume with the same records and features, or start a new run folder"
        )
    if main:
        truncate_log(out_dir / LOG_FILE, state.step)
    return state.step


def finished(out_dir: Path, digest: str) -> bool:
    """Whether the run in ``out_dir`` wrote its model and, last of all, the model card of this config (``digest``; so
    its calibration, domain profile and neighbours are there too): resuming it has nothing left to do."""
    card = ModelCard.load(out_dir)
    return card is not None and card.config_digest == digest and (out_dir / MODEL_WEIGHTS_FILE).is_file()
