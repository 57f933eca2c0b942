"""Render one scene of the synthetic world to an RGB picture (vectorised numpy, a few ms of CPU at 224 px).

Order: sky (day / twilight / night layers, sun disk, clouds, stars), distant skyline, ground (materials,
snow, shadows, lamp pools), upright objects far to near; then partial auto-exposure, a filmic tone curve,
gamma and sensor noise.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from gtloc.data.world.climate import OVERCAST, TROPICAL
from gtloc.data.world.ground import render_ground
from gtloc.data.world.layout import make_layout, regional_densities
from gtloc.data.world.objects import Painter, paint_skyline
from gtloc.data.world.scenes import Scene
from gtloc.data.world.sky import View, render_sky, scene_light

EXPOSURE_KEY = 0.18
EXPOSURE_STRENGTH = 0.8  # 1 = full auto-exposure (brightness carries no information), 0 = fixed exposure
MAX_GAIN = 300.0
MIN_SIZE = 16
NOISE_BANK = 1 << 21
NOISE_SEED = 11


def view_of(scene: Scene, size: int) -> View:
    """The camera of ``scene`` at ``size`` pixels, with the sun in its frame."""
    return View.build(
        size,
        float(scene.fov),
        float(scene.horizon),
        float(scene.camera_height),
        float(scene.camera_heading),
        float(scene.sun_elevation),
        float(scene.sun_azimuth),
    )


_LUT_SIZE = 4096
_LUT_MAX_SQRT = 3.0


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """A fixed bank of standard-normal float32 values (drawing fresh normals per picture is the slowest step)."""
    return np.random.default_rng(NOISE_SEED).standard_normal(NOISE_BANK, dtype=np.float32)


def sensor_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard-normal noise of ``shape``: a window of the fixed bank at a random offset from ``rng``."""
    n = int(np.prod(shape))
    bank = _noise_bank()
    if n > len(bank):
        return rng.standard_normal(shape, dtype=np.float32)
    start = int(rng.integers(0, len(bank) - n + 1))
    return bank[start : start + n].reshape(shape)


@lru_cache(maxsize=1)
def _tone_lut() -> np.ndarray:
    """Display value ``(1 - exp(-x)) ** (1/2.2)`` tabulated over ``sqrt(x)`` in ``[0, 3]`` (fine in the darks)."""
    x = np.linspace(0.0, _LUT_MAX_SQRT, _LUT_SIZE) ** 2
    return ((1.0 - np.exp(-x)) ** (1 / 2.2) * 255.0).astype(np.float32)


def mean_luminance(radiance: np.ndarray) -> float:
    """Mean luminance of linear radiance ``(H, W, 3)`` (every 4th pixel; > 0): what an exposure meter reads."""
    small = radiance[::4, ::4]
    return float((0.2126 * small[..., 0] + 0.7152 * small[..., 1] + 0.0722 * small[..., 2]).mean()) + 1e-6


def expose(
    radiance: np.ndarray, rng: np.random.Generator, strength: float = EXPOSURE_STRENGTH, max_gain: float = MAX_GAIN
) -> np.ndarray:
    """Linear radiance ``(H, W, 3)`` -> uint8 picture: partial auto-exposure, filmic tone curve, gamma, noise.

    The gain is ``(key / mean luminance) ** strength``, at most ``max_gain``: with the defaults night stays darker
    than day but visible; ``strength`` 1 with a large ``max_gain`` is a camera that brightens any scene (a phone's
    night mode), a small ``max_gain`` one that gives up in the dark (a cheap webcam). Noise grows with the gain,
    as a camera's does in the dark.
    """
    gain = min((EXPOSURE_KEY / mean_luminance(radiance)) ** strength, max_gain)
    scale = np.float32((_LUT_SIZE - 1) / _LUT_MAX_SQRT)
    index = np.sqrt(np.maximum(radiance, 0.0) * np.float32(gain * 1.6)) * scale
    display = _tone_lut().take(np.minimum(index, _LUT_SIZE - 1).astype(np.int32))
    sigma = 1.5 + 7.5 * min(1.0, max(0.0, np.log10(gain) / np.log10(MAX_GAIN)))
    display += sensor_noise(display.shape, rng) * np.float32(sigma)
    return np.clip(display + 0.5, 0, 255).astype(np.uint8)


def scene_radiance(scene: Scene, size: int = 224, rng: np.random.Generator | None = None) -> np.ndarray:
    """The linear radiance ``(size, size, 3)`` float32 of ``scene``, before the camera (:func:`render_scene`)."""
    if size < MIN_SIZE:
        raise ValueError(f"image size must be at least {MIN_SIZE} pixels, got {size}")
    rng = rng if rng is not None else np.random.default_rng(int(scene.render_seed))
    view = view_of(scene, size)
    urban, _ = regional_densities(int(scene.climate), scene.field("urban_density"), scene.field("tree_density"))
    light = scene_light(float(scene.sun_elevation), float(scene.cloud), bool(scene.sun_hidden), urban)
    layout = make_layout(scene, np.random.default_rng(int(scene.layout_seed)))
    visibility = rng.uniform(2000.0, 7000.0) * (0.5 if scene.cloud >= OVERCAST else 1.0)
    visibility *= 0.6 if scene.climate == TROPICAL else 1.0

    split = int(np.clip(round(view.horizon), 1, size - 1))
    img = np.empty((size, size, 3), np.float32)
    img[:split] = render_sky(view, light, split, float(scene.cloud), bool(scene.sun_hidden), rng)
    haze = img[split - 1].mean(axis=0)
    paint_skyline(img, view, light, scene, layout, haze, rng)
    img[split:] = render_ground(view, light, scene, layout, split, haze, visibility)
    Painter(img, view, light, scene, layout, haze, visibility, rng).paint()
    return img


def render_scene(
    scene: Scene,
    size: int = 224,
    rng: np.random.Generator | None = None,
    *,
    exposure_strength: float = EXPOSURE_STRENGTH,
    max_gain: float = MAX_GAIN,
) -> np.ndarray:
    """Render ``scene`` to a ``(size, size, 3)`` uint8 RGB picture: :func:`scene_radiance`, then :func:`expose`.

    The objects in view come from ``scene.layout_seed``; everything else random about this picture (clouds'
    shapes, stars, which windows are lit, noise) from ``rng`` (default: seeded by ``scene.render_seed``).
    ``exposure_strength``, ``max_gain``: the camera's auto-exposure (:func:`expose`).
    """
    rng = rng if rng is not None else np.random.default_rng(int(scene.render_seed))
    return expose(scene_radiance(scene, size, rng), rng, exposure_strength, max_gain)
