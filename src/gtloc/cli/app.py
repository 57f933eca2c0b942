"""The Typer application that every command module registers itself on."""

import typer

app = typer.Typer(
    name="gtloc",
    help="gtloc: tell when and where an outdoor photo was taken (GT-Loc, ICCV 2025).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """gtloc: tell when and where an outdoor photo was taken (GT-Loc, ICCV 2025)."""
