"""``gtloc version``."""

import typer

import gtloc
from gtloc.cli.app import app


@app.command()
def version() -> None:
    """Print the gtloc version."""
    typer.echo(gtloc.__version__)
