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
SUN_MARGIN_DEG = 6.0
PIXELS_NIGHT_MARGIN_DEG = 8.0
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
    if ev is not None:
        if ev >= DAYLIGHT_EV:
            return LightReading("daylight", "exif", f"the camera exposed for daylight (EV {ev:.1f})", ev, pixels)
        if ev <= DARK_EV:
            return LightReading("dark", "exif", f"the camera exposed for a dark scene (EV {ev:.1f})", ev, pixels)
    if pixels is None:
        why = f"the exposure (EV {ev:.1f}) is between day and night" if ev is not None else "no exposure in EXIF"
        return LightReading("", "", why, ev, None)
    if pixels.colourfulness < 0.01:
        return LightReading(
            "", "", "a monochrome picture (an infrared night mode?) does not show the light", ev, pixels
        )
    seen = _pixel_light(pixels)
    if ev is None:
        if seen:
            return LightReading(seen, "pixels", _pixel_why(seen), None, pixels)
        return LightReading("", "", "the picture's brightness is between day and night", None, pixels)
    if seen == "dark" and ev <= 8.0 and pixels.top_median < 0.15:
        why = f"a dim exposure (EV {ev:.1f}) under a black sky: a night lit by lamps"
        return LightReading("dark", "exif and pixels", why, ev, pixels)
    if seen == "daylight" and ev >= 9.0:
        why = f"a bright sky over the scene at EV {ev:.1f}: a dull day"
        return LightReading("daylight", "exif and pixels", why, ev, pixels)
    return LightReading("", "", f"the exposure (EV {ev:.1f}) is between day and night (a lit interior?)", ev, pixels)


def _pixel_light(p: PixelLight) -> str:
    if p.top_median < 0.25 and p.median < 0.25:
        return "dark"
    if p.noise >= 0.01 and p.top_median < 0.35 and p.median < 0.35:
        return "dark"
    if p.top_median >= 0.45 and p.median >= 0.35 and p.noise < 0.01:
        return "daylight"
    return ""


def _pixel_why(light: str) -> str:
    if light == "dark":
        return "the picture is dark, its sky too"
    return "the picture is bright, with a bright sky over the scene"


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
        }
    sky = f"the sun is {abs(sun.elevation_deg):.0f} deg {'above' if sun.elevation_deg >= 0 else 'below'} the horizon"
    if not light.light:
        return Check("sun", CANNOT_JUDGE, f"{sky}, but the light cannot be read: {light.why}", figures)
    if abs(sun.elevation_deg) < SUN_MARGIN_DEG:
        return Check("sun", CANNOT_JUDGE, f"{sky} ({sun.light}): twilight light varies too much to judge", figures)
    night_margin = PIXELS_NIGHT_MARGIN_DEG if light.source == "pixels" else SUN_MARGIN_DEG
    if light.light == "daylight" and sun.elevation_deg >= SUN_MARGIN_DEG:
        return Check("sun", CONSISTENT, f"{sky} and {light.why}", figures)
    if light.light == "dark" and sun.elevation_deg <= -SUN_MARGIN_DEG:
        return Check("sun", CONSISTENT, f"{sky} ({sun.light}) and {light.why}", figures)
    if light.light == "dark":
        return Check("sun", INCONSISTENT, f"{sky} ({sun.light}), but {light.why}", figures)
    if sun.elevation_deg <= -night_margin:
        return Check("sun", INCONSISTENT, f"{sky} ({sun.light}), but {light.why}", figures)
    return Check("sun", CANNOT_JUDGE, f"{sky} ({sun.light}), too near twilight to rule out {light.why}", figures)
