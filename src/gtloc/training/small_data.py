"""Training defaults that fit the data: what the trainer changes in a config for the training set it is given.

On a few hundred pictures (e.g. a handful of fixed webcams) the paper's heads (millions of parameters, queues of
4,096 that hold each of a few hundred labels many times) memorise the training cameras and do worse than a
constant guess on unseen ones (docs/small-data.md). With ``TrainConfig.adapt_to_data`` the trainer:

* caps each label queue at the number of distinct training labels (more would only repeat them as negatives);
* caps the linear warm-up at a tenth of the run's steps (a 300-picture run has ~30 steps, fewer than the default
  warm-up of 50, and would otherwise never reach its learning rate);
* below :data:`SMALL_DATA_N` pictures, narrows the encoders (hidden widths at most :data:`SMALL_HIDDEN` /
  :data:`SMALL_IMAGE_HIDDEN`) and drops half the input features (``image_input_dropout`` at least 0.5);
* below :data:`SMALL_DATA_N` pictures, when the config asks for no validation, holds out
  :data:`SMALL_VAL_SPLIT` of them to calibrate on (``select: last``, :func:`small_data_validation`): whole groups
  of the records' group column (:func:`group_column`: ``val_group``, else a ``camera`` column) when there is
  one with at least :data:`MIN_GROUPS` values, else a random share. Frames held out at random have
  near-duplicates from their own camera in training, so they calibrate for pictures like the training ones; a
  held-out camera calibrates for a new camera, which is what a user's model meets. The run is then trained again
  on all its pictures (``refit``): holding a fifth of the cameras out of the final model cost its learned read-out
  0.03x the constant hour and 0.05x the month on the webcam worlds.

The time is then read (the default ``mix`` read-out) with the model's weight :data:`GROUPED_MIX_WEIGHTS`: 0.9 for the
month and 0.1 for the hour, recorded in the run's calibration (``mix_weights``). On the webcam worlds, leave one
camera out, the training neighbours read the hour better than the model does and the model the month better than
they do; fitting the two weights on the one or two held-out cameras chose them worse than these fixed ones
(docs/small-data.md).

Larger sets (the demo's 3,000 pictures and up) keep their config apart from the two caps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch

from gtloc.labels import has_label
from gtloc.retrieval.time_posterior import MixWeights
from gtloc.training.config import TrainConfig

SMALL_DATA_N = 2000
SMALL_HIDDEN = 128
SMALL_IMAGE_HIDDEN = 512
SMALL_INPUT_DROPOUT = 0.5
WARMUP_FRACTION = 0.1
SMALL_VAL_SPLIT = 0.2
MIN_GROUPS = 3
GROUPED_MIX_WEIGHTS = MixWeights(month=0.9, hour=0.1)  # the model's share of the mix on small grouped runs
GROUP_COLUMNS = ("camera",)  # records columns whose pictures are near-duplicates of each other


def distinct_labels(latlon: torch.Tensor, times: torch.Tensor) -> int:
    """The larger of the numbers of distinct places ``(N, 2)`` and distinct times ``(N, 5)`` (NaN rows skipped)."""
    places = latlon[has_label(latlon)]
    stamps = times[has_label(times)]
    return max(len(torch.unique(places, dim=0)), len(torch.unique(stamps, dim=0)), 1)


def adapt_config(config: TrainConfig, n_train: int, n_distinct: int) -> TrainConfig:
    """``config`` fitted to ``n_train`` training pictures with ``n_distinct`` distinct labels (module docstring)."""
    if not config.adapt_to_data:
        return config
    model = replace(config.model, queue_size=min(config.model.queue_size, n_distinct))
    if n_train < SMALL_DATA_N:
        model = replace(
            model,
            encoder_hidden_dim=min(model.encoder_hidden_dim, SMALL_HIDDEN),
            image_hidden_dim=min(model.image_hidden_dim, SMALL_IMAGE_HIDDEN),
            image_input_dropout=max(model.image_input_dropout, SMALL_INPUT_DROPOUT),
        )
    steps = config.epochs * max(n_train // min(config.batch_size, n_train), 1)
    warmup = min(config.warmup_steps, max(int(WARMUP_FRACTION * steps), 1))
    return replace(config, model=model, warmup_steps=warmup)


def group_column(config: TrainConfig, extras: Mapping[str, Sequence[str]]) -> str | None:
    """The records column whose values group near-duplicate pictures: ``config.val_group``, else the first of
    :data:`GROUP_COLUMNS` among ``extras`` (the records' extra columns) with at least two values; None if neither."""
    if config.val_group is not None:
        return config.val_group
    return next((c for c in GROUP_COLUMNS if c in extras and len(set(extras[c])) >= 2), None)


def small_data_validation(config: TrainConfig, n_train: int, extras: Mapping[str, Sequence[str]]) -> TrainConfig:
    """``config`` with held-out pictures to calibrate on when the set is small and none were asked for (module
    docstring): ``val_split`` :data:`SMALL_VAL_SPLIT`, ``select: last``, ``val_group`` the :func:`group_column`
    when it has at least :data:`MIN_GROUPS` values, and ``refit`` (the model is then trained again on all the
    pictures, :mod:`gtloc.training.refit`)."""
    if not config.adapt_to_data or n_train >= SMALL_DATA_N or config.val_split or config.val_group is not None:
        return config
    column = group_column(config, extras)
    grouped = column is not None and len(set(extras[column])) >= MIN_GROUPS
    return replace(config, val_split=SMALL_VAL_SPLIT, val_group=column if grouped else None, select="last", refit=True)


def small_data_mix(config: TrainConfig, n_train: int) -> MixWeights | None:
    """The ``mix`` read-out's weights of a run on ``n_train`` pictures: :data:`GROUPED_MIX_WEIGHTS` when the set is
    small and whole groups were held out (``val_group``), else None (``n / (n + 250)`` for both parts)."""
    return GROUPED_MIX_WEIGHTS if config.val_group is not None and n_train < SMALL_DATA_N else None
