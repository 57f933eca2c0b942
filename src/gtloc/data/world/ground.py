"""The ground plane: road, pavement, grass, soil and snow, lit by the sky and the sun, with the shadows of the
upright objects (length ``h / tan(max(elevation, 1 deg))``, capped) and the light pools of street lamps.

Everything is computed in ground coordinates (``X`` right, ``Z`` forward, metres) from the one pixel model of
:class:`~gtloc.data.world.sky.View`, so perspective comes for free and shadows agree with the sun in the sky.
"""

from __future__ import annotations

import numpy as np

from gtloc.data.world.climate import ARID, TROPICAL, smoothstep
from gtloc.data.world.layout import BUILDING, POLE, TREE, Layout
from gtloc.data.world.sky import Light, View
from gtloc.data.world.textures import SAND, SOILS, palette, sample_tile

SHADOW_CAP_M = 120.0
MIN_SHADOW_ELEVATION_DEG = 1.0
LAMP = np.array([1.0, 0.72, 0.38], np.float32)
LAMP_POOL = 0.01
SNOW = np.array([0.86, 0.89, 0.94], np.float32)


def shadow_length(height: np.ndarray | float, elevation_deg: float) -> np.ndarray:
    """Length (m) of the shadow of an upright object of ``height`` m: ``h / tan(max(e, 1 deg))``, capped."""
    e = np.radians(max(elevation_deg, MIN_SHADOW_ELEVATION_DEG))
    return np.minimum(np.asarray(height, np.float64) / np.tan(e), SHADOW_CAP_M)


def shadow_capsules(layout: Layout, view: View) -> list[tuple[float, float, float, float, float]]:
    """``(ax, az, bx, bz, radius)`` ground segments (m) shadowed by each object: away from the sun."""
    dx, dz = -view.hx, -view.hf
    out = []
    for k in range(len(layout.kind)):
        x, z, h, w = layout.x[k], layout.z[k], layout.height[k], layout.width[k]
        if layout.kind[k] == BUILDING:
            zc = z + layout.depth[k] / 2
            length = shadow_length(h, view.elevation)
            out.append((x, zc, x + dx * length, zc + dz * length, max(w, layout.depth[k]) / 2))
        elif layout.kind[k] == TREE:
            trunk = shadow_length(0.45 * h, view.elevation)
            top = shadow_length(h, view.elevation)
            out.append((x, z, x + dx * trunk, z + dz * trunk, 0.2))
            out.append((x + dx * trunk, z + dz * trunk, x + dx * top, z + dz * top, w / 2))
        else:
            length = shadow_length(h, view.elevation)
            out.append((x, z, x + dx * length, z + dz * length, 0.12))
    return out


def _window(view: View, start: int, x0: float, x1: float, z0: float, z1: float, z_near: float):
    """Pixel window ``(r0, r1, c0, c1)`` covering the ground box ``[x0, x1] x [z0, z1]``, or ``None``."""
    z0 = max(z0, z_near)
    if z1 <= z0:
        return None
    size, f = view.size, view.focal
    r0 = max(start, int(view.horizon + f * view.height / z1 - 1))
    r1 = min(size, int(view.horizon + f * view.height / z0 + 2))
    us = [size / 2 + f * xx / zz for xx in (x0, x1) for zz in (z0, z1)]
    c0, c1 = max(0, int(min(us)) - 1), min(size, int(max(us)) + 2)
    if r1 <= r0 or c1 <= c0:
        return None
    return r0, r1, c0, c1


def ground_albedo(scene, layout: Layout) -> dict[str, np.ndarray]:
    """``(3,)`` albedos of the ground materials for this place and season, and the grass cover fraction."""
    veg = scene.field("veg_hue")
    grass = np.array([0.045 + 0.05 * veg, 0.12 + 0.05 * veg, 0.02 + 0.015 * veg])
    if scene.climate == TROPICAL:
        grass = np.array([0.03, 0.12, 0.02])
    grass = grass + scene.spring * (np.array([0.15, 0.27, 0.04]) - grass)
    grass = grass + scene.dormant * (np.array([0.26, 0.21, 0.10]) - grass)
    grass = grass + scene.aridity * 0.7 * (np.array([0.25, 0.2, 0.1]) - grass)
    soil = palette(SOILS, scene.field("soil_hue")) * (0.7 + 0.5 * scene.field("soil_light"))
    soil = soil + scene.aridity * (palette(SAND, scene.field("soil_hue")) - soil)
    asphalt = np.full(3, 0.05 + 0.08 * scene.field("road_light"))
    road = asphalt + (1 - layout.urban) * scene.aridity * 0.6 * (soil * 0.8 - asphalt)
    cover = (0.15 if scene.climate == ARID else 0.9 if scene.climate == TROPICAL else 0.8) * (1 - 0.3 * layout.urban)
    return {
        "grass": grass.astype(np.float32),
        "soil": soil.astype(np.float32),
        "road": road.astype(np.float32),
        "pavement": np.array([0.22, 0.21, 0.19], np.float32),
        "cover": np.float32(cover),
    }


def render_ground(
    view: View, light: Light, scene, layout: Layout, start: int, haze: np.ndarray, visibility_m: float
) -> np.ndarray:
    """``(size - start, size, 3)`` float32 radiance of the image rows ``start..size`` (below the horizon)."""
    size = view.size
    y = np.minimum(view.rows_y(start, size), -1e-4)  # (rows, 1)
    z = view.height / -y  # (rows, 1) metres forward
    x = view.x * z  # (rows, size) metres to the right
    mat = ground_albedo(scene, layout)
    angle, offset, half = layout.road
    across = np.abs((x - offset) * np.cos(angle) - z * np.sin(angle))
    tu, tv = layout.texture_offset
    patches = sample_tile(x * 4.0 + tu, z * 4.0 + tv)
    grain = sample_tile(x * 13.0 + tv, z * 13.0 + tu)
    material = (patches + 0.2 * (grain - 0.5) < mat["cover"]).astype(np.int8)  # 0 soil, 1 grass, 2 pavement, 3 road
    material[across < half + 2.0] = 2
    material[across < half] = 3
    table = np.stack([mat["soil"], mat["grass"], mat["pavement"], mat["road"]])
    albedo = table[material] * (0.8 + 0.4 * grain)[..., None]
    if scene.snow > 0:
        on_road = np.where(across < half, 0.7, 1.0).astype(np.float32)
        snow = smoothstep(1.0 - scene.snow, 1.15 - scene.snow, 0.2 * patches + 0.8 * grain + 0.1) * on_road
        snow = snow[..., None] * min(1.0, 1.5 * scene.snow)
        albedo = albedo + snow * (SNOW - albedo)

    shade = np.zeros(x.shape, np.float32)
    z_near = float(z[-1, 0])
    if light.shadow > 0 and view.elevation > 0:
        for ax, az, bx, bz, r in shadow_capsules(layout, view):
            win = _window(view, start, min(ax, bx) - r, max(ax, bx) + r, min(az, bz) - r, max(az, bz) + r, z_near)
            if win is None:
                continue
            r0, r1, c0, c1 = win
            px = x[r0 - start : r1 - start, c0:c1] - ax
            pz = z[r0 - start : r1 - start] - az
            dx, dz = bx - ax, bz - az
            t = np.clip((px * dx + pz * dz) / max(dx * dx + dz * dz, 1e-9), 0.0, 1.0)
            d2 = (px - t * dx) ** 2 + (pz - t * dz) ** 2
            np.maximum(shade[r0 - start : r1 - start, c0:c1], d2 < r * r, out=shade[r0 - start : r1 - start, c0:c1])
    irradiance = light.ambient + (light.direct * max(view.su, 0.0)) * (1.0 - light.shadow * shade)[..., None]

    if light.lamps_on:
        for k in np.flatnonzero(layout.kind == POLE):
            sigma = 0.6 * layout.height[k]
            lx, lz = layout.x[k], layout.z[k]
            win = _window(view, start, lx - 3 * sigma, lx + 3 * sigma, lz - 3 * sigma, lz + 3 * sigma, z_near)
            if win is None:
                continue
            r0, r1, c0, c1 = win
            d2 = (x[r0 - start : r1 - start, c0:c1] - lx) ** 2 + (z[r0 - start : r1 - start] - lz) ** 2
            irradiance[r0 - start : r1 - start, c0:c1] += (LAMP_POOL * np.exp(-d2 / (2 * sigma * sigma)))[
                ..., None
            ] * LAMP
    fog = (1.0 - np.exp(-z / visibility_m))[..., None]  # (rows, 1, 1)
    return (albedo * irradiance) * (1.0 - fog) + haze * fog
