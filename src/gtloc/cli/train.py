"""``gtloc train``: train the GT-Loc heads on cached backbone features."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from gtloc.cli.app import app, flags, on_interrupt, progress_option, same_command, show_progress, switch
from gtloc.cli.options import checked_device, device_option
from gtloc.errors import GtlocError


def small_data_warning(run: Path, features: list[Path], records: Path) -> str | None:
    """The warning for a run trained on a small set (:func:`gtloc.training.expectation.expected_error`)."""
    from gtloc.training.expectation import expected_error

    return expected_error(run, " ".join(f"--features {f}" for f in features), str(records))


@app.command()
def train(
    features: list[Path] = typer.Option(
        ..., "--features", help="Feature cache made by `gtloc features` (repeat for several, e.g. shards)."
    ),
    records: Path = typer.Option(..., "--records", help="Records CSV of the training rows (features matched by path)."),
    out: Path = typer.Option(..., "--out", help="Run directory: config, log, checkpoints and the trained model."),
    config: Path | None = typer.Option(None, "--config", help="YAML file with training hyper-parameters."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the config's number of epochs."),
    val_split: float | None = typer.Option(None, "--val-split", help="Hold out this random fraction for validation."),
    val_group: str | None = typer.Option(
        None, "--val-group", help="Hold out whole groups of this records column (e.g. camera) for validation."
    ),
    select: str | None = typer.Option(
        None,
        "--select",
        help="Validation metric that picks the saved model: hour, month, geo or loss; last keeps the last step.",
    ),
    patience: int | None = typer.Option(
        None, "--patience", help="Stop after this many validations without improvement (0: never)."
    ),
    resume: bool = switch(False, "resume", "Continue the run in --out from its last checkpoint."),
    progress: bool | None = progress_option(),
    device: str = device_option(),
) -> None:
    """Train on the rows of --records, whose cached features are found in --features by path.

    Under torchrun (`torchrun --standalone --nproc_per_node=N $(which gtloc) train ...`) every process trains its
    share of each batch on its own GPU (cuda:LOCAL_RANK) when there is one; only process 0 prints and writes the
    run directory.
    """
    device = checked_device(device)
    from gtloc.training.config import load_train_config
    from gtloc.training.data import load_training_data
    from gtloc.training.distributed import is_main_process
    from gtloc.training.loop import train as run_training

    train_config = None
    given = {"epochs": epochs, "val_split": val_split, "val_group": val_group, "select": select, "patience": patience}
    overrides = {k: v for k, v in given.items() if v is not None}
    if config is not None or overrides or not resume:
        train_config = load_train_config(config)
        if overrides:
            train_config = replace(train_config, **overrides)
            problem = train_config.validate()
            if problem:
                raise GtlocError(f"training config.{problem}")
    say = typer.echo if is_main_process() else _quiet
    data = load_training_data(features, records, log=say)
    say(f"training on {len(data)} records ({data.backbone} features, dim {data.features.shape[-1]}) -> {out}")

    def kept() -> str:
        from gtloc.training.checkpoint import TRAINING_STATE_FILE, saved_step

        step = saved_step(out / TRAINING_STATE_FILE)
        if step is None:
            return f"no checkpoint in {out} yet (one is written every checkpoint_every steps); start again: " + (
                same_command()
            )
        return f"kept the checkpoint of step {step} in {out / TRAINING_STATE_FILE}; go on from it: " + same_command(
            "--resume"
        )

    with flags(out_dir="--out"), on_interrupt(kept):
        run_training(data, out, train_config, device=device, resume=resume, progress=show_progress(progress), log=say)
    say(f"model saved in {out} (log: {out / 'log.jsonl'})")
    warning = small_data_warning(out, features, records)
    if warning and is_main_process():
        typer.echo(warning, err=True)


def _quiet(message: str) -> None:
    """The log of torchrun processes other than rank 0: nothing is printed."""
