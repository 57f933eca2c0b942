"""Drawing upright objects (buildings with windows and roofs, trees, street lamps) and the distant skyline.

Objects are flat-fronted boxes, ellipsoid or conical crowns and poles projected with the same
:class:`~gtloc.data.world.sky.View` as the sky and the ground, painted far to near. Sunlit faces follow the
sun's direction relative to the camera; lit windows depend on the local hour.
"""

from __future__ import annotations

import numpy as np

from gtloc.data.world.ground import LAMP, SNOW
from gtloc.data.world.layout import BUILDING, POLE, TREE, Layout
from gtloc.data.world.sky import Light, View
from gtloc.data.world.textures import sample_tile

WINDOW_LIGHT = np.array([1.0, 0.78, 0.45], np.float32)
WINDOW_EMISSION = 0.02
BARK = np.array([0.07, 0.05, 0.035], np.float32)
AUTUMN = np.array([[0.45, 0.16, 0.02], [0.50, 0.36, 0.03], [0.35, 0.05, 0.02]], np.float32)


def lit_window_fraction(local_hour: float) -> float:
    """Share of windows lit at a local hour: high in the evening, low in the small hours, a morning bump."""

    def bump(centre: float, width: float) -> float:
        d = (local_hour - centre + 12.0) % 24.0 - 12.0
        return float(np.exp(-((d / width) ** 2)))

    return 0.05 + 0.6 * bump(20.5, 2.8) + 0.25 * bump(6.8, 1.0)


class Painter:
    """Paints a :class:`Layout` into an image ``(size, size, 3)`` float32 radiance, in place."""

    def __init__(self, img, view: View, light: Light, scene, layout: Layout, haze, visibility_m, rng) -> None:
        self.img, self.view, self.light, self.scene, self.layout = img, view, light, scene, layout
        self.haze, self.visibility, self.rng = haze, visibility_m, rng
        self.lit_share = lit_window_fraction(scene.local_hour) * (0.4 + 0.6 * layout.urban)
        self.image_seed = int(rng.integers(0, 2**30))

    def _u(self, x: float, z: float) -> float:
        return self.view.size / 2 + self.view.focal * x / z

    def _v(self, height: float, z: float) -> float:
        return self.view.horizon - self.view.focal * (height - self.view.height) / z

    def _put(self, r0: int, r1: int, c0: int, c1: int, rgb: np.ndarray, mask: np.ndarray, z: float) -> None:
        """Paint ``rgb`` (broadcast to the window) where ``mask``, through the haze of distance ``z`` m."""
        fog = 1.0 - np.exp(-z / self.visibility)
        rgb = rgb * (1.0 - fog) + self.haze * fog
        region = self.img[r0:r1, c0:c1]
        np.copyto(region, np.broadcast_to(rgb, region.shape), where=np.broadcast_to(mask, region.shape[:2])[..., None])

    def _clip(self, u0: float, u1: float, v0: float, v1: float):
        s = self.view.size
        c0, c1 = max(0, int(np.floor(u0))), min(s, int(np.ceil(u1)))
        r0, r1 = max(0, int(np.floor(v0))), min(s, int(np.ceil(v1)))
        if c1 <= c0 and 0 <= int(u0) < s:
            c0, c1 = int(u0), int(u0) + 1
        return (r0, r1, c0, c1) if r1 > r0 and c1 > c0 else None

    def paint(self) -> None:
        draw = {BUILDING: self._building, TREE: self._tree, POLE: self._pole}
        for k in range(len(self.layout.kind)):
            draw[int(self.layout.kind[k])](k)

    def _face_light(self, lambert: float) -> np.ndarray:
        return self.light.ambient * 0.6 + self.light.direct * max(lambert, 0.0)

    def _building(self, k: int) -> None:
        lay, v = self.layout, self.view
        x, z, h, w, d = lay.x[k], lay.z[k], lay.height[k], lay.width[k], lay.depth[k]
        snow = self.scene.snow
        if x - w / 2 > 0 or x + w / 2 < 0:
            self._side_wall(k, x - w / 2 if x - w / 2 > 0 else x + w / 2, z, h, d, 1.0 if x > 0 else -1.0)
        u0, u1 = self._u(x - w / 2, z), self._u(x + w / 2, z)
        v_top, v_base = self._v(h, z), self._v(0.0, z)
        if lay.pitched[k]:
            apex = self._v(h + 0.3 * w, z)
            win = self._clip(u0, u1, apex, v_top + 1)
            if win:
                r0, r1, c0, c1 = win
                rows = np.arange(r0, r1)[:, None] + 0.5
                cols = np.arange(c0, c1)[None, :] + 0.5
                frac = np.clip((rows - apex) / max(v_top - apex, 1e-3), 0, 1)
                mask = np.abs(cols - (u0 + u1) / 2) <= frac * (u1 - u0) / 2
                roof = lay.roof[k] + min(1.0, 1.4 * snow) * (SNOW - lay.roof[k])
                irr = self.light.ambient + self.light.direct * max(0.3 * v.su - 0.5 * v.sf, 0.0)
                self._put(r0, r1, c0, c1, roof * irr, mask, z)
        win = self._clip(u0, u1, v_top, v_base)
        if not win:
            return
        r0, r1, c0, c1 = win
        xm = (np.arange(c0, c1)[None, :] + 0.5 - u0) / v.focal * z  # metres from the left edge
        ym = (v_base - (np.arange(r0, r1)[:, None] + 0.5)) / v.focal * z  # metres above the ground
        px, py, fx, fy = lay.window
        gx, gy = (xm % px) / px, (ym % py) / py
        windows = (np.abs(gx - 0.5) < fx / 2) & (gy > 0.3) & (gy < 0.3 + fy) & (ym > 0.8) & (ym < h - 0.5)
        ix, iy = (xm // px).astype(np.int64), (ym // py).astype(np.int64)
        code = (ix * 73856093) ^ (iy * 19349663) ^ (k * 83492791) ^ self.image_seed
        lit = ((code * 2654435761) >> 7 & 0xFFFF) < self.lit_share * 65536
        irr = self._face_light(-v.sf)
        grain = sample_tile(xm * 3.0 + 17 * k, ym * 3.0)
        wall = (lay.colour[k] * irr)[None, None, :] * (0.9 + 0.2 * grain)[..., None]
        glass = lay.colour[k] * irr * 0.25 + self.haze * 0.3
        rgb = np.where(windows[..., None], glass, wall)
        rgb = rgb + (windows & lit)[..., None] * (WINDOW_EMISSION * WINDOW_LIGHT)
        self._put(r0, r1, c0, c1, rgb, np.ones(rgb.shape[:2], bool), z)

    def _side_wall(self, k: int, xe: float, z: float, h: float, d: float, side: float) -> None:
        v = self.view
        ua, ub = sorted((self._u(xe, z), self._u(xe, z + d)))
        v_top = min(self._v(h, z), self._v(h, z + d))
        v_base = max(self._v(0.0, z), self._v(0.0, z + d))
        win = self._clip(ua, ub, v_top, v_base)
        if not win:
            return
        r0, r1, c0, c1 = win
        cols = np.arange(c0, c1)[None, :] + 0.5
        zc = np.clip(v.focal * xe / np.where(np.abs(cols - v.size / 2) < 1e-3, 1e-3, cols - v.size / 2), z, z + d)
        rows = np.arange(r0, r1)[:, None] + 0.5
        mask = (rows >= v.horizon - v.focal * (h - v.height) / zc) & (rows <= v.horizon + v.focal * v.height / zc)
        irr = self._face_light(-side * v.sx)
        self._put(r0, r1, c0, c1, self.layout.colour[k] * irr * 0.92, mask, z + d / 2)

    def _tree(self, k: int) -> None:
        lay, v, sc = self.layout, self.view, self.scene
        x, z, h, w = lay.x[k], lay.z[k], lay.height[k], lay.width[k]
        trunk_w = 0.2 + 0.03 * h
        win = self._clip(self._u(x - trunk_w / 2, z), self._u(x + trunk_w / 2, z), self._v(0.55 * h, z), self._v(0, z))
        if win:
            self._put(*win, BARK * self._face_light(-v.sf) * 1.5, np.ones(1, bool), z)
        conifer = lay.evergreen[k] and sc.climate != 0
        bottom, top = (0.2 * h, h) if conifer else (0.35 * h, h)
        cu, cv_top, cv_bot = self._u(x, z), self._v(top, z), self._v(bottom, z)
        ru = v.focal * (w / 2) / z
        win = self._clip(cu - ru, cu + ru, cv_top, cv_bot)
        if not win:
            return
        r0, r1, c0, c1 = win
        cols = (np.arange(c0, c1)[None, :] + 0.5 - cu) / max(ru, 0.5)  # -1..1 across the crown
        rows = np.arange(r0, r1)[:, None] + 0.5
        t = (rows - cv_top) / max(cv_bot - cv_top, 1e-3)  # 0 top .. 1 bottom
        if conifer:
            mask = np.abs(cols) <= t
            ny = np.broadcast_to(0.5 - t * 0.3, mask.shape)
        else:
            ny = 1.0 - 2.0 * t
            mask = cols * cols + ny * ny <= 1.0
        nx = cols if not conifer else cols * 0.8
        nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
        lambert = np.maximum(nx * v.sx + ny * v.su - nz * v.sf, 0.0)
        irr = self.light.ambient * (0.55 + 0.35 * ny)[..., None] + lambert[..., None] * self.light.direct
        leaves = sample_tile(np.arange(c0, c1, dtype=np.float32)[None, :] * 3.0 + 53 * k, rows * 3.0)
        colour = np.array([0.05 + 0.04 * sc.field("veg_hue"), 0.13, 0.03], np.float32)
        if not lay.evergreen[k]:
            colour = colour + sc.spring * (np.array([0.14, 0.27, 0.05], np.float32) - colour)
            turning = AUTUMN[int(lay.tone[k] * 3)]
            colour = colour + min(1.0, 1.3 * sc.autumn) * (turning - colour)
            mask = mask & (leaves > 0.85 * sc.leaf_off)
            bare = leaves < 0.35 + 0.6 * sc.leaf_off
            colour = np.where(bare[..., None] & (sc.leaf_off > 0.5), BARK * 1.3, colour)
        rgb = colour * irr * (0.75 + 0.5 * leaves)[..., None]
        if sc.snow > 0.3:
            snowy = (leaves > 1.0 - 0.45 * sc.snow) & (ny > -0.2)
            rgb = np.where(snowy[..., None], SNOW * irr, rgb)
        self._put(r0, r1, c0, c1, rgb, mask, z)

    def _pole(self, k: int) -> None:
        lay, v = self.layout, self.view
        x, z, h = lay.x[k], lay.z[k], lay.height[k]
        irr = self._face_light(-v.sf)
        win = self._clip(self._u(x - 0.1, z), self._u(x + 0.1, z), self._v(h, z), self._v(0, z))
        if win:
            self._put(*win, lay.colour[k] * irr, np.ones(1, bool), z)
        win = self._clip(self._u(x - 0.35, z), self._u(x + 0.35, z), self._v(h + 0.1, z), self._v(h - 0.25, z))
        if win:
            head = LAMP * 0.8 if self.light.lamps_on else lay.colour[k] * irr
            self._put(*win, head, np.ones(1, bool), z)


def paint_skyline(img: np.ndarray, view: View, light: Light, scene, layout: Layout, haze: np.ndarray, rng) -> None:
    """Distant hills, tree lines and city blocks standing on the horizon (heavily hazed), in place."""
    size, h0 = view.size, view.horizon
    heading = np.radians(scene.camera_heading)
    azimuth = heading + np.arctan(view.x[0])  # radians, per column
    ring = sample_tile(np.cos(azimuth) * 40.0 + 128.0, np.sin(azimuth) * 40.0 + 128.0 + scene.layout_seed % 97)
    hills = scene.field("hill_height") ** 1.5 * 0.09 * size * ring
    fine = sample_tile(azimuth * 90.0, np.full(size, scene.layout_seed % 200, dtype=np.float32))
    trees = layout.trees * 0.02 * size * (0.5 + fine)
    block = (azimuth * 60.0).astype(np.int64)
    city = layout.urban**1.5 * 0.08 * size * sample_tile(block * 7.0, block * 3.0) * (rng.random() < 0.8)
    profile = np.maximum(hills + trees, city)
    top = int(max(0, np.floor(h0 - profile.max())))
    bottom = int(np.clip(round(h0), 0, size))
    if bottom <= top:
        return
    rows = np.arange(top, bottom, dtype=np.float32)[:, None] + 0.5
    mask = rows >= h0 - profile[None, :]
    far_building = layout.colour.mean(0) if len(layout.colour) else np.full(3, 0.3, np.float32)
    albedo = np.where((city >= hills + trees)[None, :, None], far_building, 0.06)
    rgb = np.broadcast_to(albedo * (light.ambient * 0.8 + light.direct * 0.4), (bottom - top, size, 3))
    rgb = rgb * 0.35 + haze * 0.65
    if light.lamps_on and layout.urban > 0.1:
        dots = (rng.random(mask.shape) < 0.08 * layout.urban) & (city >= hills + trees)[None, :]
        rgb = rgb + dots[..., None] * (WINDOW_EMISSION * 0.6 * WINDOW_LIGHT)
    region = img[top:bottom]
    np.copyto(region, rgb.astype(np.float32), where=mask[..., None])
