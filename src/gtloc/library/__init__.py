"""A photo library filled in: a place for every photo without one and a time for every photo whose time is missing
or wrong, each from sources that show their evidence and state a radius.

The flow: folder -> :func:`scan_library` (photos -> EXIF, camera, features; incremental) -> sources (``track``,
``scene``, ``model``, ``clock``) -> :func:`fill_library` (choose, state a radius, abstain) -> estimates CSV and
:func:`write_sidecars` (XMP). :func:`evaluate_library` measures it all by hide-and-recover on the library's own
labelled photos, beside PhotoPrism's rule. :func:`make_synthetic_library` renders test libraries.

Names are imported on first use (PEP 562): ``import gtloc.library`` loads no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Library": "gtloc.library.catalog",
    "LibraryPhoto": "gtloc.library.catalog",
    "scan_library": "gtloc.library.scan",
    "FillSettings": "gtloc.library.fill",
    "fill_library": "gtloc.library.fill",
    "evaluate_library": "gtloc.library.evaluate",
    "write_sidecars": "gtloc.library.sidecars",
    "SyntheticSettings": "gtloc.library.synthetic",
    "make_synthetic_library": "gtloc.library.synthetic",
}

__all__ = [
    "FillSettings",
    "Library",
    "LibraryPhoto",
    "SyntheticSettings",
    "evaluate_library",
    "fill_library",
    "make_synthetic_library",
    "scan_library",
    "write_sidecars",
]

if TYPE_CHECKING:
    from gtloc.library.catalog import Library, LibraryPhoto
    from gtloc.library.evaluate import evaluate_library
    from gtloc.library.fill import FillSettings, fill_library
    from gtloc.library.scan import scan_library
    from gtloc.library.sidecars import write_sidecars
    from gtloc.library.synthetic import SyntheticSettings, make_synthetic_library


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gtloc.library' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
