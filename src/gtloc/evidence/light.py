"""What a picture says about the light it was taken in: the camera's exposure value, or its pixels.

* :func:`exposure_value`: the scene's exposure value at ISO 100 from EXIF, ``EV100 = log2(N^2 / t) - log2(ISO / 100)``
  (``N`` the f-number, ``t`` the exposure time in seconds), plus any exposure bias the photographer dialled in
  (the meter's own reading). Roughly: 14-16 sunny day, 11-13 overcast or a sun low in the sky, 8-10 dusk or a bright
  interior, 5-8 lit streets at night or a home interior, below 3 a dark night.
* :func:`pixel_light`: statistics of the pixels, measured on a copy at most :data:`STATS_SIDE` pixels long. Besides
  the brightness of the whole picture and of its top and bottom thirds, it looks for the **sky**: the smooth,
  untextured and not leaf-green cells (:data:`CELL` pixels a side) of the top :data:`SKY_BAND` of the picture. A
  daylit sky is bright and white-gray or blue (deep blue when it is dim); a night sky is black, or glows orange with
  city light, and where the camera amplified the dark it is grainy (pixel-to-pixel noise, which texture is not)
  or shows stars (single pixels brighter than all around them, which a daylit sky outshines).
  The sky is what separates a dull day from a lit street at night, which overall brightness alone does not. A night
  is read from the sky only where its smooth cells reach the top of the picture (an open sky; the wall and windows of
  a facade filling the frame are smooth too, and a dull day lights them dimly).
* :func:`pixel_reading`: the transparent rule that turns those statistics into ``daylight``, ``dark`` or nothing, with
  the reason in plain words. Daylight: a bright white-gray or blue sky, or a dim but deep blue one, over a lit scene; or
  a picture bright from top to bottom with hardly any black and no dim sky in view. Never under an orange or a grainy,
  dim sky, nor under a sky with five or more stars (however bright the camera made it). Dark: the whole picture and its
  top dark; a dim (not blue) sky over a dim scene; lamps blown out under a black sky; a grainy, dim sky (an amplified
  dark); five or more stars in a dim sky; a dim sky glowing a muted orange (city light on clouds or haze) over a darker
  ground and a dim scene (a sunset's orange is more vivid; dust by day lights the ground as brightly as the sky). Never
  when a daylight cue holds too. The thresholds (constants below) were set on generated pictures (the orange glow and
  the stars on other seeds than the ones ``benchmarks/bench_sun.py`` reports) and the real fixture photos (the glow's
  and the dim sky's colour bounds so that a warm white balance on a dull day is not a night), with a margin towards
  abstaining, and are measured by that benchmark, where darker and webcam-degraded copies of the real photos check that
  a dull day is not read as night. Without EXIF a phone's night mode, a bright orange overcast night sky, a dim
  blue-gray sky without stars (an underexposed dull day looks the same) and a scene without sky that is neither bright
  nor black stay unread; so do a dull gray day and a night the camera brightened until it looks like one (no pixel
  statistic here tells them apart). What can fool the orange glow: a sky darkened orange by wildfire smoke at noon, or a
  dim, hazy day through a strong warm white balance (a camera's "cloudy" preset) over a dark ground; the stars: five lit
  lamps or sunlit glints by day in the smooth part of a dull sky; the daylight cues: a night a camera brightened until
  its sky is a bright gray, under a cool white balance that took the city light's orange out of it.

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

# The pixel rule (pixel_reading). Brightness in [0, 1]; "sky" as measured by pixel_light.
MONOCHROME = 0.006
"""``colourfulness`` below this, or ``colour_spread`` below it with ``colourfulness`` below ``TINT``: a monochrome
picture (an infrared night mode); only a picture dark all over is read then."""
TINT = 0.03
BRIGHT_SKY = 0.6
"""Daylight: a white-gray or blue sky at least this bright ..."""
BLUE_SKY = 0.3
"""... or a deep blue one (``sky_blueness >= DEEP_BLUE``) at least this bright ..."""
DEEP_BLUE = 0.25
BLUE = 0.12
"""``sky_blueness`` from which a sky is called blue."""
LIT_MEDIAN = 0.2
"""... over a scene whose median brightness is at least this; ..."""
BRIGHT_ALL = 0.4
"""... or a picture whose median and top third are both at least this bright ..."""
BRIGHT_ALL_DARK_SHARE = 0.05
"""... with at most this share of black pixels and no sky darker than ``BRIGHT_ALL_SKY`` (a camera can brighten a
night until the whole picture is bright, but a day sky in view is brighter than the scene)."""
BRIGHT_ALL_SKY = 0.5
ORANGE = 0.03
"""No daylight under a sky more orange than this (``sky_blueness < -ORANGE``: city light, a sun on the horizon) ..."""
GRAIN = 0.012
"""... or under a sky this grainy (the camera amplified the dark) ..."""
GRAINY_SKY_BRIGHT = 0.65
"""... and darker than this."""
DARK_ALL = 0.2
"""Dark: median and top third both at most this bright; or ..."""
DIM_SKY = 0.3
"""... a sky (not blue: ``sky_blueness`` at most ``DIM_SKY_BLUE``) at most this bright over a scene whose median is at
most ``DIM_SKY_MEDIAN`` and top third at most ``DIM_SKY_TOP``; or ..."""
DIM_SKY_MEDIAN = 0.25
DIM_SKY_BLUE = 0.08
"""(0.12 until a warm white balance on a real photo 2 EV under made its blue sky read 0.12: the bench's warm cast.)"""
DIM_SKY_TOP = 0.35
BLACK_SKY = 0.1
"""... lamps (``LAMPS`` to ``MAX_LAMPS`` of the pixels blown out) under a black sky (at most this bright, at least
``LAMP_SKY_SHARE`` of the top band) over a scene whose median is at most ``LAMP_MEDIAN``; or ..."""
LAMP_SKY_SHARE = 0.4
LAMPS = 0.001
MAX_LAMPS = 0.05
LAMP_MEDIAN = 0.4
GRAINY_NIGHT_SKY = 0.5
"""... a grainy sky (``GRAIN``), not deep blue, at most this bright, over a scene whose median is at most
``GRAINY_MEDIAN``."""
GRAINY_MEDIAN = 0.4
STAR_LIFT = 0.1
"""A star: a pixel of a sky cell, the brightest of its 3x3 neighbourhood and brighter by at least this than every
pixel two away (a line, an edge or a texture has a bright pixel there; a point of light has not) ..."""
MIN_STARS = 5
"""... and at least this many of them in a sky within the grainy sky's bounds (not deep blue, at most
``GRAINY_NIGHT_SKY`` bright, over a scene whose median is at most ``GRAINY_MEDIAN``): stars, a night's. A daylit sky
outshines every star, and nothing diffuse in the air by day is brighter than the sky that lights it; only lamps and
sunlit glints are, and one plane or bird is not five."""
GLOW = 0.08
"""... or a sky glowing a muted orange (``-VIVID_ORANGE <= sky_blueness <= -GLOW``: city light on clouds or haze;
a sunset's orange is more vivid), at most ``GLOW_SKY`` bright, over a darker ground (bottom third at most
``GLOW_DARKER`` times the sky and at most ``GLOW_GROUND``) and a scene whose median is at most ``GLOW_MEDIAN``."""
VIVID_ORANGE = 0.25
GLOW_SKY = 0.5
GLOW_GROUND = 0.3
GLOW_DARKER = 0.8
"""The ground's median brightness is at most this share of the glowing sky's (0.8 since a dull day under a warm white
balance, its ground nearly as bright as its sky, read as a glowing night: city light on clouds glows over a ground
that lamps light only in pools)."""
GLOW_MEDIAN = 0.35


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
    cell) of those cells, ``None`` when ``sky_share < MIN_SKY_SHARE`` (no sky to read). ``sky_stars``: how many
    points of light (:data:`STAR_LIFT`) those cells hold, 0 without a sky. ``sky_open``: share of the band's cells
    in smooth regions that reach the top of the picture (a sky is open above; the windows of a facade are not).
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
    sky_stars: int
    sky_open: float

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


def _point_lift(luma: np.ndarray) -> np.ndarray:
    """``(H, W)`` how much each pixel that is the brightest of its 3x3 neighbourhood outshines the brightest pixel
    two away (0 for the others, and at most 0 where a line, an edge or a texture reaches that far)."""
    rows, cols = luma.shape
    pad = np.pad(luma, 2, mode="edge")
    near = np.full_like(luma, -np.inf)
    ring = np.full_like(luma, -np.inf)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            shifted = pad[2 + dy : 2 + dy + rows, 2 + dx : 2 + dx + cols]
            if max(abs(dy), abs(dx)) == 2:
                ring = np.maximum(ring, shifted)
            else:
                near = np.maximum(near, shifted)
    return np.where(luma >= near, luma - ring, 0.0)


def _reaching_top(smooth: np.ndarray) -> float:
    """Share of the ``(rows, cols)`` cells in regions of ``smooth`` cells (4-connected) that reach the top row."""
    reached = np.zeros_like(smooth)
    reached[0] = smooth[0]
    for _ in range(smooth.size):
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= smooth
        if (grown == reached).all():
            break
        reached = grown
    return float(reached.mean())


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
    stars = (_point_lift(luma)[: band * side, : cw * side] >= STAR_LIFT).reshape(band, side, cw, side).sum(axis=(1, 3))
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
        sky_stars=int(stars[smooth].sum()) if has_sky else 0,
        sky_open=_reaching_top(smooth),
    )


def is_monochrome(p: PixelLight) -> bool:
    """A picture without colour, or of one faint tint (an infrared night mode, black and white). Light of one strong
    colour (a street under sodium lamps) is not monochrome."""
    return p.colourfulness < MONOCHROME or (p.colour_spread < MONOCHROME and p.colourfulness < TINT)


def pixel_reading(p: PixelLight) -> tuple[str, str]:
    """``(light, why)`` from the pixels alone: ``daylight``, ``dark`` or ``""`` with ``why`` in plain words.

    Daylight and dark each need one of their cues (the constants above) and none of the other's. A monochrome
    picture (:func:`is_monochrome`: an infrared night mode lights the scene like a dull day) is read only when it is
    dark all over.
    """
    if is_monochrome(p):
        if p.median <= DARK_ALL and p.top_median <= DARK_ALL:
            return "dark", "the picture is dark, its top too"
        return "", "a monochrome picture (an infrared night mode?) does not show the light"
    day = _daylight_cue(p)
    night = _night_cue(p)
    if day and night:
        return "", f"{day}, yet {night}"
    if day:
        return "daylight", day
    if night:
        return "dark", night
    return "", ""


def _daylight_cue(p: PixelLight) -> str:
    if p.has_sky and (p.sky_blueness < -ORANGE or (p.sky_grain >= GRAIN and p.sky_brightness < GRAINY_SKY_BRIGHT)):
        return ""  # an orange sky (city light, or the sun on the horizon) or an amplified one: not a daylit one
    if p.has_sky and p.sky_stars >= MIN_STARS:
        return ""  # points of light brighter than the sky around them: a daylit sky outshines every star
    if p.has_sky and p.sky_brightness >= BRIGHT_SKY and p.median >= LIT_MEDIAN:
        return f"a bright {'blue' if p.sky_blueness >= BLUE else 'white-gray'} sky over a lit scene"
    if p.has_sky and p.sky_brightness >= BLUE_SKY and p.sky_blueness >= DEEP_BLUE and p.median >= LIT_MEDIAN:
        return "a deep blue sky over a lit scene"
    dim_sky = p.has_sky and p.sky_brightness < BRIGHT_ALL_SKY
    if p.median >= BRIGHT_ALL and p.top_median >= BRIGHT_ALL and p.dark_share <= BRIGHT_ALL_DARK_SHARE and not dim_sky:
        return "the picture is bright from top to bottom"
    return ""


def _night_cue(p: PixelLight) -> str:
    if p.median <= DARK_ALL and p.top_median <= DARK_ALL:
        return "the picture is dark, its top too"
    if p.sky_open < MIN_SKY_SHARE:
        return ""  # the smooth cells do not reach the top as an open sky (a facade's windows): no night sky to read
    if (
        p.has_sky
        and p.sky_brightness <= DIM_SKY
        and p.sky_blueness <= DIM_SKY_BLUE
        and p.median <= DIM_SKY_MEDIAN
        and p.top_median <= DIM_SKY_TOP
    ):
        return f"a {'black' if p.sky_brightness <= BLACK_SKY else 'dim'} sky over a dim scene"
    if (
        p.has_sky
        and p.sky_brightness <= BLACK_SKY
        and p.sky_share >= LAMP_SKY_SHARE
        and LAMPS <= p.bright_share <= MAX_LAMPS
        and p.median <= LAMP_MEDIAN
    ):
        return "lamps shine under a black sky"
    dim_sky = p.has_sky and p.sky_brightness <= GRAINY_NIGHT_SKY and p.sky_blueness < DEEP_BLUE
    if dim_sky and p.median <= GRAINY_MEDIAN and p.sky_grain >= GRAIN:
        return "a dim, grainy sky: the camera amplified the dark"
    if dim_sky and p.median <= GRAINY_MEDIAN and p.sky_stars >= MIN_STARS:
        return f"{p.sky_stars} stars in a dim sky"
    if (
        p.has_sky
        and -VIVID_ORANGE <= p.sky_blueness <= -GLOW
        and p.sky_brightness <= GLOW_SKY
        and p.bottom_median <= GLOW_DARKER * p.sky_brightness
        and p.bottom_median <= GLOW_GROUND
        and p.median <= GLOW_MEDIAN
    ):
        return "a dim sky glowing orange (city light on clouds) over a darker ground"
    return ""
