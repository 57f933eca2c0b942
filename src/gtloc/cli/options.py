"""Options several commands share, defined once (no torch import: ``gtloc --help`` stays light)."""

from __future__ import annotations

from typing import Any

import typer

from gtloc.cli.app import flags
from gtloc.device import PRECISIONS, device_name, resolve_device


def _checked_early(value: str) -> str:
    """The ``--device`` callback: eager, so a misspelt device or a GPU the machine lacks is the first error, before
    any other option is checked (a missing ``--checkpoint`` folder, say). Only a ``cuda`` name imports torch."""
    with flags():
        name = device_name(value)
        if name.startswith("cuda"):
            resolve_device(name)
    return value


def device_option() -> Any:
    """``--device auto|cpu|cuda|cuda:N``, checked as it is parsed (:func:`_checked_early`) and resolved by
    :func:`gtloc.device.resolve_device` when the command runs."""
    return typer.Option(
        "auto",
        "--device",
        help="Where to run: auto (CUDA when there), cpu, cuda or cuda:N.",
        show_default=True,
        is_eager=True,
        callback=_checked_early,
    )


def precision_option(help_text: str) -> Any:
    """``--precision fp32|bf16|fp16`` (checked against the device by :func:`gtloc.device.check_precision`)."""
    return typer.Option("fp32", "--precision", help=f"{help_text} ({', '.join(PRECISIONS)}; fp16 on CUDA only).")


def checked_device(device: str) -> str:
    """``device`` as given, once :func:`~gtloc.device.resolve_device` accepts it: a command fails on a bad
    ``--device`` (or a missing GPU) before it does any work."""
    with flags():
        resolve_device(device)
    return device
