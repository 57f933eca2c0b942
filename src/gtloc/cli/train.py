"""``gtloc train``: train the GT-Loc heads on cached backbone features."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from gtloc.cli.app import app, flags


@app.command()
def train(
    features: list[Path] = typer.Option(
        ..., "--features", help="Feature cache made by `gtloc features` (repeat for several, e.g. shards)."
    ),
    records: Path = typer.Option(..., "--records", help="Records CSV of the training rows (features matched by path)."),
    out: Path = typer.Option(..., "--out", help="Run directory: config, log, checkpoints and the trained model."),
    config: Path | None = typer.Option(None, "--config", help="YAML file with training hyper-parameters."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the config's number of epochs."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train on the rows of --records, whose cached features are found in --features by path.

    Under torchrun (`torchrun --standalone --nproc_per_node=N $(which gtloc) train ...`) every process trains its
    share of each batch; only process 0 prints and writes the run directory.
    """
    from gtloc.training.config import load_train_config
    from gtloc.training.distributed import is_main_process
    from gtloc.training.loop import load_training_data
    from gtloc.training.loop import train as run_training

    train_config = None
    if config is not None or epochs is not None or not resume:
        train_config = load_train_config(config)
        if epochs is not None:
            train_config = replace(train_config, epochs=epochs)
    say = typer.echo if is_main_process() else _quiet
    data = load_training_data(features, records, log=say)
    say(f"training on {len(data)} records ({data.backbone} features, dim {data.features.shape[-1]}) -> {out}")
    with flags(out_dir="--out"):
        run_training(data, out, train_config, resume=resume, progress=progress)
    say(f"model saved in {out} (log: {out / 'log.jsonl'})")


def _quiet(message: str) -> None:
    """The log of torchrun processes other than rank 0: nothing is printed."""
