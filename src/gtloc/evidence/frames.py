"""A fixed camera's frames read together: a frame whose light cannot be read alone is read against the camera's
other frames.

A webcam looks at one view through one processing (exposure program, white balance, tone curve, denoising,
JPEG) at every hour. Alone, a dull day and a night the camera brightened can look the same (see
:mod:`gtloc.evidence.light`); against the same camera's own frames that were read as daylight and as dark, they
usually do not: the processing that moved the brightness and colour moved them the same way on every frame.

First (:func:`read_frames_together`, at least :data:`MIN_FRAMES` frames): a frame the pixels read as daylight whose sky
is :data:`AMPLIFIED` times as grainy as the camera's clean daylit skies (and grainier than :data:`MIN_GRAIN`) is left
unread: one sensor and one processing made them all, so its grain is the camera's gain, lifting a dim scene. Alone such
a frame can pass for a dull day; the absolute grain bound of :mod:`gtloc.evidence.light` is set for all cameras at once,
far above what one camera's clean skies show. Then the rule: among the frames of one camera (at least
:data:`MIN_FRAMES`, with at least :data:`MIN_ANCHORS` read as daylight and as many read as dark by the rule for one
picture), each frame left unread is described by its pixel statistics (:data:`FEATURES`), each scaled by its spread over
the camera's frames. It is read as daylight when its nearest frame read as daylight is nearer than :data:`MARGIN` times
the distance to its nearest frame read as dark, as dark the other way round, and stays unread in between. Left out, and
left unread: frames read from EXIF (their exposure value decides), monochrome frames (an infrared night mode lights the
scene like a dull day, unlike the camera's colour frames), and frames that do not show the ambient light (the flash
fired, a close-up). The readings it makes come from the pixels, so the sun check keeps its pixel margins (the sun 10 deg
down for a daylight frame, 8 deg up for a dark one, before it calls a claim inconsistent).

It holds only for frames of one fixed view: photos of different scenes read together borrow each other's light.
``benchmarks/bench_sun.py`` measures it on fixed webcams (and on different scenes read together, as a warning).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from gtloc.evidence.light import PixelLight, is_monochrome
from gtloc.evidence.sun import LightReading

MIN_FRAMES = 8
"""A camera with fewer frames is not read together."""
MIN_ANCHORS = 3
"""Frames the rule for one picture read as daylight, and as dark, that a camera needs."""
MARGIN = 0.5
"""An unread frame takes the light of its nearest read frame when the nearest of the other light is at least
``1 / MARGIN`` times as far."""
AMPLIFIED = 4.0
"""A frame read as daylight from its pixels whose sky grain is at least this many times the camera's clean daylit
skies' (the lowest quarter of its frames read as daylight) ..."""
MIN_GRAIN = 0.002
"""... and at least this (a clean sky's grain is a few ten-thousandths) is not read as daylight: the same sensor and
processing made it, so the grain is the camera's gain, and a gain that high was lifting a dim scene (a night a
camera brightened until it looks like a dull day)."""
SOURCE = "pixels and the camera's other frames"
"""The :attr:`~gtloc.evidence.sun.LightReading.source` of a reading made here (it contains ``pixels``: the sun
check's pixel margins apply)."""
FEATURES = (
    "median brightness",
    "top third's brightness",
    "bottom third's brightness",
    "sky brightness (the top third's without a sky)",
    "sky grain (log)",
    "share of blown-out pixels",
    "share of black pixels",
    "sky blueness (0 without a sky)",
)
"""What describes a frame, in the order of :func:`frame_features`."""


def frame_features(p: PixelLight) -> np.ndarray:
    """``(len(FEATURES),)`` the statistics that describe a frame's light."""
    sky = p.sky_brightness if p.has_sky else p.top_median
    grain = math.log(1e-4 + (p.sky_grain or 0.0))
    blueness = p.sky_blueness if p.has_sky else 0.0
    return np.array(
        [p.median, p.top_median, p.bottom_median, sky, grain, p.bright_share, p.dark_share, blueness], np.float64
    )


def _open(reading: LightReading | None) -> bool:
    """A frame left unread that the camera's other frames may read: pixels, colour, ambient light, no EXIF value."""
    return (
        reading is not None
        and not reading.light
        and reading.ambient
        and reading.ev100 is None
        and reading.pixels is not None
        and not is_monochrome(reading.pixels)
    )


def _amplified(readings: list[LightReading | None], described: list[int]) -> set[int]:
    """The frames whose daylight, read from their pixels, is taken back (their sky :data:`AMPLIFIED` times as grainy
    as the camera's clean daylit skies), each left unread in ``readings`` with the reason saying why."""
    skies = [readings[i].pixels.sky_grain for i in described if readings[i].light == "daylight"]
    skies = sorted(g for g in skies if g is not None)
    if len(skies) < MIN_ANCHORS:
        return set()
    clean = skies[len(skies) // 4]
    taken = set()
    for i in described:
        r = readings[i]
        grain = r.pixels.sky_grain
        if r.light != "daylight" or r.source != "pixels" or grain is None or grain < max(AMPLIFIED * clean, MIN_GRAIN):
            continue
        why = (
            f"alone it looks like day ({r.why}), but its sky is {grain / max(clean, 1e-6):.0f} times as grainy as "
            "this camera's clean daylit skies: the camera amplified a dimmer scene"
        )
        readings[i] = replace(r, light="", source="", why=why)
        taken.add(i)
    return taken


def read_frames_together(readings: Sequence[LightReading | None]) -> list[LightReading | None]:
    """The light of each frame of one fixed camera (``readings``: each frame's own reading,
    :func:`~gtloc.evidence.sun.read_light`; ``None`` for a frame that could not be read), with daylight taken back
    from amplified frames and the frames left unread read against the others, where the rules in the module
    docstring decide. Same order and length."""
    described = [i for i, r in enumerate(readings) if r is not None and r.pixels is not None]
    if len(described) < MIN_FRAMES:
        return list(readings)
    readings = list(readings)
    taken = _amplified(readings, described)
    out = list(readings)
    day = [i for i in described if readings[i].light == "daylight"]
    dark = [i for i in described if readings[i].light == "dark"]
    if len(day) < MIN_ANCHORS or len(dark) < MIN_ANCHORS:
        return out
    features = {i: frame_features(readings[i].pixels) for i in described}
    scale = np.stack(list(features.values())).std(axis=0) + 1e-3
    for i in described:
        if not _open(readings[i]):
            continue
        near_day = min(float(np.linalg.norm((features[i] - features[j]) / scale)) for j in day)
        near_dark = min(float(np.linalg.norm((features[i] - features[j]) / scale)) for j in dark)
        if near_day < MARGIN * near_dark and i not in taken:
            light, like, unlike = "daylight", f"{len(day)} read as daylight", f"{len(dark)} read as dark"
        elif near_dark < MARGIN * near_day:
            light, like, unlike = "dark", f"{len(dark)} read as dark", f"{len(day)} read as daylight"
        else:
            continue
        why = (
            f"alone its light cannot be read, but among this camera's frames it looks like the {like}, not the {unlike}"
        )
        out[i] = replace(readings[i], light=light, source=SOURCE, why=why)
    return out
