"""Command-line interface: a thin layer over the Python API. Each command lives in its own module."""

from __future__ import annotations

import importlib
import sys

from gtloc.cli.app import app
from gtloc.errors import GtlocError

# Command modules register themselves on ``app`` when imported; add a module name here to add a command.
COMMAND_MODULES: tuple[str, ...] = (
    "version",
    "ingest",
    "train",
    "features",
    "features_merge",
    "evaluate",
    "predict",
    "import_checkpoint",
    "world",
    "index_gallery",
    "retrieve",
    "verify",
    "serve",
    "demo",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"gtloc.cli.{_name}")


def main() -> None:
    """Console entry point: run the app; user errors print one clear line and exit with status 2."""
    try:
        app()
    except GtlocError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
