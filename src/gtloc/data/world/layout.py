"""What stands in front of the camera: a road, buildings, trees and street lamps, in metres.

Positions are in the camera's ground frame: ``X`` to the right, ``Z`` forward (the camera at the origin).
The layout depends only on the scene's place (regional style, climate) and its ``layout_seed``, so a fixed
webcam sees the same street at every instant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gtloc.data.world.climate import ARID, CONTINENTAL, POLAR, TROPICAL
from gtloc.data.world.textures import FACADES, ROOFS, palette

BUILDING, TREE, POLE = 0, 1, 2
FLOOR_M = 3.1


@dataclass
class Layout:
    """Road and upright objects. Per-object arrays have length K (objects sorted far to near).

    ``road``: ``(angle rad, offset m, half width m)``; ``kind``: BUILDING / TREE / POLE; ``x, z``: base
    position (m); ``height, width, depth`` (m); ``colour``, ``roof``: ``(K, 3)`` linear albedo; ``pitched``,
    ``evergreen``: ``(K,)`` bool; ``tone``: ``(K,)`` per-object random in ``[0, 1)``. ``window``: ``(period_x,
    period_y, frac_x, frac_y)`` metres/fractions; ``urban``, ``trees`` densities in ``[0, 1]``;
    ``texture_offset``: where the ground texture starts (tile units).
    """

    road: tuple[float, float, float]
    kind: np.ndarray
    x: np.ndarray
    z: np.ndarray
    height: np.ndarray
    width: np.ndarray
    depth: np.ndarray
    colour: np.ndarray
    roof: np.ndarray
    pitched: np.ndarray
    evergreen: np.ndarray
    tone: np.ndarray
    window: tuple[float, float, float, float]
    urban: float
    trees: float
    texture_offset: tuple[float, float]


def regional_densities(climate: int, appearance_urban: float, appearance_trees: float) -> tuple[float, float]:
    """Urban and tree densities in ``[0, 1]`` from the regional fields, damped by harsh climates."""
    urban = appearance_urban * (0.4 if climate == POLAR else 1.0)
    trees = appearance_trees * {ARID: 0.15, POLAR: 0.25, TROPICAL: 1.2}.get(climate, 1.0)
    return float(np.clip(urban, 0, 1)), float(np.clip(trees, 0, 1))


def make_layout(scene, rng: np.random.Generator) -> Layout:
    """Sample the street in view of ``scene`` (a :class:`~gtloc.data.world.scenes.Scene`) from ``rng``."""
    urban, trees = regional_densities(int(scene.climate), scene.field("urban_density"), scene.field("tree_density"))
    angle = rng.choice([rng.uniform(-0.6, 0.6), rng.uniform(1.1, 2.0)])
    offset = rng.choice([-1.0, 1.0]) * rng.uniform(4.0, 16.0)
    half = rng.uniform(2.0, 3.0 + 4.0 * urban)
    along = np.array([np.sin(angle), np.cos(angle)])
    across = np.array([np.cos(angle), -np.sin(angle)])
    origin = np.array([offset, 0.0])
    items: list[dict] = []

    def place(s: float, off: float) -> np.ndarray:
        return origin + s * along + off * across

    n_buildings = rng.poisson(1.0 + 9.0 * urban)
    tall = scene.field("building_height")
    for _ in range(n_buildings):
        side = rng.choice([-1.0, 1.0])
        depth = rng.uniform(8.0, 16.0)
        pos = place(rng.uniform(-40.0, 100.0), side * (half + rng.uniform(2.5, 9.0) + depth / 2))
        floors = 1 + int(rng.uniform(0.4, 1.2) * (1.0 + 11.0 * tall * urban**0.7))
        items.append(
            {
                "kind": BUILDING,
                "pos": pos,
                "height": floors * FLOOR_M + rng.uniform(0.3, 1.0),
                "width": rng.uniform(7.0, 24.0),
                "depth": depth,
                "colour": palette(FACADES, scene.field("facade_hue") + rng.normal(0, 0.07))
                * (0.75 + 0.45 * scene.field("facade_light"))
                * rng.uniform(0.85, 1.1),
                "roof": palette(ROOFS, scene.field("roof_hue") + rng.normal(0, 0.06))
                * (0.7 + 0.5 * scene.field("roof_light")),
                "pitched": floors <= 4 and rng.random() < scene.field("roof_pitch") * 1.3,
                "evergreen": False,
            }
        )
    conifer_bias = 0.35 if scene.climate in (CONTINENTAL, POLAR) else 0.0
    evergreen_share = 1.0 if scene.climate == TROPICAL else min(1.0, scene.field("evergreen") * 0.7 + conifer_bias)
    for _ in range(rng.poisson(1.0 + 16.0 * trees)):
        side = rng.choice([-1.0, 1.0])
        height = rng.uniform(4.0, 15.0)
        items.append(
            {
                "kind": TREE,
                "pos": place(rng.uniform(-30.0, 70.0), side * (half + rng.uniform(1.5, 25.0))),
                "height": height,
                "width": height * rng.uniform(0.25, 0.4),
                "depth": 0.0,
                "colour": np.zeros(3, np.float32),
                "roof": np.zeros(3, np.float32),
                "pitched": False,
                "evergreen": rng.random() < evergreen_share,
            }
        )
    for _ in range(rng.integers(1, 3 + int(5 * urban))):
        items.append(
            {
                "kind": POLE,
                "pos": place(rng.uniform(-20.0, 50.0), rng.choice([-1.0, 1.0]) * (half + 0.8)),
                "height": rng.uniform(6.5, 9.5),
                "width": 0.2,
                "depth": 0.0,
                "colour": np.full(3, 0.12, np.float32),
                "roof": np.zeros(3, np.float32),
                "pitched": False,
                "evergreen": False,
            }
        )
    items = [it for it in items if it["pos"][1] > 3.0]
    items.sort(key=lambda it: -it["pos"][1])
    style = scene.field("window_style")
    ribbon = style > 0.8
    window = (
        2.2 + 2.5 * style,
        FLOOR_M,
        0.85 if ribbon else 0.3 + 0.4 * scene.field("window_size"),
        0.45 if ribbon else 0.35 + 0.3 * scene.field("window_size"),
    )

    def column(name: str, dtype=np.float64) -> np.ndarray:
        return np.array([it[name] for it in items], dtype=dtype)

    pos = np.array([it["pos"] for it in items]).reshape(-1, 2)
    return Layout(
        road=(float(angle), float(offset), float(half)),
        kind=column("kind", np.int64),
        x=pos[:, 0],
        z=pos[:, 1],
        height=column("height"),
        width=column("width"),
        depth=column("depth"),
        colour=np.clip(np.array([it["colour"] for it in items], np.float32).reshape(-1, 3), 0, 1),
        roof=np.clip(np.array([it["roof"] for it in items], np.float32).reshape(-1, 3), 0, 1),
        pitched=column("pitched", bool),
        evergreen=column("evergreen", bool),
        tone=rng.random(len(items)),
        window=window,
        urban=urban,
        trees=trees,
        texture_offset=(float(rng.uniform(0, 256)), float(rng.uniform(0, 256))),
    )
