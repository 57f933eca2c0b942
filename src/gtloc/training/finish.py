"""The end of a training run: the selected model (the best validation's, or the last), saved with the training
pictures for the kNN read-out, then calibrated on the held-out rows with its domain profile and model card
(:func:`gtloc.training.held_out.finish_run`)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

from gtloc.backbones.blocks import block_weights
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.galleries import RUN_GALLERIES_DIR
from gtloc.retrieval.neighbours import NEIGHBOURS_FILE, NeighbourStore
from gtloc.training.checkpoint import LOG_FILE
from gtloc.training.config import TrainConfig
from gtloc.training.data import TrainingData
from gtloc.training.held_out import finish_run
from gtloc.training.resume import config_digest
from gtloc.training.small_data import group_column, small_data_mix
from gtloc.training.validation import BEST_DIR, Selection


def finish_training(
    model: GTLoc,
    out_dir: Path,
    data: TrainingData,
    val: TrainingData | None,
    config: TrainConfig,
    selection: Selection,
    cache_galleries: bool,
    say: Callable[[str], None] | None,
) -> None:
    """Write the run's model into ``out_dir`` (``model`` takes the selected step's weights), its training pictures
    (``data``) and what :func:`finish_run` fits on the held-out rows ``val``; the selection goes into the log."""
    if val is not None and selection.step:
        model.load_state_dict(GTLoc.from_pretrained(out_dir / BEST_DIR).state_dict())
        with open(out_dir / LOG_FILE, "a", encoding="utf-8") as log:
            chosen = {"selected_step": selection.step, "select": config.select, "value": selection.value}
            log.write(json.dumps(chosen) + "\n")
    model.save_pretrained(out_dir)
    weights = block_weights(data.backbone, data.features.shape[-1])
    neighbours = NeighbourStore.from_training(data.features, data.times, data.latlon, config.seed, weights)
    neighbours.save(out_dir / NEIGHBOURS_FILE)
    on_cpu = model if model.device.type == "cpu" else copy.deepcopy(model).cpu()
    held = None if val is None else (val.features, val.latlon, val.times)
    column = group_column(config, data.extras)
    finish_run(
        on_cpu,
        out_dir,
        data.features,
        held,
        data.source,
        len(data),
        config_digest(config),
        config.seed,
        neighbours=neighbours,
        cache_dir=out_dir / RUN_GALLERIES_DIR if cache_galleries else None,
        log=say,
        groups=data.extras.get(column) if column is not None else None,
        train_times=data.times,
        held_out_groups=None if val is None or column not in val.extras else len(set(val.extras[column])),
        mix=small_data_mix(config, len(data)),
    )
