"""Photo libraries written in tests: JPEGs with camera EXIF (:mod:`gtloc.data.exif_write`) whose pixels are a
scene's pattern (a 4 x 4 grid of colours that :class:`~helpers.toydata.ToyBackbone` reads), so that photos of one
scene have near-identical features and photos of different scenes do not."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from gtloc.data.exif_write import CameraExif, write_jpeg
from gtloc.library.arrays import LibraryArrays
from gtloc.library.catalog import LibraryPhoto

T0 = datetime(2021, 6, 1, 12, 0, 0)
UTC = timezone.utc
PHONE = {"make": "Apple", "model": "iPhone 12", "serial": "P1"}
DSLR = {"make": "Canon", "model": "EOS 80D", "serial": "D1"}


def scene_pixels(scene: int, noise_seed: int = 0, size: int = 48) -> np.ndarray:
    """``(size, size, 3)`` uint8: scene ``scene``'s colour grid plus a little noise of ``noise_seed``."""
    grid = np.random.default_rng(1000 + scene).integers(0, 256, (4, 4, 3))
    pixels = np.kron(grid, np.ones((size // 4, size // 4, 1)))
    pixels = pixels + np.random.default_rng(noise_seed).normal(0, 3, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def write_photo(
    root: Path,
    path: str,
    *,
    scene: int = 0,
    noise: int = 0,
    lat: float | None = None,
    lon: float | None = None,
    when: datetime | None = None,
    offset_h: float | None = None,
    gps_utc: datetime | None = None,
    camera: dict | None = None,
) -> Path:
    """One JPEG at ``root/path`` with the given EXIF (``when``: the camera's clock; ``offset_h``: its
    ``OffsetTimeOriginal``)."""
    info = CameraExif(
        lat=lat,
        lon=lon,
        local_time=when,
        utc_offset=None if offset_h is None else timedelta(hours=offset_h),
        gps_utc=gps_utc,
        **(camera or {}),
    )
    return write_jpeg(root / path, scene_pixels(scene, noise), info)


def photo(
    path: str,
    lat: float | None = None,
    lon: float | None = None,
    when: datetime | None = None,
    camera: str = "",
    **fields,
) -> LibraryPhoto:
    """A :class:`LibraryPhoto` row made in memory (content hash from the path), for source tests."""
    return LibraryPhoto(
        path=path, size=1, mtime_ns=0, sha=path, lat=lat, lon=lon, local_time=when, make=camera, **fields
    )


def arrays_of(photos: list[LibraryPhoto]) -> LibraryArrays:
    return LibraryArrays.of(photos)
