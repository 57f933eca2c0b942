"""Synthetic pictures of kinds of real ones for the light and sun checks, and the claims they are checked at."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
from PIL import Image

from gtloc.data.exif import PhotoExif

ZURICH = (47.5, 8.5)
NOON = datetime(2021, 6, 21, 11, 0, tzinfo=timezone.utc)  # sun 66 deg up
MIDNIGHT = datetime(2021, 6, 21, 23, 0, tzinfo=timezone.utc)  # sun 19 deg down
NO_EXIF = PhotoExif()


def scene(sky, ground, *, horizon=0.45, size=(160, 120), noise=0.0, lamps=0, seed=0) -> Image.Image:
    """A picture: ``sky`` RGB (0-255) above the ``horizon`` share of the rows, ``ground`` below, with Gaussian
    sensor ``noise`` (levels) and ``lamps`` blown-out 3x3 spots on the ground."""
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = np.empty((h, w, 3), np.float32)
    split = int(h * horizon)
    pixels[:split] = sky
    pixels[split:] = ground
    pixels += rng.normal(0.0, noise, (h, w, 1)) if noise else 0.0
    for _ in range(lamps):
        y, x = rng.integers(split + 2, h - 3), rng.integers(2, w - 3)
        pixels[y - 1 : y + 2, x - 1 : x + 2] = 255
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))
