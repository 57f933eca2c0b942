"""The Typer application that every command module registers itself on, and how its errors name flags."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from gtloc.errors import GtlocError, ParameterError

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


@contextlib.contextmanager
def flags(**renames: str) -> Iterator[None]:
    """Re-word a :class:`ParameterError` raised in the block with this command's flags.

    A library error names Python parameters (``top_k``); on the command line each becomes ``--`` + its name with
    dashes (``--top-k``), or ``renames[name]`` where the command's flag differs (``out_dir="--out"``).
    """
    try:
        yield
    except ParameterError as exc:
        raise GtlocError(exc.spelled(lambda name: renames.get(name, "--" + name.replace("_", "-")))) from exc
