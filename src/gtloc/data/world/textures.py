"""Shared procedural textures and colour palettes (fixed for the planet, built once per process)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

TILE = 256
TEXTURE_SEED = 7


def _periodic_upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Bilinear, wrap-around upsampling of a ``(g, g)`` grid to ``(size, size)``."""
    g = grid.shape[0]
    pos = np.arange(size) * g / size
    i0 = np.floor(pos).astype(int)
    t = (pos - i0)[:, None]
    i1 = (i0 + 1) % g
    rows = grid[i0] * (1 - t) + grid[i1] * t
    t = t.T
    return rows[:, i0] * (1 - t) + rows[:, i1] * t


@lru_cache(maxsize=1)
def noise_tile() -> np.ndarray:
    """``(256, 256)`` float32 tileable multi-octave value noise, rank-normalised to uniform ``[0, 1]``.

    Uniform values mean ``noise < c`` covers a fraction ``c`` of the tile (used for cloud cover, grass cover).
    """
    rng = np.random.default_rng(TEXTURE_SEED)
    total = np.zeros((TILE, TILE))
    for g, weight in ((4, 1.0), (8, 0.6), (16, 0.4), (32, 0.25), (64, 0.15), (128, 0.08)):
        total += weight * _periodic_upsample(rng.random((g, g)), TILE)
    ranks = np.argsort(np.argsort(total.ravel()))
    return (ranks / (ranks.size - 1)).reshape(TILE, TILE).astype(np.float32)


def sample_tile(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Nearest-neighbour lookup of :func:`noise_tile` at real coordinates (tile units, wrapping); broadcasts."""
    flat = noise_tile().ravel()
    return flat.take((v.astype(np.int32) & (TILE - 1)) * TILE + (u.astype(np.int32) & (TILE - 1)))


def palette(colours: np.ndarray, t: float) -> np.ndarray:
    """Interpolate a ``(P, 3)`` palette at ``t`` in ``[0, 1]`` -> ``(3,)`` linear RGB."""
    pos = float(np.clip(t, 0.0, 1.0)) * (len(colours) - 1)
    i = min(int(pos), len(colours) - 2)
    w = pos - i
    return (colours[i] * (1 - w) + colours[i + 1] * w).astype(np.float32)


def _srgb(hex_codes: list[str]) -> np.ndarray:
    rgb = np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in hex_codes], dtype=np.float32) / 255.0
    return rgb**2.2


FACADES = _srgb(["f2efe6", "e8d9b0", "d8a86a", "c8734e", "9c4a35", "8a8a88", "b9c4cc", "d7e0c4", "f0d8d0", "6e6a64"])
ROOFS = _srgb(["a4462c", "7a3524", "4a4a4e", "2e3236", "5f7a72", "8c8270", "3c5a7a", "b06a3a"])
SOILS = _srgb(["5e5040", "6e5a44", "7e5a44", "9a8a6e", "a89c80", "7e7a70", "54504a"])
SAND = _srgb(["e0c490", "d2a66c", "c89058"])
