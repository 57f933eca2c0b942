"""The sun check: does the light in the picture fit the sun at the claimed place and time?

The sun's elevation at the claim comes from :func:`gtloc.sun.sun_position`. The picture's light is read first from
the camera's exposure value (:func:`~gtloc.evidence.light.exposure_value`), else from its pixels
(:func:`~gtloc.evidence.light.pixel_light`), as one of ``daylight``, ``dark`` or unreadable:

* EXIF: ``EV100 >= 11`` is daylight (only the sun lights an outdoor scene that brightly; a floodlit stadium
  reaches ~9-10); ``EV100 <= 3`` is dark (a night, lit only by the moon or far lamps). In between (lit streets at
  night, interiors, dusk, a dim overcast day) the pixels must agree: a dark, black-skied picture at ``EV100 <= 8``
  is dark; a bright picture whose top is brighter than its bottom at ``EV100 >= 9`` is daylight.
* Pixels alone: dark when the median brightness of the whole picture and of its top third are both below 0.25, or
  below 0.35 with the grain of an amplified dark scene; daylight when the top third is at least 0.45 bright, the
  whole picture at least 0.35, without that grain.

The check abstains (``cannot judge``) when the flash fired, for a close-up (macro, or a subject nearer than 1 m),
a monochrome picture (an infrared night mode), when the light reads as neither, and when the claimed sun is within
6 deg of the horizon (twilight light varies too much with the weather). Otherwise daylight with the sun at least
6 deg up, or a dark picture with the sun at least 6 deg down, is ``consistent``; daylight with the sun at least 6
deg down (8 deg when only the pixels tell) or a dark picture with the sun at least 6 deg up is ``inconsistent``.
The thresholds are set to keep true claims from being called inconsistent: an indoor photo without flash
(``EV100`` 5-8) reads as neither day nor night. What it cannot catch: a screen or a lit sign filling the frame at
night, and a very dark interior at noon. ``benchmarks/bench_sun.py`` measures it against a simple reference rule.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone

from PIL import Image

from gtloc.data.exif import PhotoExif, image_exif, read_photo_exif
from gtloc.data.images import open_photo
from gtloc.evidence.check import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, Check
from gtloc.evidence.light import PixelLight, exposure_value, pixel_light
from gtloc.sun import sun_position

DAYLIGHT_EV = 11.0
DARK_EV = 3.0
MIDDLE_DAYLIGHT_EV = 9.0
MIDDLE_DARK_EV = 8.0
BLACK_TOP = 0.15
MONOCHROME = 0.006
BRIGHT_SKY = 0.6
BLUE_SKY = 0.3
BLUE = 0.12
DEEP_BLUE = 0.25
ORANGE = 0.03
LIT_MEDIAN = 0.2
BRIGHT_ALL = 0.4
BRIGHT_ALL_DARK_SHARE = 0.05
DARK_ALL = 0.2
GRAIN = 0.012
GRAINY_SKY_BRIGHT = 0.65
GRAINY_NIGHT_SKY = 0.5
DIM_SKY = 0.3
BLACK_SKY = 0.1
DIM_SKY_MEDIAN = 0.25
DIM_SKY_TOP = 0.35
GRAINY_MEDIAN = 0.4
SUN_MARGIN_DEG = 6.0
PIXELS_NIGHT_MARGIN_DEG = 10.0
PIXELS_DAY_MARGIN_DEG = 8.0
CLOSE_UP_M = 1.0


@dataclass(frozen=True)
class LightReading:
    """The picture's light: ``daylight``, ``dark`` or ``""`` (unreadable), from ``source`` (``exif``, ``exif and
    pixels``, ``pixels`` or ``""``), with ``why`` in plain words and the figures read."""

    light: str
    source: str
    why: str
    ev100: float | None
    pixels: PixelLight | None


def read_light(image: Image.Image | None, exif: PhotoExif | None) -> LightReading:
    """What ``image`` (upright RGB, or ``None``) and its ``exif`` say about the light (the rule in the docstring)."""
    camera = exif.camera if exif is not None else None
    pixels = pixel_light(image) if image is not None else None
    if camera is not None and camera.flash_fired:
        return LightReading("", "", "the flash fired, so the picture does not show the ambient light", None, pixels)
    if camera is not None and (camera.macro or (camera.subject_distance or CLOSE_UP_M) < CLOSE_UP_M):
        return LightReading("", "", "a close-up: the subject's light says little about the sky", None, pixels)
    ev = exposure_value(camera) if camera is not None else None
    seen, seen_why = ("", "")
    if pixels is not None:
        if pixels.colourfulness < MONOCHROME or pixels.colour_spread < MONOCHROME:
            if ev is None or DARK_EV < ev < DAYLIGHT_EV:
                why = "a monochrome picture (an infrared night mode?) does not show the light"
                return LightReading("", "", why, ev, pixels)
        else:
            seen, seen_why = pixel_reading(pixels)
    if ev is not None and (ev >= DAYLIGHT_EV or ev <= DARK_EV):
        light = "daylight" if ev >= DAYLIGHT_EV else "dark"
        exposed = f"the camera exposed for {'daylight' if light == 'daylight' else 'a dark scene'} (EV {ev:.1f})"
        if seen and seen != light:
            return LightReading("", "", f"{exposed}, but {seen_why}: the two disagree", ev, pixels)
        return LightReading(light, "exif", exposed, ev, pixels)
    if ev is None:
        if seen:
            return LightReading(seen, "pixels", seen_why, None, pixels)
        why = "no exposure in EXIF, and the picture shows no clear day or night light" if pixels else "no exposure in EXIF"
        return LightReading("", "", why, None, pixels)
    if seen == "dark" and ev <= MIDDLE_DARK_EV and pixels is not None and pixels.top_median < BLACK_TOP:
        return LightReading("dark", "exif and pixels", f"a dim exposure (EV {ev:.1f}) and {seen_why}", ev, pixels)
    if seen == "daylight" and ev >= MIDDLE_DAYLIGHT_EV:
        return LightReading("daylight", "exif and pixels", f"a bright exposure (EV {ev:.1f}) and {seen_why}", ev, pixels)
    return LightReading("", "", f"the exposure (EV {ev:.1f}) is between day and night (a lit interior?)", ev, pixels)


def pixel_reading(p: PixelLight) -> tuple[str, str]:
    """``(light, why)`` from the pixels alone: ``daylight``, ``dark`` or ``""`` (the rule in the docstring)."""
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
    if p.has_sky and p.sky_brightness >= BRIGHT_SKY and p.median >= LIT_MEDIAN:
        return f"a bright {'blue' if p.sky_blueness >= BLUE else 'white-gray'} sky over a lit scene"
    if p.has_sky and p.sky_brightness >= BLUE_SKY and p.sky_blueness >= DEEP_BLUE and p.median >= LIT_MEDIAN:
        return "a deep blue sky over a lit scene"
    if p.median >= BRIGHT_ALL and p.top_median >= BRIGHT_ALL and p.dark_share <= BRIGHT_ALL_DARK_SHARE:
        return "the picture is bright from top to bottom"
    return ""


def _night_cue(p: PixelLight) -> str:
    if p.median <= DARK_ALL and p.top_median <= DARK_ALL:
        return "the picture is dark, its top too"
    if (
        p.has_sky
        and p.sky_brightness <= DIM_SKY
        and p.sky_blueness <= BLUE
        and p.median <= DIM_SKY_MEDIAN
        and p.top_median <= DIM_SKY_TOP
    ):
        return f"a {'black' if p.sky_brightness <= BLACK_SKY else 'dim'} sky over a dim scene"
    if (
        p.has_sky
        and p.sky_grain >= GRAIN
        and p.sky_brightness <= GRAINY_NIGHT_SKY
        and p.sky_blueness <= BLUE
        and p.median <= GRAINY_MEDIAN
    ):
        return "a dim, grainy sky: the camera amplified the dark"
    return ""


def check_sun(
    photo: str | os.PathLike[str] | Image.Image | None,
    lat: float,
    lon: float,
    utc_time: datetime,
    *,
    exif: PhotoExif | None = None,
) -> Check:
    """The sun check of the claim "``photo`` was taken at ``(lat, lon)`` at ``utc_time``".

    ``photo``: a file (its EXIF and pixels are read), a PIL image (its EXIF, if any, and pixels), or ``None`` with
    ``exif`` alone. ``utc_time``: aware (any zone), or naive UTC. ``exif`` overrides the photo's own EXIF.
    Raises :class:`~gtloc.data.images.ImageDecodeError` for a file that cannot be decoded.
    """
    when = utc_time.replace(tzinfo=timezone.utc) if utc_time.tzinfo is None else utc_time
    sun = sun_position(lat, lon, when)
    image = None
    if photo is not None:
        if exif is None:
            exif = image_exif(photo) if isinstance(photo, Image.Image) else read_photo_exif(photo, check_pixels=False)
        image = open_photo(photo)
    light = read_light(image, exif)
    figures: dict[str, object] = {
        "sun_elevation_deg": round(sun.elevation_deg, 2),
        "sun_azimuth_deg": round(sun.azimuth_deg, 2),
        "light": sun.light,
        "picture_light": light.light or "unreadable",
        "light_source": light.source,
        "ev100": None if light.ev100 is None else round(light.ev100, 2),
    }
    if light.pixels is not None:
        figures |= {
            "median_brightness": round(light.pixels.median, 3),
            "top_brightness": round(light.pixels.top_median, 3),
            "sky_brightness": None if light.pixels.sky_brightness is None else round(light.pixels.sky_brightness, 3),
        }
    sky = f"the sun is {abs(sun.elevation_deg):.0f} deg {'above' if sun.elevation_deg >= 0 else 'below'} the horizon"
    if not light.light:
        return Check("sun", CANNOT_JUDGE, f"{sky}, but the light cannot be read: {light.why}", figures)
    if abs(sun.elevation_deg) < SUN_MARGIN_DEG:
        return Check("sun", CANNOT_JUDGE, f"{sky} ({sun.light}): twilight light varies too much to judge", figures)
    from_pixels = "pixels" in light.source
    if light.light == "daylight" and sun.elevation_deg >= SUN_MARGIN_DEG:
        return Check("sun", CONSISTENT, f"{sky} and {light.why}", figures)
    if light.light == "dark" and sun.elevation_deg <= -SUN_MARGIN_DEG:
        return Check("sun", CONSISTENT, f"{sky} ({sun.light}) and {light.why}", figures)
    if light.light == "dark" and sun.elevation_deg >= (PIXELS_DAY_MARGIN_DEG if from_pixels else SUN_MARGIN_DEG):
        return Check("sun", INCONSISTENT, f"{sky} ({sun.light}), but {light.why}", figures)
    if light.light == "daylight" and sun.elevation_deg <= -(PIXELS_NIGHT_MARGIN_DEG if from_pixels else SUN_MARGIN_DEG):
        return Check("sun", INCONSISTENT, f"{sky} ({sun.light}), but {light.why}", figures)
    return Check("sun", CANNOT_JUDGE, f"{sky} ({sun.light}), too near twilight to rule out {light.why}", figures)
