"""Importers for weights trained elsewhere: the GT-Loc release's ``gtloc.pt`` and GeoCLIP's wheel weights.

Each writes a normal gtloc run directory (``config.json``, ``model.safetensors``) plus ``import_report.json``,
which says where every source tensor went. Loading is ``torch.load(weights_only=True)`` only.
"""

from gtloc.interop.common import ImportReport, load_state_dict
from gtloc.interop.geoclip import geoclip_to_gtloc, geoclip_weights_dir, import_geoclip
from gtloc.interop.released import (
    DEFAULT_FIXED_IMG_TIME_SCALE,
    import_released_checkpoint,
    release_to_gtloc,
    verify_backbone,
)

__all__ = [
    "DEFAULT_FIXED_IMG_TIME_SCALE",
    "ImportReport",
    "geoclip_to_gtloc",
    "geoclip_weights_dir",
    "import_geoclip",
    "import_released_checkpoint",
    "load_state_dict",
    "release_to_gtloc",
    "verify_backbone",
]
