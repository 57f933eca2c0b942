"""Galleries: the candidate places and times that predictions are retrieved from.

* ``gps_gallery``: ``(G, 2)`` float32 ``[lat, lon]`` degrees; by default the 100k MP-16 coordinates
  shipped with GeoCLIP (MIT, see ``resources/NOTICE-geoclip.txt``).
* ``time_gallery``: ``(T, 5)`` float32 ``[month, day, hour, minute, second]`` local clock time.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import torch

GPS_GALLERY_FILE = "coordinates_100K.csv"


@lru_cache(maxsize=1)
def _mp16_coordinates() -> np.ndarray:
    text = resources.files("gtloc.resources").joinpath(GPS_GALLERY_FILE).read_text()
    return np.loadtxt(text.splitlines()[1:], delimiter=",", dtype=np.float32)


def load_gps_gallery() -> torch.Tensor:
    """The 100,000 MP-16 GPS coordinates, ``(100000, 2)`` float32 ``[lat, lon]`` degrees."""
    return torch.from_numpy(_mp16_coordinates().copy())
