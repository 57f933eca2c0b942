"""``gtloc evaluate``: the protocol's metrics for a predictions CSV against a records CSV (JSON + markdown)."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app, flags


@app.command()
def evaluate(
    predictions: Path = typer.Option(..., "--predictions", help="Predictions CSV written by `gtloc predict`."),
    truth: Path = typer.Option(..., "--truth", help="Records CSV with the true places and local times."),
    out: Path = typer.Option(..., "--out", help="Metrics JSON to write."),
    group_by: str | None = typer.Option(
        None, "--group-by", help="A column of the truth CSV (e.g. camera): metrics per value, plus pooled."
    ),
) -> None:
    """Score predictions: median km and accuracy at 1/25/200/750/2500 km; mean month and hour errors."""
    from gtloc.evaluation.protocol import evaluate_predictions
    from gtloc.evaluation.report import evaluation_table
    from gtloc.io import write_json

    with flags():
        result = evaluate_predictions(predictions, truth, group_by=group_by)
    write_json(out, result)
    unmatched = result["unmatched"]
    for key, label in (
        ("predictions_without_truth", "predictions without truth"),
        ("truth_without_predictions", "truth rows without predictions"),
    ):
        if unmatched[key]:
            examples = ", ".join(unmatched[f"{key}_examples"])
            typer.echo(f"{unmatched[key]} {label} (e.g. {examples})", err=True)
    for warning in result["warnings"]:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(evaluation_table(result), nl=False)
    n = result["n"]
    typer.echo(f"{n['matched']} matched ({n['geo']} with places, {n['time']} with times) -> {out}")
