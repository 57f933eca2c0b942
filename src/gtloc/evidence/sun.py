"""The sun check: does the light in the picture fit the sun at the claimed place and time?

The sun's elevation at the claim comes from :func:`gtloc.sun.sun_position`. The picture's light is read as
``daylight``, ``dark`` or unreadable from two independent readings, the camera's exposure value
(:func:`~gtloc.evidence.light.exposure_value`) and the pixels (:func:`~gtloc.evidence.light.pixel_reading`, which
reads the sky: the rule and its thresholds are in :mod:`gtloc.evidence.light`):

* ``EV100 >= 11`` is daylight (only the sun lights an outdoor scene that brightly; a floodlit stadium reaches
  ~9-10); ``EV100 <= 3`` is dark (a night, lit only by the moon or far lamps). If the pixels read the opposite (a
  moon or a screen filling a black frame; a long exposure through a dark filter by day), the light is unreadable;
  except that daylight pixels at ``EV100 <= 3`` and ISO 800 or more are dark: a dark filter is used at a low ISO,
  while a camera that raised its ISO that far and still exposed for a dark scene was short of light (a phone's night
  mode brightens such a night until it looks like a dull day).
* In between (lit streets at night, interiors, dusk, a dim overcast day) the pixels must agree. At ``EV100 <= 8``
  the light is dark under dark pixels with a black top third, or under a grainy sky (pixel-to-pixel noise in the
  smooth cells at the top, ``sky_grain >= GRAIN``; not deep blue; in a picture with colour) that the pixels do not
  read as daylight: the camera amplified a dim scene. At ``EV100 <= 5`` such a grainy sky is dark even where the
  pixels look like day (a daylit sky is the least grainy part of a picture, and one exposed at EV 5 would be blown
  out: a night mode brightened it). At ``EV100 >= 9`` daylight pixels are daylight. Anything else is unreadable: a
  lit interior (``EV100`` 5-8, no grainy sky) is neither day nor night.
* Without exposure tags (webcam frames, stripped files) the pixels alone decide; so they do when the tags cannot be
  used (an exposure time of 0, ISO 0, a negative f-number), and the reason says which tag was wrong.

The check abstains (``cannot judge``) when the flash fired, for a close-up (macro, or a subject nearer than 1 m),
a monochrome picture without a decisive exposure value (an infrared night mode), when the light is unreadable, and
when the claimed sun is within 6 deg of the horizon (twilight light varies too much with the weather). Daylight
with the sun at least 6 deg up, or a dark picture with the sun at least 6 deg down, is ``consistent``. Daylight
with the sun at least 6 deg down, or a dark picture with the sun at least 6 deg up, is ``inconsistent``; when the
pixels took part in the reading the sun must be 10 deg down (an auto-exposed frame of nautical twilight can look
like a dim day) or 8 deg up. In between the check abstains ("too near twilight").

The thresholds keep true claims from being called inconsistent, at the cost of abstaining more. What it cannot
catch: a lit interior at night, a night-mode photo whose sky shows no grain (a phone that stacks and denoises its
frames, or any photo of many megapixels: the grain is measured on a 256-pixel copy) at ``EV100`` 3-8, a night at
``EV100`` above 8, a night under a bright orange overcast sky, a scene without sky that is neither bright nor black.
What can still fool it: a very dark interior at noon, a small, grainy picture of a dim interior at noon with a
smooth ceiling at ``EV100 <= 8``, a picture of a screen or a lit sign at night without EXIF.
``benchmarks/bench_sun.py`` measures it against the issue's reference rule on generated and real pictures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone

from PIL import Image

from gtloc.data.exif import PhotoExif, image_exif, read_photo_exif
from gtloc.data.images import open_photo
from gtloc.evidence.check import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, Check
from gtloc.evidence.light import GRAIN, PixelLight, exposure_value, is_monochrome, pixel_light, pixel_reading
from gtloc.sun import sun_position

DAYLIGHT_EV = 11.0
DARK_EV = 3.0
MIDDLE_DAYLIGHT_EV = 9.0
MIDDLE_DARK_EV = 8.0
BLACK_TOP = 0.15
NIGHT_ISO = 800.0
NIGHT_MODE_EV = 5.0
AMPLIFIED_DEEP_BLUE = 0.25
SUN_MARGIN_DEG = 6.0
PIXELS_NIGHT_MARGIN_DEG = 10.0
PIXELS_DAY_MARGIN_DEG = 8.0
CLOSE_UP_M = 1.0


@dataclass(frozen=True)
class LightReading:
    """The picture's light: ``daylight``, ``dark`` or ``""`` (unreadable), from ``source`` (``exif``, ``exif and
    pixels``, ``pixels``, ``pixels and the camera's other frames`` or ``""``), with ``why`` in plain words and the
    figures read. ``ambient``: ``False`` when the picture does not show the ambient light at all (the flash fired,
    a close-up)."""

    light: str
    source: str
    why: str
    ev100: float | None
    pixels: PixelLight | None
    ambient: bool = True


def read_light(image: Image.Image | None, exif: PhotoExif | None) -> LightReading:
    """What ``image`` (upright RGB, or ``None``) and its ``exif`` say about the light (the rule in the docstring).
    Exposure tags that cannot be used (an exposure time of 0, ISO 0, a negative f-number:
    :attr:`~gtloc.data.exif.CameraSettings.problem`) are named in the reading's ``why``."""
    camera = exif.camera if exif is not None else None
    problem = camera.problem if camera is not None else ""
    pixels = pixel_light(image) if image is not None else None
    if camera is not None and camera.flash_fired:
        why = "the flash fired, so the picture does not show the ambient light"
        return LightReading("", "", why, None, pixels, ambient=False)
    if camera is not None and (camera.macro or (camera.subject_distance or CLOSE_UP_M) < CLOSE_UP_M):
        why = "a close-up: the subject's light says little about the sky"
        return LightReading("", "", why, None, pixels, ambient=False)
    ev = exposure_value(camera) if camera is not None else None
    decisive = ev is not None and not DARK_EV < ev < DAYLIGHT_EV
    seen, seen_why = pixel_reading(pixels) if pixels is not None else ("", "")
    if ev is None:
        unusable = f"the camera's exposure tags cannot be used ({problem})" if problem else ""
        if seen:
            why = f"{seen_why} (read from the pixels alone: {unusable})" if unusable else seen_why
            return LightReading(seen, "pixels", why, None, pixels)
        if pixels is None:
            return LightReading("", "", unusable or "no exposure in EXIF", None, pixels)
        why = seen_why or "the picture shows no clear day or night light"
        return LightReading("", "", f"{unusable}, and {why}" if unusable else why, None, pixels)
    ev_text = f"EV {ev:.1f}" + (f"; left out: {problem}" if problem else "")
    if decisive:
        light = "daylight" if ev >= DAYLIGHT_EV else "dark"
        exposed = f"the camera exposed for {'daylight' if light == 'daylight' else 'a dark scene'} ({ev_text})"
        if light == "dark" and seen == "daylight" and (camera.iso or 0.0) >= NIGHT_ISO:
            # A long exposure through a dark filter by day is made at a low ISO; a camera that raised its ISO to
            # 800 or more and still exposed for a dark scene was short of light: a night mode brightened the pixels.
            why = f"{exposed}, at ISO {camera.iso:.0f}: a night mode brightened a dark scene ({seen_why})"
            return LightReading("dark", "exif", why, ev, pixels)
        if seen and seen != light:
            why = f"{exposed}, but {seen_why}: the two disagree (the moon, a screen, a filter?)"
            return LightReading("", "", why, ev, pixels)
        return LightReading(light, "exif", exposed, ev, pixels)
    if seen == "dark" and ev <= MIDDLE_DARK_EV and pixels is not None and pixels.top_median < BLACK_TOP:
        return LightReading("dark", "exif and pixels", f"a dim exposure ({ev_text}) and {seen_why}", ev, pixels)
    if ev <= MIDDLE_DARK_EV and (seen != "daylight" or ev <= NIGHT_MODE_EV) and _amplified_sky(pixels):
        # A daylit sky is the least grainy part of a picture; one exposed at EV 5 or less would be blown out, so a
        # grainy sky that looks like day there was brightened by the camera (a night mode).
        why = f"a dim exposure ({ev_text}) and a grainy sky: the camera amplified a dark scene"
        if seen == "daylight":
            why += f" (its pixels look like day: {seen_why})"
        return LightReading("dark", "exif and pixels", why, ev, pixels)
    if seen == "daylight" and ev >= MIDDLE_DAYLIGHT_EV:
        why = f"a bright exposure ({ev_text}) and {seen_why}"
        return LightReading("daylight", "exif and pixels", why, ev, pixels)
    return LightReading("", "", f"the exposure ({ev_text}) is between day and night (a lit interior?)", ev, pixels)


def _amplified_sky(pixels: PixelLight | None) -> bool:
    """A sky in view, grainy (pixel-to-pixel noise: the camera's gain), and not the deep blue of a day, in a picture
    with colour (an infrared night mode lights a scene like a dull day)."""
    return (
        pixels is not None
        and not is_monochrome(pixels)
        and pixels.has_sky
        and pixels.sky_grain >= GRAIN
        and pixels.sky_blueness < AMPLIFIED_DEEP_BLUE
    )


def check_sun(
    photo: str | os.PathLike[str] | Image.Image | None,
    lat: float,
    lon: float,
    utc_time: datetime,
    *,
    exif: PhotoExif | None = None,
    light: LightReading | None = None,
) -> Check:
    """The sun check of the claim "``photo`` was taken at ``(lat, lon)`` at ``utc_time``".

    ``photo``: a file (its EXIF and pixels are read), a PIL image (its EXIF, if any, and pixels), or ``None`` with
    ``exif`` alone. ``utc_time``: aware (any zone), or naive UTC. ``exif`` overrides the photo's own EXIF.
    ``light``: the picture's light read already (:func:`read_light`, or a fixed camera's frames read together:
    :func:`~gtloc.evidence.frames.read_frames_together`); then ``photo`` is not read again.
    Raises :class:`~gtloc.data.images.ImageDecodeError` for a file that cannot be decoded.
    """
    when = utc_time.replace(tzinfo=timezone.utc) if utc_time.tzinfo is None else utc_time
    sun = sun_position(lat, lon, when)
    if light is None:
        if photo is not None and exif is None:
            exif = image_exif(photo) if isinstance(photo, Image.Image) else read_photo_exif(photo, check_pixels=False)
        light = read_light(None if photo is None else open_photo(photo), exif)
    figures: dict[str, object] = {
        "sun_elevation_deg": round(sun.elevation_deg, 2),
        "sun_azimuth_deg": round(sun.azimuth_deg, 2),
        "light": sun.light,
        "picture_light": light.light or "unreadable",
        "light_source": light.source,
        "ev100": None if light.ev100 is None else round(light.ev100, 2),
        "exposure_problem": exif.camera.problem if exif is not None else "",
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
