"""Command-line interface: a thin layer over the Python API. Each command lives in its own module."""

from __future__ import annotations

import importlib
import logging
import sys

from gtloc.device import quiet_cpu_threads

quiet_cpu_threads()  # before anything imports torch: OpenMP reads these once (see gtloc.device)

from gtloc.cli.app import app  # noqa: E402
from gtloc.errors import GtlocError  # noqa: E402

# Command modules register themselves on ``app`` when imported; add a module name here to add a command.
COMMAND_MODULES: tuple[str, ...] = (
    "version",
    "info",
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
    "sun",
    "serve",
    "demo",
    "crossval",
    "library",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"gtloc.cli.{_name}")


class _Notices(logging.Handler):
    """Library notices (a damaged cache being rebuilt, ...) as ``notice: ...`` lines on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"notice: {record.getMessage()}", file=sys.stderr)


def _show_notices() -> None:
    logger = logging.getLogger("gtloc")
    if not any(isinstance(h, _Notices) for h in logger.handlers):
        logger.addHandler(_Notices())
        logger.setLevel(logging.INFO)


def main() -> None:
    """Console entry point: run the app; user errors print one clear line and exit with status 2."""
    _show_notices()
    try:
        app()
    except GtlocError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
