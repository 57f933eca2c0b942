"""XMP sidecars: ``fill``'s chosen estimates written beside the photos, for photo managers to read.

Naming (:data:`NAMINGS`): ``ext`` (default) writes ``photo.jpg.xmp``, the name darktable and digiKam write and
Immich looks for first; ``base`` writes ``photo.xmp``, the name Lightroom and Capture One use for raw files (Immich
reads both). Lightroom does not read sidecars of JPEGs at all.

What is written (only for a photo with a chosen estimate; a time only where the source knows the date):

* place: ``exif:GPSLatitude``/``exif:GPSLongitude`` (XMP's ``DDD,MM.mmmmmmk`` form) and
  ``exif:GPSHPositioningError`` (the radius, metres), which digiKam, darktable, PhotoPrism, Immich and exiftool read;
* time: ``exif:DateTimeOriginal`` and ``photoshop:DateCreated`` (local time, no zone);
* where each came from, in the ``gtloc`` namespace (:data:`GTLOC_NS`): ``PlaceSource``, ``PlaceRadiusKm``,
  ``PlaceConfidence``, ``PlaceEvidence``, ``TimeSource``, ``TimeRadiusH``, ``TimeEvidence``.

Rules: an original photo is never opened for writing; an existing sidecar is merged (these properties replaced,
every other tag and namespace kept) and left untouched when it already says the same, so a re-run changes
nothing; every write is atomic (a temporary file renamed over the old one); a sidecar is only written next to its
photo inside the library's folder (never through a symlink). A sidecar that is not valid XML, or not XMP, is left
alone and named.
"""

from __future__ import annotations

import errno
import os
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from gtloc.io import OutputPathError, atomic_write_text
from gtloc.library.fill import Estimate

NAMINGS = ("ext", "base")
X_NS = "adobe:ns:meta/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
EXIF_NS = "http://ns.adobe.com/exif/1.0/"
PHOTOSHOP_NS = "http://ns.adobe.com/photoshop/1.0/"
GTLOC_NS = "http://ns.gtloc.example/xmp/1.0/"
PREFIXES = {"x": X_NS, "rdf": RDF_NS, "exif": EXIF_NS, "photoshop": PHOTOSHOP_NS, "gtloc": GTLOC_NS}
_READ_ONLY = ("Read-only file system", "Permission denied", "Operation not permitted")
_AUTO_PREFIX = re.compile(r"ns\d+$")


@dataclass
class SidecarReport:
    """What writing sidecars did, by photo path: ``written``, ``unchanged`` (already said the same), ``refused``
    (``(path, why)``: an invalid sidecar left alone, a symlink, a name two photos share) and ``failed``
    (``(path, why)``: the write itself failed)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def read_only(self) -> bool:
        """Every write failed because the folder cannot be written (a read-only disk, no permission)."""
        return bool(self.failed) and not self.written and all(
            any(text in why for text in _READ_ONLY) for _, why in self.failed
        )  # fmt: skip


def sidecar_path(root: Path, photo: str, naming: str = "ext") -> Path:
    """The sidecar of the photo at ``photo`` (relative to ``root``): ``photo.jpg.xmp`` or ``photo.xmp``."""
    full = root / photo
    return full.with_name(full.name + ".xmp") if naming == "ext" else full.with_suffix(".xmp")


def _gps(value: float, positive: str, negative: str) -> str:
    degrees = int(abs(value))
    minutes = (abs(value) - degrees) * 60.0
    return f"{degrees},{minutes:.6f}{positive if value >= 0 else negative}"


def xmp_properties(place: Estimate | None, time: Estimate | None) -> dict[str, str]:
    """The properties (``{namespace}name`` -> text) a sidecar gets for a chosen ``place`` and ``time``."""
    props: dict[str, str] = {}
    if place is not None and place.lat is not None and place.lon is not None:
        props[f"{{{EXIF_NS}}}GPSLatitude"] = _gps(place.lat, "N", "S")
        props[f"{{{EXIF_NS}}}GPSLongitude"] = _gps(place.lon, "E", "W")
        radius = place.radius_km or 0.0
        props[f"{{{EXIF_NS}}}GPSHPositioningError"] = f"{round(radius * 1000)}"
        props[f"{{{GTLOC_NS}}}PlaceSource"] = place.source
        props[f"{{{GTLOC_NS}}}PlaceRadiusKm"] = f"{radius:.3f}"
        props[f"{{{GTLOC_NS}}}PlaceConfidence"] = f"{place.confidence:.3f}"
        props[f"{{{GTLOC_NS}}}PlaceEvidence"] = ";".join(place.evidence)
    if time is not None and time.time and not time.time.startswith("--"):
        props[f"{{{EXIF_NS}}}DateTimeOriginal"] = time.time
        props[f"{{{PHOTOSHOP_NS}}}DateCreated"] = time.time
        props[f"{{{GTLOC_NS}}}TimeSource"] = time.source
        props[f"{{{GTLOC_NS}}}TimeRadiusH"] = f"{time.radius_h or 0.0:.3f}"
        props[f"{{{GTLOC_NS}}}TimeEvidence"] = ";".join(time.evidence)
    return props


class InvalidSidecarError(ValueError):
    """An existing sidecar that cannot be merged into: the message says why."""


def _register(prefixes: dict[str, str]) -> None:
    for prefix, uri in {**prefixes, **PREFIXES}.items():
        if prefix and not _AUTO_PREFIX.match(prefix):
            ET.register_namespace(prefix, uri)


def _parse(path: Path) -> ET.ElementTree:
    """An existing sidecar, its namespace prefixes registered so that they are written back as they were."""
    prefixes: dict[str, str] = {}
    try:
        for _, (prefix, uri) in ET.iterparse(path, events=("start-ns",)):
            prefixes.setdefault(prefix, uri)
        tree = ET.parse(path)
    except ET.ParseError as exc:
        raise InvalidSidecarError(f"not valid XML ({exc})") from None
    if tree.getroot().find(f".//{{{RDF_NS}}}RDF") is None and tree.getroot().tag != f"{{{RDF_NS}}}RDF":
        raise InvalidSidecarError("valid XML but not XMP (no rdf:RDF element)")
    _register(prefixes)
    return tree


def _new_tree() -> ET.ElementTree:
    _register({})
    root = ET.Element(f"{{{X_NS}}}xmpmeta", {f"{{{X_NS}}}xmptk": "gtloc"})
    rdf = ET.SubElement(root, f"{{{RDF_NS}}}RDF")
    ET.SubElement(rdf, f"{{{RDF_NS}}}Description", {f"{{{RDF_NS}}}about": ""})
    return ET.ElementTree(root)


def _descriptions(tree: ET.ElementTree) -> tuple[ET.Element, list[ET.Element]]:
    root = tree.getroot()
    rdf = root if root.tag == f"{{{RDF_NS}}}RDF" else root.find(f".//{{{RDF_NS}}}RDF")
    descriptions = rdf.findall(f"{{{RDF_NS}}}Description")
    if not descriptions:
        descriptions = [ET.SubElement(rdf, f"{{{RDF_NS}}}Description", {f"{{{RDF_NS}}}about": ""})]
    return rdf, descriptions


def _current(descriptions: list[ET.Element], name: str) -> str | None:
    for description in descriptions:
        if name in description.attrib:
            return description.attrib[name]
        child = description.find(name)
        if child is not None:
            return (child.text or "").strip()
    return None


def merge(tree: ET.ElementTree, props: dict[str, str]) -> bool:
    """Set ``props`` in ``tree`` (each replacing any earlier value, as an attribute or an element); returns whether
    anything changed."""
    _, descriptions = _descriptions(tree)
    if all(_current(descriptions, name) == value for name, value in props.items()):
        return False
    for description in descriptions:
        for name in props:
            description.attrib.pop(name, None)
            for child in description.findall(name):
                description.remove(child)
    descriptions[0].attrib.update(props)
    return True


def write_sidecar(path: Path, props: dict[str, str]) -> bool:
    """Merge ``props`` into the sidecar ``path`` (created if missing) atomically; returns whether it was written.
    Raises :class:`InvalidSidecarError` for an existing file that is not XMP (left as it is)."""
    tree = _parse(path) if path.exists() else _new_tree()
    if not merge(tree, props):
        return False
    ET.indent(tree, space=" ")
    atomic_write_text(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree.getroot(), "unicode") + "\n")
    return True


def _refusal(root: Path, photo: str, target: Path) -> str:
    """Why the sidecar ``target`` of ``photo`` may not be written, or ``""``."""
    if not target.parent.resolve().is_relative_to(root.resolve()):
        return f"its folder resolves to {target.parent.resolve()}, outside the library folder {root}"
    if target.is_symlink():
        return f"{target.name} is a symlink (not followed)"
    if target.exists() and not target.is_file():
        return f"{target.name} exists and is not a file"
    return ""


def write_sidecars(root: str | os.PathLike[str], estimates: list[Estimate], naming: str = "ext") -> SidecarReport:
    """Write the chosen ``estimates`` as XMP sidecars next to their photos under ``root`` (module docstring)."""
    if naming not in NAMINGS:
        raise ValueError(f"naming must be one of {', '.join(NAMINGS)}, got {naming!r}")
    root = Path(root)
    chosen: dict[str, dict[str, Estimate]] = defaultdict(dict)
    for estimate in estimates:
        if estimate.chosen:
            chosen[estimate.path][estimate.field] = estimate
    report = SidecarReport()
    claimed: dict[Path, str] = {}
    for photo, picked in sorted(chosen.items()):
        props = xmp_properties(picked.get("place"), picked.get("time"))
        if not props:
            continue
        target = sidecar_path(root, photo, naming)
        if target in claimed:
            why = f"{target.name} is also the sidecar of {claimed[target]} (name them photo.jpg.xmp instead)"
            report.refused.append((photo, why))
            continue
        claimed[target] = photo
        why = _refusal(root, photo, target)
        if why:
            report.refused.append((photo, why))
            continue
        try:
            (report.written if write_sidecar(target, props) else report.unchanged).append(photo)
        except InvalidSidecarError as exc:
            report.refused.append((photo, f"{target.name} left alone: {exc}"))
        except OutputPathError as exc:
            report.failed.append((photo, exc.reason))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            report.failed.append((photo, reason if exc.errno != errno.EROFS else "Read-only file system"))
    return report
