"""Sky and light of the synthetic world: day / twilight / night layers, the sun disk, clouds, stars, light levels.

Radiance is linear RGB in arbitrary units (a white wall under the noon sun is about 1). One camera model
(``View``) maps pixels to directions for the sky, the sun and the ground alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gtloc.data.world.climate import OVERCAST, smoothstep
from gtloc.data.world.textures import sample_tile

# log10 of the ambient (sky) light level as a function of the sun's elevation (degrees).
_AMBIENT_ELEV = np.array([-90.0, -18.0, -12.0, -6.0, -3.0, 0.0, 5.0, 15.0, 30.0, 90.0])
_AMBIENT_LOG = np.array([-3.7, -3.7, -3.55, -2.7, -2.0, -1.25, -0.85, -0.6, -0.48, -0.42])
SUN_RADIUS_DEG = 1.4
SUN_SIDE = np.array([1.0, 0.45, 0.16], np.float32)
ANTI_SIDE = np.array([0.30, 0.20, 0.42], np.float32)
DAY_ZENITH = np.array([0.10, 0.24, 0.75], np.float32)
DAY_HORIZON = np.array([0.55, 0.68, 0.90], np.float32)
TWILIGHT_TOP = np.array([0.05, 0.08, 0.26], np.float32)
NIGHT_SKY = np.array([0.35, 0.45, 0.95], np.float32)
CITY_GLOW = np.array([0.9, 0.62, 0.38], np.float32)


@dataclass
class View:
    """A level pinhole camera and the sun in its frame.

    ``size``: image side in pixels; ``focal``: pixels; ``horizon``: row (float) where the horizon lies;
    ``x``: ``(1, size)`` per-column tangent ``(u - size/2) / focal``; ``height``: camera height (m).
    Sun direction in camera axes (right, forward, up): ``sx, sf, su``; horizontal unit direction ``hx, hf``.
    """

    size: int
    focal: float
    horizon: float
    height: float
    x: np.ndarray
    sx: float
    sf: float
    su: float
    hx: float
    hf: float
    elevation: float

    @classmethod
    def build(
        cls, size: int, fov_deg: float, horizon_frac: float, height: float, heading: float, sun_el: float, sun_az: float
    ) -> View:
        focal = float((size / 2) / np.tan(np.radians(fov_deg) / 2))
        x = ((np.arange(size, dtype=np.float32) + 0.5 - size / 2) / np.float32(focal))[None, :]
        rel = np.radians(sun_az - heading)
        e = np.radians(sun_el)
        return cls(
            size=size,
            focal=focal,
            horizon=horizon_frac * size,
            height=height,
            x=x,
            sx=float(np.cos(e) * np.sin(rel)),
            sf=float(np.cos(e) * np.cos(rel)),
            su=float(np.sin(e)),
            hx=float(np.sin(rel)),
            hf=float(np.cos(rel)),
            elevation=float(sun_el),
        )

    def rows_y(self, start: int, stop: int) -> np.ndarray:
        """``(stop-start, 1)`` per-row tangent of the elevation angle (positive above the horizon)."""
        v = np.arange(start, stop, dtype=np.float32) + 0.5
        return ((self.horizon - v) / self.focal)[:, None]


@dataclass
class Light:
    """Light at the scene: ``ambient`` sky irradiance ``(3,)``, ``direct`` sun irradiance ``(3,)`` (0 when
    the sun is hidden or down), ``shadow`` strength in ``[0, 1]``, ``sky_level`` scalar sky radiance scale,
    layer weights ``w_day, w_twilight, w_night``, ``lamps_on`` and the city glow level ``glow``."""

    ambient: np.ndarray
    direct: np.ndarray
    shadow: float
    sky_level: float
    w_day: float
    w_twilight: float
    w_night: float
    lamps_on: bool
    glow: float


def sun_colour(elevation: float) -> np.ndarray:
    """``(3,)`` colour of direct sunlight: white-yellow high up, orange near the horizon."""
    warm = float(smoothstep(18.0, 0.0, elevation))
    return (np.array([1.0, 0.93, 0.84]) * (1 - warm) + np.array([1.0, 0.55, 0.24]) * warm).astype(np.float32)


def scene_light(elevation: float, cloud: float, sun_hidden: bool, urban: float) -> Light:
    """Light levels from the sun's elevation (deg), cloud cover ``[0, 1]``, a hidden sun and urban density."""
    level = float(10 ** np.interp(elevation, _AMBIENT_ELEV, _AMBIENT_LOG))
    overcast = cloud >= OVERCAST
    glow = 0.0006 * urban * (1.0 + 1.5 * overcast)
    sky_tint = np.array([0.80, 0.88, 1.0]) if not overcast else np.array([0.92, 0.94, 0.97])
    ambient = (level * (0.8 if overcast else 1.0) * sky_tint + glow * CITY_GLOW).astype(np.float32)
    sun_up = float(smoothstep(-0.5, 4.0, elevation))
    transmission = float(np.exp(-0.1 / max(np.sin(np.radians(max(elevation, 0.5))), 0.02)))
    direct_level = 0.0 if overcast else 1.1 * sun_up * transmission * (0.15 if sun_hidden else 1.0)
    w_day = float(smoothstep(-3.0, 6.0, elevation))
    w_night = float(smoothstep(-9.0, -15.0, elevation))
    return Light(
        ambient=ambient,
        direct=(direct_level * sun_colour(elevation)).astype(np.float32),
        shadow=0.0 if overcast else (0.25 if sun_hidden else 0.85) * sun_up,
        sky_level=level * 1.6,
        w_day=w_day,
        w_twilight=max(0.0, 1.0 - w_day - w_night),
        w_night=w_night,
        lamps_on=elevation < 3.0,
        glow=glow,
    )


def render_sky(
    view: View, light: Light, rows: int, cloud: float, sun_hidden: bool, rng: np.random.Generator
) -> np.ndarray:
    """``(rows, size, 3)`` float32 sky radiance for the image rows ``0..rows`` (above the horizon)."""
    size = view.size
    y = np.maximum(view.rows_y(0, rows), 0.004)  # (rows, 1)
    x = view.x  # (1, size)
    inv_n = 1.0 / np.sqrt(1.0 + x * x + y * y)
    cos_gamma = (x * view.sx + view.sf + y * view.su) * inv_n  # (rows, size): cosine of the angle to the sun
    sin_el = y / np.sqrt(1.0 + y * y)  # (rows, 1): elevation of the row at the image centre
    side = ((x * view.hx + view.hf) / np.sqrt(1.0 + x * x) + 1.0) * 0.5  # (1, size): 1 facing the sun
    overcast = cloud >= OVERCAST

    base = np.zeros((rows, 1, 3), np.float32)  # the parts that depend on the row only
    glow = np.zeros((rows, size), np.float32)  # sun-centred glow, coloured like the sun
    if light.w_day > 0:
        warm = float(smoothstep(12.0, 0.0, view.elevation))
        horizon = DAY_HORIZON * (1 - 0.5 * warm) + SUN_SIDE * 0.5 * warm
        base += light.w_day * (horizon + (DAY_ZENITH - horizon) * np.sqrt(sin_el)[..., None])
        glow += light.w_day * (0.9 * np.exp((cos_gamma - 1.0) * 40.0) + 0.35 * np.exp((cos_gamma - 1.0) * 3.0))
    sky = np.broadcast_to(base, (rows, size, 3)) + glow[..., None] * sun_colour(view.elevation)
    if light.w_twilight > 0:
        band = np.exp(-sin_el / 0.14)  # (rows, 1)
        s2 = side * side
        sky += light.w_twilight * TWILIGHT_TOP
        sky += (band * s2)[..., None] * (light.w_twilight * 1.6 * SUN_SIDE)
        sky += (band * (1 - s2))[..., None] * (light.w_twilight * ANTI_SIDE)
        sky += (light.w_twilight * 0.8 * np.exp((cos_gamma - 1.0) * 12.0))[..., None] * SUN_SIDE
    if light.w_night > 0:
        sky += light.w_night * NIGHT_SKY
    sky *= light.sky_level
    if light.glow > 0:
        sky += (light.glow * 3.0 * np.exp(-sin_el / 0.2))[..., None] * CITY_GLOW

    if not overcast and not sun_hidden and view.elevation > -SUN_RADIUS_DEG:
        disk = smoothstep(np.cos(np.radians(SUN_RADIUS_DEG)), np.cos(np.radians(SUN_RADIUS_DEG * 0.6)), cos_gamma)
        if disk.any():
            sky += (disk * 25.0)[..., None] * sun_colour(view.elevation)

    if light.w_night > 0 and cloud < OVERCAST:
        n_stars = int(rows * size * 0.004)
        r = rng.integers(0, rows, n_stars)
        c = rng.integers(0, size, n_stars)
        bright = (rng.random(n_stars) ** 3 * 0.02 * light.w_night / (1.0 + light.glow * 800.0)).astype(np.float32)
        sky[r, c] += bright[:, None]

    if cloud > 0.02:
        scale = rng.uniform(10.0, 22.0)
        u = x / y * scale + rng.uniform(0, 256)
        v = 1.0 / y * scale + rng.uniform(0, 256)
        density = sample_tile(u, v)
        if overcast:
            cover = 0.85 + 0.15 * density
            shade = 0.55 + 0.25 * density
        else:
            cover = smoothstep(1.0 - cloud - 0.08, 1.0 - cloud + 0.12, density) * smoothstep(0.0, 0.06, sin_el + 0.03)
            shade = 0.75 + 0.35 * (1.0 - density)
        lit = light.sky_level * (0.9 * light.w_day + 0.5 * light.w_twilight + 0.6 * light.w_night)
        colour = np.array([0.9, 0.91, 0.94], np.float32) * (lit * (0.6 if overcast else 1.0))
        cloud_rgb = shade[..., None] * colour
        if light.w_twilight > 0:
            cloud_rgb = cloud_rgb + (light.w_twilight * light.sky_level * 0.9 * side)[..., None] * SUN_SIDE
        cloud_rgb = cloud_rgb + light.glow * 1.5 * CITY_GLOW
        cover = cover[..., None]
        sky = sky * (1 - cover) + cloud_rgb * cover
    return sky
