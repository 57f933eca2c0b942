"""Which files are photos gtloc reads, and what to say about the ones it cannot: one rule for every command.

* :data:`IMAGE_SUFFIXES`: what ``ingest``, ``index`` and every folder listing take as a photo (any case): JPEG,
  PNG, TIFF, WebP, AVIF and HEIC/HEIF, the default format of iPhones (decoded by ``pillow-heif``, registered with
  Pillow by :func:`register_formats`, which every module that opens a photo calls).
* :data:`RAW_SUFFIXES`: camera RAW files. Pillow cannot develop them, and would open some (TIFF-based ``.nef``,
  ``.dng``) as their small embedded preview without a word, so every command refuses them with
  :func:`raw_advice`: export a JPEG, or extract the camera's own preview with exiftool.
* :func:`unreadable_advice`: what to do with any other file Pillow cannot identify.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

HEIF_SUFFIXES = frozenset({".heic", ".heif", ".hif"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".avif"}) | HEIF_SUFFIXES
RAW_SUFFIXES = frozenset(
    {
        ".3fr", ".ari", ".arw", ".bay", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".fff", ".iiq", ".k25",
        ".kdc", ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf", ".raw", ".rw2", ".rwl", ".sr2",
        ".srf", ".srw", ".x3f",
    }
)  # fmt: skip
MAX_PIXELS = 40_000_000
"""The most pixels an image is decoded at (e.g. 7,750 x 5,160): at most ~4 bytes each per buffer. A larger JPEG is
decoded at reduced scale by its codec; any other larger image (a HEIC declaring a huge size, too) is refused."""
READABLE = "JPEG, PNG, TIFF, WebP, AVIF and HEIC/HEIF"


@cache
def register_formats() -> None:
    """Teach Pillow to open HEIC/HEIF (once per process; cheap after the first call)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def is_raw(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a camera RAW file (by its suffix, any case)."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def raw_advice(path: str | os.PathLike[str]) -> str:
    """Why a RAW file is refused and what to do instead."""
    suffix = Path(path).suffix.lower()
    return (
        f"a camera RAW file ({suffix}), which gtloc does not develop: export a JPEG (or HEIC) from your photo "
        f"software, or extract the camera's own preview with `exiftool -b -PreviewImage {Path(path).name} > "
        f"{Path(path).stem}.jpg` (then `exiftool -tagsFromFile {Path(path).name} {Path(path).stem}.jpg` copies "
        "its GPS and time)"
    )


def unreadable_advice(path: str | os.PathLike[str]) -> str:
    """Why a file Pillow cannot identify is refused, with what gtloc reads and how to convert."""
    if is_raw(path):
        return raw_advice(path)
    return f"Pillow cannot identify its format; gtloc reads {READABLE}: convert it to JPEG"
