"""What the web pages show, computed server-side: a world map PNG of the top places and the heatmap colours.

Everything is drawn here (matplotlib, Agg) so that pages render offline: no map tiles, no CDN, no script.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

MAP_MASK_STEP_DEG = 2.0
THUMBNAIL_PX = 360


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def thumbnail_png(image: Image.Image, size: int = THUMBNAIL_PX) -> bytes:
    """A copy of ``image`` no larger than ``size`` px on its longer side, as PNG bytes."""
    small = image.copy()
    small.thumbnail((size, size))
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


def world_map_png(
    places: np.ndarray, probs: np.ndarray, claim: tuple[float, float] | None = None, dpi: int = 90
) -> bytes:
    """Equirectangular world map (land from time zones, as in the reports) with the top places as numbered red
    dots sized by probability, and the claimed place (if any) as a blue star. ``places`` ``(K, 2)`` degrees."""
    from gtloc.evaluation.report import LAND_RGB, OCEAN_RGB, land_mask

    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    background = np.where(land_mask(MAP_MASK_STEP_DEG)[..., None], LAND_RGB, OCEAN_RGB)
    ax.imshow(background, extent=(-180, 180, -90, 90), interpolation="bilinear", zorder=0)
    sizes = 30 + 400 * np.sqrt(np.asarray(probs, dtype=float) / max(float(np.max(probs)), 1e-12))
    ax.scatter(places[:, 1], places[:, 0], s=sizes, c="#d62728", alpha=0.75, edgecolors="white", zorder=3)
    for rank, (lat, lon) in enumerate(places, start=1):
        ax.annotate(str(rank), (lon, lat), xytext=(4, 4), textcoords="offset points", fontsize=8, zorder=4)
    if claim is not None:
        ax.scatter([claim[1]], [claim[0]], s=160, marker="*", c="#1f5fd6", edgecolors="white", zorder=5)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_axis_off()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi)
    return out.getvalue()


def heat_color(value: float, top: float) -> str:
    """CSS colour of a heatmap cell: white (0) to deep red (``top``)."""
    t = 0.0 if top <= 0 else min(max(value / top, 0.0), 1.0)
    r, g, b = (round(255 - t * (255 - c)) for c in (165, 15, 21))
    return f"rgb({r}, {g}, {b})"
