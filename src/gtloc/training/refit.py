"""Training again on every picture after calibrating on held-out ones (``TrainConfig.refit``).

On a small set the held-out cameras that calibrate a run (:func:`gtloc.training.small_data.small_data_validation`)
are a fifth of its cameras; a model trained without them read the time worse on unseen cameras (on the webcam
worlds the learned read-out went from 0.55x to 0.58x the constant hour, and from 0.82x to 0.87x the month,
docs/small-data.md). With ``refit`` the run is trained a second time, on all its pictures with the same settings and
seed, in ``RUN/refit``; that model, its training pictures (the kNN read-out) and its domain profile (distances
between all the groups) replace the first ones in ``RUN`` (the model card then names all the pictures and the new
profile), and the folder is deleted: nothing reads it afterwards, and it would double the run's size. What the
held-out pictures measured stays: the calibration (``calibration.json``, fitted to the first model, whose logits the
second one's resemble) and the validation metrics of the model card, an estimate of the error on a new camera (if
anything a pessimistic one: the second model saw more cameras).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from gtloc.io import atomic_path
from gtloc.model.card import ModelCard
from gtloc.model.domain import DOMAIN_FILE, DomainProfile
from gtloc.model.gtloc import MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE
from gtloc.retrieval.neighbours import NEIGHBOURS_FILE
from gtloc.training.checkpoint import TRAINING_STATE_FILE
from gtloc.training.config import TrainConfig

REFIT_DIR = "refit"
REPLACED = (MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, NEIGHBOURS_FILE, DOMAIN_FILE)


def refit_config(config: TrainConfig) -> TrainConfig:
    """The config of the second run: the same settings (already fitted to the data), no held-out pictures."""
    return replace(config, val_split=0.0, val_group=None, select="last", refit=False, adapt_to_data=False)


def refit(
    out_dir: Path,
    config: TrainConfig,
    pictures: int,
    train_all: Callable[[Path, TrainConfig, bool], object],
    say: Callable[[str], None] | None = None,
) -> object:
    """Train again on all ``pictures`` into ``out_dir/refit`` (``train_all(folder, config, resume)``, resumed when
    that folder holds a checkpoint), move its model, neighbours and domain profile into ``out_dir`` and delete the
    folder; the card then names all the pictures and describes the new domain profile. Returns what ``train_all``
    returns (the model)."""
    folder = out_dir / REFIT_DIR
    if say is not None:
        say(f"training again on all {pictures} pictures (the held-out ones too) in {folder}")
    model = train_all(folder, refit_config(config), (folder / TRAINING_STATE_FILE).is_file())
    for name in REPLACED:
        with atomic_path(out_dir / name) as tmp:
            shutil.copyfile(folder / name, tmp)
    card = ModelCard.load(out_dir)
    if card is not None:
        card.training_data.pictures = pictures
        profile = DomainProfile.load(out_dir)
        card.domain_check = None if profile is None else profile.describe()
        card.save(out_dir)
    shutil.rmtree(folder)
    return model
