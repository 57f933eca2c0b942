"""``gtloc crossval``: leave-one-group-out (or k-fold) training and prediction beside the constant floor."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app, flags, on_interrupt, progress_option, same_command, show_progress
from gtloc.cli.predict import READOUTS

DEFAULT_FOLDS = 5


@app.command()
def crossval(
    records: Path = typer.Option(..., "--records", help="Records CSV (with a group column for --group-by)."),
    features: list[Path] = typer.Option(..., "--features", help="Feature cache of the records (repeatable)."),
    group_by: str | None = typer.Option(
        None,
        "--group-by",
        help="Column whose values are held out one at a time (e.g. camera); without it, --folds random folds.",
    ),
    folds: int = typer.Option(DEFAULT_FOLDS, "--folds", min=2, help="Random folds when there is no --group-by."),
    readout: list[str] = typer.Option(
        ["mix"],
        "--readout",
        help=f"Time read-out to score (repeatable; the first is the `gtloc` row): {', '.join(READOUTS)}.",
    ),
    out: Path = typer.Option(..., "--out", help="Folder: metrics.json, crossval.md and one training run per fold."),
    config: Path | None = typer.Option(None, "--config", help="YAML file with training hyper-parameters."),
    progress: bool | None = progress_option(),
) -> None:
    """Train on all groups (or folds) but one and predict that one, for each; pooled and per-group errors, and in
    words which measures beat the best constant guess, with 95 % intervals over the groups."""
    from gtloc.evaluation.crossval import cross_validate, crossval_report
    from gtloc.training.config import load_train_config

    def kept() -> str:
        finished = sum(1 for _ in out.glob("folds/*/model_card.json"))
        return (
            f"kept {finished} finished fold run(s) in {out} and the checkpoint of the one in progress; the same "
            f"command reloads the finished folds and resumes the other: {same_command()}"
        )

    with flags(records_path="--records", out_dir="--out", readouts="--readout"), on_interrupt(kept):
        result = cross_validate(
            records,
            features,
            group_by,
            out,
            load_train_config(config),
            folds=folds,
            readouts=readout,
            progress=show_progress(progress),
            log=typer.echo,
        )
    typer.echo(crossval_report(result), nl=False)
    typer.echo(f"-> {out / 'metrics.json'}, {out / 'crossval.md'}")
