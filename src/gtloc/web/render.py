"""What the web pages show, computed server-side: the photo's thumbnail, the map's data and the heatmap colours.

The map itself is drawn in the browser from files of this package (``static/map.js`` with the vendored Leaflet and
Natural Earth outlines, ``scripts/vendor_web.py``): no map tiles, no CDN. The heatmap colours one absolute scale of
probability (:func:`heat_color`), the same for every photo, so a flat posterior looks flat.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

from PIL import Image

THUMBNAIL_PX = 360
# The heatmap's absolute scale: white up to HEAT_LOW (a flat 12 x 24 posterior is 1/288 = 0.0035 per cell), deep
# red from HEAT_HIGH on, logarithmic between; the legend shows these probabilities.
HEAT_LOW, HEAT_HIGH = 0.002, 0.3
HEAT_LEGEND = (0.002, 0.005, 0.01, 0.03, 0.1, 0.3)
HEAT_RGB = (165, 15, 21)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def thumbnail_png(image: Image.Image, size: int = THUMBNAIL_PX) -> bytes:
    """A copy of ``image`` no larger than ``size`` px on its longer side, as PNG bytes."""
    small = image.copy()
    small.thumbnail((size, size))
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


def heat_color(p: float) -> str:
    """CSS colour of a heatmap cell of probability ``p``, on one scale for every photo: white at or below
    :data:`HEAT_LOW`, deep red at or above :data:`HEAT_HIGH`, logarithmic in between."""
    t = 0.0 if p <= HEAT_LOW else min(1.0, math.log(p / HEAT_LOW) / math.log(HEAT_HIGH / HEAT_LOW))
    r, g, b = (round(255 - t * (255 - c)) for c in HEAT_RGB)
    return f"rgb({r}, {g}, {b})"


def heat_legend() -> list[dict[str, Any]]:
    """The heatmap's legend: a swatch per probability of :data:`HEAT_LEGEND`, the ends marked ``<=`` / ``>=``."""
    last = len(HEAT_LEGEND) - 1
    return [
        {"p": p, "label": ("≤ " if i == 0 else "≥ " if i == last else "") + f"{p:g}", "color": heat_color(p)}
        for i, p in enumerate(HEAT_LEGEND)
    ]


def map_data(places: list[dict[str, Any]], claim: tuple[float, float] | None) -> dict[str, Any]:
    """What ``static/map.js`` draws: the ranked ``places`` (``rank``, ``lat``, ``lon``, ``near``, ``prob``; markers
    that cluster when zoomed out) and the claimed place, if any (a star)."""
    keys = ("rank", "lat", "lon", "near", "prob")
    return {
        "places": [{k: p[k] for k in keys} for p in places],
        "claim": None if claim is None else {"lat": claim[0], "lon": claim[1]},
    }
