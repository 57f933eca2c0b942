"""Scan a photo folder into a library: each photo's EXIF place, time and camera, its content hash and its features.

Streaming and resumable: photos are read in chunks of :data:`CHUNK`; after each chunk the features (keyed by
content hash, :mod:`gtloc.data.features`) and the photo list are written atomically, so a killed scan loses at
most one chunk and a re-run picks up where it stopped. A re-scan reads only files whose path, size or
modification time changed (and the files skipped last time); files that are gone leave the list.

Which files: every file under the folder with an image suffix (the one rule of :func:`gtloc.data.ingest.list_photos`).
Skipped and named (``skipped.csv``): files that are not images or cannot be decoded, names that are not UTF-8,
folders that cannot be listed, and symlinks that lead out of the folder (not followed). Files with the same bytes
are all kept, the later ones marked ``duplicate_of`` the first.

The clock fields of :class:`~gtloc.library.catalog.LibraryPhoto` (``gps_utc``, ``clock_offset_s``, ``clock``,
``clock_note``) come from the clock check, :func:`gtloc.data.clock.read_clock` (camera time against the GPS
receiver's time; a stale fix is ``unknown``, not a wrong clock). A library scanned by an older reader
(:data:`READER` in ``library.json``) has every file's metadata read again on the next scan; features are kept.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import torch
from PIL import ExifTags, Image
from tqdm import tqdm

from gtloc.backbones import DEFAULT_BACKBONE, load_backbone
from gtloc.backbones.base import Backbone
from gtloc.backbones.extract import file_features
from gtloc.data.clock import read_clock
from gtloc.data.exif import PhotoExif, PhotoReadError, read_photo_exif
from gtloc.data.features import MANIFEST, FeatureStore, FeatureWriter
from gtloc.data.images import PathOutsideRootError, image_file
from gtloc.data.ingest import list_photos
from gtloc.device import cpu_threads
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.io import exclusive_lock, output_dir, write_json
from gtloc.library.catalog import (
    FEATURES_DIR,
    FORMAT,
    LIBRARY_JSON,
    Library,
    LibraryPhoto,
    SkippedFile,
    write_catalog,
)

READER = 2
"""What the scan reads from a file: 1 = place, time, camera; 2 = and the clock check."""
CHUNK = 512
BATCH = 32
HASH_BLOCK = 1 << 20


@dataclass
class ScanResult:
    """What a scan did: the library's photos now, how many were read this time (``read``), kept from the last scan
    (``kept``) or dropped because their file is gone (``removed``), and the files skipped, with reasons."""

    library: Library
    read: int = 0
    kept: int = 0
    removed: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)

    @property
    def photos(self) -> list[LibraryPhoto]:
        return self.library.photos

    @property
    def duplicates(self) -> int:
        return sum(1 for p in self.photos if p.duplicate_of)


def content_hash(path: Path) -> str:
    """BLAKE2b-128 of the file's bytes (hex), read in blocks."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).strip("\x00 \t\r\n") if value is not None else ""


def camera_identity(path: Path) -> tuple[str, str, str]:
    """``(make, model, serial)`` from EXIF (``Make``, ``Model``, ``BodySerialNumber``); ``""`` where absent."""
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            serial = _text(exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.BodySerialNumber))
            return _text(exif.get(ExifTags.Base.Make)), _text(exif.get(ExifTags.Base.Model)), serial
    except Exception:  # the camera is optional: a file whose EXIF breaks here still gives a photo without one
        return "", "", ""


def _photo(rel: str, full: Path, stat: os.stat_result, sha: str, exif: PhotoExif) -> LibraryPhoto:
    make, model, serial = camera_identity(full)
    offset = None if exif.utc_offset is None else int(exif.utc_offset.total_seconds())
    clock = read_clock(exif)
    return LibraryPhoto(
        path=rel,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        sha=sha,
        lat=exif.lat,
        lon=exif.lon,
        local_time=exif.local_time,
        utc_offset_s=offset,
        make=make,
        model=model,
        serial=serial,
        gps_problem=exif.gps_problem,
        time_problem=exif.time_problem,
        gps_utc=clock.gps_utc,
        clock_offset_s=clock.offset_s,
        clock=clock.status,
        clock_note=clock.note,
    )


def _printable(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _locate(root: Path, rel: str) -> tuple[Path, os.stat_result] | SkippedFile:
    """The file of ``rel`` and its stat, or why it is skipped (a name that is not UTF-8, a symlink out of ``root``)."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return SkippedFile(_printable(rel), "unreadable", "file name is not valid UTF-8")
    try:
        full = image_file(root, rel)
    except PathOutsideRootError as exc:
        return SkippedFile(rel, "outside the library", f"a symlink out of the folder, not followed ({exc.reason})")
    try:
        return full, full.stat()
    except OSError as exc:
        return SkippedFile(rel, "unreadable", exc.strerror or str(exc))


class _Scanner:
    """One scan's state: the library folder, the feature writer (opened with the backbone, when a photo is new),
    and the photo rows gathered so far."""

    def __init__(self, root: Path, lib_dir: Path, backbone: Callable[[], Backbone], workers: int) -> None:
        self.root, self.lib_dir, self._load, self.workers = root, lib_dir, backbone, workers
        self._writer: FeatureWriter | None = None
        self.backbone: Backbone | None = None
        store = lib_dir / FEATURES_DIR
        self.known = set(FeatureStore.open(store).paths) if (store / MANIFEST).is_file() else set()
        self.rows: dict[str, LibraryPhoto] = {}
        self.skipped: list[SkippedFile] = []

    @property
    def features(self) -> FeatureWriter:
        if self._writer is None:
            self.backbone = self._load()
            identity = {**self.backbone.fingerprint(), "tencrop": False}
            self._writer = FeatureWriter(self.lib_dir / FEATURES_DIR, identity, {"index": 0, "count": 1})
        return self._writer

    def read_chunk(self, chunk: list[tuple[str, Path, os.stat_result]]) -> None:
        """EXIF, camera and hash of each file; features of the contents not yet in the store; then save."""
        fresh: dict[str, LibraryPhoto] = {}
        for rel, full, stat in chunk:
            try:
                exif = read_photo_exif(full, check_pixels=False)
                sha = content_hash(full)
            except PhotoReadError as exc:
                self.skipped.append(SkippedFile(rel, exc.reason, exc.detail))
                continue
            except OSError as exc:
                self.skipped.append(SkippedFile(rel, "unreadable", exc.strerror or str(exc)))
                continue
            fresh[rel] = _photo(rel, full, stat, sha, exif)
        self._extract(fresh)
        self.rows.update(fresh)
        self.save()

    def _extract(self, fresh: dict[str, LibraryPhoto]) -> None:
        """Features of every new content among ``fresh`` (one file per content); undecodable files are skipped."""
        by_sha: dict[str, str] = {}
        for rel, photo in fresh.items():
            if photo.sha not in self.known:
                by_sha.setdefault(photo.sha, rel)
        if not by_sha:
            return
        reps = list(by_sha.values())
        batches = [reps[i : i + BATCH] for i in range(0, len(reps), BATCH)]
        keys, parts, failed = [], [], {}
        writer = self.features
        for batch in file_features(self.backbone, batches, self.root, num_workers=self.workers):
            keys += [fresh[rel].sha for rel in batch.paths]
            parts.append(batch.features)
            failed.update(dict(batch.failed))
        if keys:
            writer.write_shard(keys, torch.cat(parts))
            self.known.update(keys)
        for rel, photo in list(fresh.items()):
            reason = failed.get(by_sha.get(photo.sha, ""))
            if reason is not None:
                self.skipped.append(SkippedFile(rel, "unreadable", reason))
                del fresh[rel]

    def save(self) -> None:
        write_catalog(self.lib_dir, _with_duplicates(self.rows), self.skipped)


def _with_duplicates(rows: dict[str, LibraryPhoto]) -> list[LibraryPhoto]:
    """The rows sorted by path, each marked ``duplicate_of`` the first path with the same bytes (or not)."""
    first: dict[str, str] = {}
    out = []
    for path in sorted(rows):
        photo = rows[path]
        original = first.setdefault(photo.sha, path)
        duplicate_of = "" if original == path else original
        out.append(photo if photo.duplicate_of == duplicate_of else replace(photo, duplicate_of=duplicate_of))
    return out


def _backbone(backbone: Backbone | str, device: str | torch.device | None) -> Backbone:
    return load_backbone(backbone, device=device) if isinstance(backbone, str) else backbone


def _previous(lib_dir: Path, root: Path) -> dict[str, LibraryPhoto]:
    """The photos of an earlier scan of ``root`` into ``lib_dir`` (none for a new library folder)."""
    if not (lib_dir / LIBRARY_JSON).is_file():
        return {}
    library = Library.open(lib_dir)
    if library.root.resolve() != root:
        raise ParameterError(
            f"{lib_dir} holds the library of {library.root}, not of {root}: use another ", Param("lib_dir")
        )
    if library.info.get("reader", 1) != READER:
        return {}  # read by an older scan: every file's metadata again (its features stay, keyed by content)
    return {p.path: p for p in library.photos}


def scan_library(
    photo_dir: str | os.PathLike[str],
    lib_dir: str | os.PathLike[str],
    *,
    backbone: Backbone | str = DEFAULT_BACKBONE,
    num_workers: int | None = None,
    progress: bool = False,
    device: str | torch.device | None = "auto",
) -> ScanResult:
    """Scan every photo under ``photo_dir`` into the library folder ``lib_dir`` (see the module docstring).

    ``backbone``: a loaded backbone or a registered name (loaded on ``device``); a library keeps one backbone (its
    features are refused from another). ``num_workers``: processes decoding photos while the network runs (default:
    the cores, at most 4). One scan at a time writes a library folder (a second gets
    :class:`~gtloc.io.FolderBusyError`). Returns what was done; the library is written.
    """
    root = Path(photo_dir).resolve()
    if not root.is_dir():
        raise GtlocError(f"photo folder not found: {photo_dir}")
    lib = output_dir(lib_dir).resolve()
    if lib == root:
        raise ParameterError("the library folder ", Param("lib_dir"), " must not be the photo folder itself")
    with exclusive_lock(lib, "a library scan"):
        previous = _previous(lib, root)
        workers = num_workers if num_workers is not None else min(4, cpu_threads())
        scanner = _Scanner(root, lib, partial(_backbone, backbone, device), workers)
        old_info = Library.open(lib).info if (lib / LIBRARY_JSON).is_file() else {}
        info = {**old_info, "format": FORMAT, "root": str(root), "reader": READER}
        write_json(lib / LIBRARY_JSON, info)  # first, so that a killed scan resumes as a re-scan
        rels, ignored, unlisted = list_photos(root)
        scanner.skipped += [SkippedFile(s.path, s.reason, s.detail) for s in unlisted]
        todo: list[tuple[str, Path, os.stat_result]] = []
        for rel in rels:
            located = _locate(root, rel)
            if isinstance(located, SkippedFile):
                scanner.skipped.append(located)
                continue
            full, stat = located
            old = previous.get(rel)
            if old and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns) and old.sha in scanner.known:
                scanner.rows[rel] = old
            else:
                todo.append((rel, full, stat))
        kept = len(scanner.rows)
        with tqdm(total=len(todo), desc="scanning photos", unit="photo", disable=not progress) as bar:
            for start in range(0, len(todo), CHUNK):
                chunk = todo[start : start + CHUNK]
                scanner.read_chunk(chunk)
                bar.update(len(chunk))
        scanner.save()
        if scanner.backbone is not None:
            info["backbone"] = scanner.backbone.fingerprint()
        scanned = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_json(lib / LIBRARY_JSON, {**info, "scanned": scanned, "photos": len(scanner.rows)})
        library = Library.open(lib)
    removed = sum(1 for path in previous if path not in scanner.rows)
    return ScanResult(library, len(todo), kept, removed, scanner.skipped, ignored)


def summarize_scan(result: ScanResult, max_listed: int = 20) -> str:
    """A short human summary of a scan: counts, then the skipped files with reasons (the first ``max_listed``)."""
    photos = result.photos
    places = sum(p.has_place for p in photos)
    times = sum(p.has_time for p in photos)
    cameras = len({p.camera for p in photos if p.camera})
    lines = [
        f"library {result.library.lib_dir}: {len(photos)} photos of {result.library.root} "
        f"({result.read} read now, {result.kept} unchanged since the last scan, {result.removed} gone)",
        f"  with a GPS place: {places}; with a time: {times}; cameras: {cameras}; duplicates: {result.duplicates}",
    ]
    if result.skipped:
        reasons = ", ".join(f"{r} {n}" for r, n in Counter(s.reason for s in result.skipped).items())
        lines.append(f"skipped {len(result.skipped)} files ({reasons}); all listed in skipped.csv")
        lines += [f"  {s.path}: {s.reason}: {s.detail}" for s in result.skipped[:max_listed]]
        if len(result.skipped) > max_listed:
            lines.append(f"  ... and {len(result.skipped) - max_listed} more")
    if result.ignored:
        counts = ", ".join(f"{suffix} {n}" for suffix, n in sorted(result.ignored.items()))
        lines.append(f"ignored {sum(result.ignored.values())} files that are not photos (by suffix: {counts})")
    return "\n".join(lines)
