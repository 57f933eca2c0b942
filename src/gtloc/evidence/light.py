"""What a picture says about the light it was taken in: the camera's exposure value, or its pixels.

* :func:`exposure_value`: the scene's exposure value at ISO 100 from EXIF, ``EV100 = log2(N^2 / t) - log2(ISO / 100)``
  (``N`` the f-number, ``t`` the exposure time in seconds), plus any exposure bias the photographer dialled in
  (the meter's own reading). Roughly: 14-16 sunny day, 11-13 overcast or a sun low in the sky, 8-10 dusk or a bright
  interior, 5-8 lit streets at night or a home interior, below 3 a dark night.
* :func:`pixel_light`: statistics of the pixels, measured on a copy at most :data:`STATS_SIDE` pixels long. Besides
  the brightness of the whole picture and of its top and bottom thirds, it looks for the **sky**: the smooth
  (untextured) patches of the top :data:`SKY_BAND` of the picture, in cells of :data:`CELL` pixels. A daylit sky is
  bright and blue or white-gray; a night sky is black, or glows orange with light pollution, and where the camera
  amplified the dark it is grainy (the spread of brightness inside a smooth cell). The sky is what separates a dull
  day from a lit street at night, which overall brightness alone does not.

Brightness is the sRGB luma ``0.299 R + 0.587 G + 0.114 B`` in ``[0, 1]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from gtloc.data.exif import CameraSettings

STATS_SIDE = 256
"""Pixel statistics are measured on a copy whose longer side is at most this many pixels."""
CELL = 8
"""Side in pixels (of the :data:`STATS_SIDE` copy) of the cells in which the sky is looked for."""
SKY_BAND = 0.4
"""The sky is looked for in this top share of the picture's rows."""
SMOOTH_STEP = 0.04
"""A sky cell differs from each of its four neighbours by less than this in mean brightness ..."""
SMOOTH_SPREAD = 0.06
"""... and the brightness inside it spreads (standard deviation) by less than this."""
LEAF_GREEN = 0.03
"""... and it is not green or yellow-green like foliage (green above blue by this much, and not below red by it)."""
MIN_SKY_SHARE = 0.15
"""Below this share of smooth cells in the band, the picture shows no sky to read."""
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def exposure_value(camera: CameraSettings) -> float | None:
    """EV100 of the scene from the camera's exposure tags; ``None`` without a usable time, f-number and ISO."""
    if camera.exposure_time is None or camera.f_number is None or camera.iso is None:
        return None
    ev = math.log2(camera.f_number**2 / camera.exposure_time) - math.log2(camera.iso / 100.0)
    return ev + (camera.exposure_bias or 0.0)


@dataclass(frozen=True)
class PixelLight:
    """Pixel statistics of one picture (brightness in ``[0, 1]``; shares in ``[0, 1]``).

    ``median``/``top_median``/``bottom_median``: median brightness of the whole picture, its top third and its bottom
    third. ``dark_share``/``bright_share``: pixels darker than 0.08 / brighter than 0.95 (black / blown out: lamps,
    a white sky). ``colourfulness``: mean distance of the pixels from gray; ``colour_spread``: how much the pixels'
    hue varies (mean distance of their chromaticity ``rgb / (r + g + b)`` from the median one, over pixels brighter
    than 0.1): both near 0 for a monochrome picture such as a webcam's infrared night mode, even a tinted one.
    ``sky_share``: share of smooth cells in the top :data:`SKY_BAND`; ``sky_brightness``, ``sky_blueness`` (mean
    ``B - R``, positive blue, negative orange) and ``sky_grain`` (median standard deviation of brightness inside a
    cell) of those cells, ``None`` when ``sky_share < MIN_SKY_SHARE`` (no sky to read).
    """

    median: float
    top_median: float
    bottom_median: float
    dark_share: float
    bright_share: float
    colourfulness: float
    colour_spread: float
    sky_share: float
    sky_brightness: float | None
    sky_blueness: float | None
    sky_grain: float | None

    @property
    def has_sky(self) -> bool:
        return self.sky_brightness is not None


def _neighbour_step(means: np.ndarray) -> np.ndarray:
    """``(H, W)`` largest absolute difference of each cell's mean from its four neighbours'."""
    step = np.zeros_like(means)
    rows = np.abs(np.diff(means, axis=0))
    cols = np.abs(np.diff(means, axis=1))
    step[1:] = np.maximum(step[1:], rows)
    step[:-1] = np.maximum(step[:-1], rows)
    step[:, 1:] = np.maximum(step[:, 1:], cols)
    step[:, :-1] = np.maximum(step[:, :-1], cols)
    return step


def _fine_residual(luma: np.ndarray) -> np.ndarray:
    """``(H, W)`` each pixel minus the mean of its four neighbours (0 on the border): sensor grain, not texture."""
    out = np.zeros_like(luma)
    out[1:-1, 1:-1] = luma[1:-1, 1:-1] - 0.25 * (luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:])
    return out


def pixel_light(image: Image.Image) -> PixelLight:
    """The :class:`PixelLight` of an RGB picture (upright: the top of the picture must be the top of the scene)."""
    small = image.convert("RGB")
    if max(small.size) > STATS_SIDE:
        small.thumbnail((STATS_SIDE, STATS_SIDE), Image.Resampling.BILINEAR)
    rgb = np.asarray(small, dtype=np.float32) / 255.0
    luma = rgb @ LUMA
    rows, cols = luma.shape
    third = max(1, rows // 3)
    lit = luma > 0.1
    chroma = rgb[lit] / np.maximum(rgb[lit].sum(axis=1, keepdims=True), 1e-6)
    spread = float(np.abs(chroma - np.median(chroma, axis=0)).sum(axis=1).mean()) if len(chroma) else 0.0

    side = min(CELL, rows, cols)
    ch, cw = rows // side, cols // side
    cut = luma[: ch * side, : cw * side].reshape(ch, side, cw, side)
    means, spreads = cut.mean(axis=(1, 3)), cut.std(axis=(1, 3))
    grain = np.sqrt((_fine_residual(luma)[: ch * side, : cw * side] ** 2).reshape(cut.shape).mean(axis=(1, 3)))
    crop = rgb[: ch * side, : cw * side].reshape(ch, side, cw, side, 3).mean(axis=(1, 3))
    blue = crop[..., 2] - crop[..., 0]
    leafy = (crop[..., 1] > crop[..., 2] + LEAF_GREEN) & (crop[..., 1] > crop[..., 0] - LEAF_GREEN)
    band = max(1, round(ch * SKY_BAND))
    smooth = ((_neighbour_step(means) < SMOOTH_STEP) & (spreads < SMOOTH_SPREAD) & ~leafy)[:band]
    sky_share = float(smooth.mean())
    has_sky = sky_share >= MIN_SKY_SHARE
    return PixelLight(
        median=float(np.median(luma)),
        top_median=float(np.median(luma[:third])),
        bottom_median=float(np.median(luma[rows - third :])),
        dark_share=float((luma < 0.08).mean()),
        bright_share=float((luma > 0.95).mean()),
        colourfulness=float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean()),
        colour_spread=spread,
        sky_share=sky_share,
        sky_brightness=float(np.median(means[:band][smooth])) if has_sky else None,
        sky_blueness=float(np.median(blue[:band][smooth])) if has_sky else None,
        sky_grain=float(np.median(grain[:band][smooth])) if has_sky else None,
    )
