"""``gtloc info RUN``: the run's model card (what it was trained on, how it was validated, how far to trust it)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gtloc.cli.app import app, switch


@app.command()
def info(
    run: Path = typer.Argument(..., help="Run directory (trained, or written by import-checkpoint)."),
    as_json: bool = switch(False, "json", "Print the model card as JSON."),
) -> None:
    """Show the run's model card: training data, backbone, validation metrics, calibration, domain check."""
    from gtloc.model.card import run_card

    card = run_card(run)
    typer.echo(json.dumps(card.to_dict(), indent=2) if as_json else "\n".join([f"run: {run}", *card.lines()]))
