"""The Typer application that every command module registers itself on, and how its errors name flags."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from gtloc.errors import GtlocError, ParameterError

CHECKPOINT_ENV = "GTLOC_CHECKPOINT"


def _plain_switches(params: list[Any]) -> list[Any]:
    """Show switches as switches in ``--help``: no ``<bool>`` type beside ``--x/--no-x`` or ``--help``.

    Typer's rich help prints a type for every option, flags included, as if ``--tencrop true`` were the syntax.
    """
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_switches(super().get_params(ctx))

    def invoke(self, ctx: Any) -> Any:
        """Run the command; on Ctrl-C say what was kept and how to go on (the exit status is 130, as Typer sets)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            note = str(exc) if isinstance(exc, Interrupted) else NOTHING_HALF_WRITTEN
            print(f"\ninterrupted: {note}", file=sys.stderr, flush=True)
            raise


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_switches(super().get_params(ctx))


class _App(typer.Typer):
    """A Typer app whose commands show switches without a type (see :func:`_plain_switches`)."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _App(
    name="gtloc",
    cls=_Group,
    help="gtloc: tell when and where an outdoor photo was taken (GT-Loc, ICCV 2025).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """gtloc: tell when and where an outdoor photo was taken (GT-Loc, ICCV 2025)."""


def _existing_run(ctx: typer.Context, param: Any, value: Path | None) -> Path | None:
    """``--checkpoint`` names a folder that exists, or one error line with the absolute path tried (and, when the
    value came from ``$GTLOC_CHECKPOINT``, that it did), before the command loads anything."""
    from gtloc.io import existing_folder

    if value is None or ctx.resilient_parsing:
        return value
    source = ctx.get_parameter_source(param.name)
    from_env = source is not None and source.name == "ENVIRONMENT"
    return existing_folder(value, "run folder", f"${CHECKPOINT_ENV}" if from_env else None)


def checkpoint_option(help: str = "Run directory of the trained model.", required: bool = True) -> Any:
    """The ``--checkpoint RUN`` option every command shares; ``$GTLOC_CHECKPOINT`` gives it when it is left out
    (``required=False``: neither given is ``None``)."""
    return typer.Option(
        ... if required else None,
        "--checkpoint",
        envvar=CHECKPOINT_ENV,
        show_envvar=True,
        help=help,
        callback=_existing_run,
    )


def switch(default: bool, name: str, help: str, off: str | None = None) -> Any:
    """A boolean switch ``--NAME/--no-NAME`` (or ``--NAME/OFF``): it takes no value, so ``--NAME true`` is an error
    or a stray argument, never a silent ``True``."""
    return typer.Option(default, f"--{name}/{off or '--no-' + name}", help=help)


def progress_option() -> Any:
    """``--progress/--no-progress``; left out, bars show only when stderr is a terminal (never ``\\r`` in logs)."""
    return typer.Option(None, "--progress/--no-progress", help="Progress bars (default: when stderr is a terminal).")


def show_progress(progress: bool | None) -> bool:
    """The value of :func:`progress_option`: as given, or whether stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else progress


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a long command; the message says what was kept and how to go on (see :func:`on_interrupt`)."""


NOTHING_HALF_WRITTEN = "every file gtloc writes is written whole or not at all: nothing half-written was left"


@contextlib.contextmanager
def on_interrupt(kept: Callable[[], str]) -> Iterator[None]:
    """Turn Ctrl-C in the block into :class:`Interrupted` with ``kept()``: what the command has kept so far (read
    from disk when the interrupt comes) and the command that goes on from there. Every command prints it (exit
    status 130)."""
    try:
        yield
    except KeyboardInterrupt:
        try:
            note = kept()
        except Exception as exc:  # what was kept cannot be read: say so rather than hide the interrupt
            note = f"could not read what was kept ({type(exc).__name__}: {exc})"
        raise Interrupted(note) from None


def same_command(*extra: str) -> str:
    """The command line that was run, as a user can paste it, with ``extra`` arguments added if not already there
    (``same_command("--resume")``)."""
    import shlex

    args = ["gtloc", *sys.argv[1:]]
    args += [a for a in extra if a not in args]
    return shlex.join(args)


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
