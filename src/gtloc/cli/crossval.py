"""``gtloc crossval``: leave-one-group-out training and prediction (e.g. unseen webcams) beside the constant floor."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app, flags, on_interrupt, progress_option, same_command, show_progress


@app.command()
def crossval(
    records: Path = typer.Option(..., "--records", help="Records CSV with a group column (e.g. camera)."),
    features: list[Path] = typer.Option(..., "--features", help="Feature cache of the records (repeatable)."),
    group_by: str = typer.Option(..., "--group-by", help="Column whose values are held out one at a time."),
    out: Path = typer.Option(..., "--out", help="Folder: metrics.json, crossval.md and one training run per fold."),
    config: Path | None = typer.Option(None, "--config", help="YAML file with training hyper-parameters."),
    progress: bool | None = progress_option(),
) -> None:
    """Train on all groups but one and predict that one, for every group; pooled and per-group errors."""
    from gtloc.evaluation.crossval import cross_validate, crossval_table
    from gtloc.training.config import load_train_config

    def kept() -> str:
        finished = sum(1 for _ in out.glob("*/model_card.json"))
        return (
            f"kept {finished} finished fold run(s) in {out} and the checkpoint of the one in progress; the same "
            f"command reloads the finished folds and resumes the other: {same_command()}"
        )

    with flags(records_path="--records", out_dir="--out"), on_interrupt(kept):
        result = cross_validate(
            records,
            features,
            group_by,
            out,
            load_train_config(config),
            progress=show_progress(progress),
            log=typer.echo,
        )
    typer.echo(crossval_table(result), nl=False)
    typer.echo(f"-> {out / 'metrics.json'}, {out / 'crossval.md'}")
