"""Vendor the web page's map libraries and outlines from the npm registry into ``src/gtloc/web/static/vendor``.

The page draws its map offline: Leaflet (BSD-2-Clause) with Leaflet.markercluster (MIT), and the land and country
outlines of Natural Earth (public domain) as TopoJSON from ``world-atlas``, read by ``topojson-client`` (ISC).
Each package is fetched at its pinned version with ``npm pack`` into a temporary folder, and every file copied
(licence files included) must have the SHA-256 that ``vendor/SHA256SUMS`` lists: a changed upstream file stops the
script. Nothing is fetched at run time or by the page.

    python scripts/vendor_web.py            # fetch, check, copy
    python scripts/vendor_web.py --check    # only check the vendored files against SHA256SUMS (no network)
    python scripts/vendor_web.py --update   # after changing a pin: fetch, copy, and rewrite SHA256SUMS
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "src" / "gtloc" / "web" / "static" / "vendor"
SUMS = VENDOR / "SHA256SUMS"
# package -> (version, {file in the package: file under vendor/})
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    "leaflet": (
        "1.9.4",
        {
            "dist/leaflet.js": "leaflet/leaflet.js",
            "dist/leaflet.css": "leaflet/leaflet.css",
            "dist/images/layers.png": "leaflet/images/layers.png",
            "dist/images/layers-2x.png": "leaflet/images/layers-2x.png",
            "dist/images/marker-icon.png": "leaflet/images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "leaflet/images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "leaflet/images/marker-shadow.png",
            "LICENSE": "leaflet/LICENSE",
        },
    ),
    "leaflet.markercluster": (
        "1.5.3",
        {
            "dist/leaflet.markercluster.js": "leaflet.markercluster/leaflet.markercluster.js",
            "dist/MarkerCluster.css": "leaflet.markercluster/MarkerCluster.css",
            "dist/MarkerCluster.Default.css": "leaflet.markercluster/MarkerCluster.Default.css",
            "MIT-LICENCE.txt": "leaflet.markercluster/MIT-LICENCE.txt",
        },
    ),
    "topojson-client": (
        "3.1.0",
        {"dist/topojson-client.min.js": "topojson-client/topojson-client.min.js", "LICENSE": "topojson-client/LICENSE"},
    ),
    "world-atlas": (
        "2.0.2",
        {"countries-50m.json": "world-atlas/countries-50m.json", "LICENSE": "world-atlas/LICENSE"},
    ),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pinned_sums() -> dict[str, str]:
    """``{vendored file: sha256}`` from ``SHA256SUMS`` (``sha256sum`` format)."""
    sums = {}
    for line in SUMS.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    return sums


def check() -> list[str]:
    """Problems of the vendored files against SHA256SUMS (missing, changed, unlisted); empty when all is well."""
    sums = pinned_sums()
    expected = {dest for _, files in PACKAGES.values() for dest in files.values()}
    problems = [f"{name}: listed in SHA256SUMS but not vendored by this script" for name in set(sums) - expected]
    for name in sorted(expected):
        path = VENDOR / name
        if name not in sums:
            problems.append(f"{name}: not in SHA256SUMS")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256(path) != sums[name]:
            problems.append(f"{name}: sha256 {sha256(path)}, SHA256SUMS says {sums[name]}")
    return problems


def fetch(work: Path) -> dict[str, Path]:
    """``npm pack`` every pinned package into ``work`` and unpack it; ``{vendored file: its unpacked source}``."""
    sources = {}
    for name, (version, files) in PACKAGES.items():
        done = subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--silent"], cwd=work, capture_output=True, text=True, check=True
        )
        tarball = work / done.stdout.strip().splitlines()[-1]
        unpacked = work / f"{name}-{version}"
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
        for source, dest in files.items():
            sources[dest] = unpacked / "package" / source
    return sources


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the vendored files (no network)")
    parser.add_argument("--update", action="store_true", help="rewrite SHA256SUMS from what npm gives")
    args = parser.parse_args()
    if args.check:
        problems = check()
        print("\n".join(problems) or f"all {len(pinned_sums())} vendored files match {SUMS}")
        return 1 if problems else 0
    sums = {} if args.update else pinned_sums()
    with tempfile.TemporaryDirectory(prefix="gtloc-vendor-") as tmp:
        sources = fetch(Path(tmp))
        changed = [d for d, s in sources.items() if not args.update and sums.get(d) != sha256(s)]
        if changed:
            print(f"refusing: these files differ from SHA256SUMS: {', '.join(changed)}", file=sys.stderr)
            return 1
        for dest, source in sources.items():
            (VENDOR / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, VENDOR / dest)
    if args.update:
        SUMS.write_text("".join(f"{sha256(VENDOR / d)}  {d}\n" for d in sorted(sources)))
    print(f"vendored {len(sources)} files into {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
