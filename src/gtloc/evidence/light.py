"""What a picture says about the light it was taken in: the camera's exposure value, or its pixels.

* :func:`exposure_value`: the scene's exposure value at ISO 100 from EXIF, ``EV100 = log2(N^2 / t) - log2(ISO / 100)``
  (``N`` the f-number, ``t`` the exposure time in seconds), plus any exposure bias the photographer dialled in
  (the meter's own reading). Roughly: 14-16 sunny day, 11-13 overcast or a sun low in the sky, 8-10 dusk or a bright
  interior, 5-8 lit streets at night or a home interior, below 3 a dark night.
* :func:`pixel_light`: statistics of the pixels for pictures without exposure tags (webcam frames, stripped files),
  measured on a copy at most :data:`STATS_SIDE` pixels long: median brightness of the whole picture and of its top
  third (where the sky usually is), how bright the top is against the bottom, the share of near-black and of
  near-white pixels, colourfulness, the sky's colour, and the sensor noise a camera shows when it amplifies the dark.

Brightness is the sRGB luma ``0.299 R + 0.587 G + 0.114 B`` in ``[0, 1]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from gtloc.data.exif import CameraSettings

STATS_SIDE = 256
"""Pixel statistics are measured on a copy whose longer side is at most this many pixels."""


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
    third. ``dark_share``/``bright_share``: pixels darker than 0.08 / brighter than 0.92. ``colourfulness``: mean
    distance of the pixels from gray (0 for a monochrome picture such as a webcam's infrared night mode).
    ``top_blueness``: mean ``B - R`` of the top third (a day sky is blue or white, a lit night sky orange or black).
    ``noise``: robust standard deviation of the picture minus its 3x3 median (brightness units).
    """

    median: float
    top_median: float
    bottom_median: float
    dark_share: float
    bright_share: float
    colourfulness: float
    top_blueness: float
    noise: float


def pixel_light(image: Image.Image) -> PixelLight:
    """The :class:`PixelLight` of an RGB picture (upright: the top third must be the top of the scene)."""
    small = image.convert("RGB")
    if max(small.size) > STATS_SIDE:
        small.thumbnail((STATS_SIDE, STATS_SIDE), Image.Resampling.BILINEAR)
    rgb = np.asarray(small, dtype=np.float32) / 255.0
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    rows = luma.shape[0]
    top, bottom = luma[: max(1, rows // 3)], luma[rows - max(1, rows // 3) :]
    gray = np.asarray(small.convert("L"), dtype=np.float32) / 255.0
    smooth = np.asarray(small.convert("L").filter(ImageFilter.MedianFilter(3)), dtype=np.float32) / 255.0
    residual = (gray - smooth)[1:-1, 1:-1]
    noise = 1.4826 * float(np.median(np.abs(residual - np.median(residual)))) if residual.size else 0.0
    top_rgb = rgb[: max(1, rows // 3)]
    return PixelLight(
        median=float(np.median(luma)),
        top_median=float(np.median(top)),
        bottom_median=float(np.median(bottom)),
        dark_share=float((luma < 0.08).mean()),
        bright_share=float((luma > 0.92).mean()),
        colourfulness=float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean()),
        top_blueness=float((top_rgb[..., 2] - top_rgb[..., 0]).mean()),
        noise=noise,
    )
