"""The feature store: backbone features cached on disk in shards, looked up by path; and :func:`picture_features`,
the one rule that turns a picture's ten crops into one feature vector.

Computing the features is :func:`gtloc.backbones.extract.extract_features`; it writes through :class:`FeatureWriter`.

Layout of a feature directory::

    manifest.json            backbone, feature_dim, weights digest, preprocessing, tencrop, shards, failures
    shard-00000.safetensors  ``features``: (n, D) float32, or (n, 10, D) with ten-crop
    shard-00000.json         {"paths": [n image paths, row order of the shard]}
    failed.csv               path,reason for images that could not be decoded

Shards and the manifest are written atomically, so a run that is interrupted resumes where it stopped:
images already in a finished shard are never recomputed. A directory made by another backbone, other
weights or other preprocessing is refused instead of mixed.

Many workers: worker ``I`` of ``N`` extracts the images whose path hashes to ``I`` (:func:`select_shard`) into its
own directory; :func:`merge_feature_dirs` then writes a directory whose manifest lists the shards of all of them
(``"sources"``), and ``FeatureStore.open`` also takes a list of directories and merges them in memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.io import atomic_path, atomic_write_text, read_format_json, write_json

FORMAT = "gtloc-features/1"
MANIFEST = "manifest.json"
FAILED_CSV = "failed.csv"
IDENTITY_KEYS = ("backbone", "feature_dim", "weights", "preprocess", "tencrop", "precision")
# Identity keys a manifest may leave out, with their meaning then (fp32 caches, made before precision was recorded).
IDENTITY_DEFAULTS = {"precision": "fp32"}


def _identity(manifest: dict[str, Any]) -> dict[str, Any]:
    """The identity of a manifest (or a backbone's fingerprint + tencrop), every key filled in."""
    return {key: manifest[key] if key in manifest else IDENTITY_DEFAULTS[key] for key in IDENTITY_KEYS}


def picture_features(features: torch.Tensor) -> torch.Tensor:
    """One backbone feature vector per picture, ``(N, D)`` float32, from features ``(N, D)`` or ten-crop
    ``(N, C, D)``: the mean of the C crops' features (the feature-space rule, for what compares pictures by their
    backbone features: the domain check, the training neighbours, the baselines, the library's scenes, the
    validation loss). A picture's one *embedding* from its crops is :meth:`gtloc.model.gtloc.GTLoc.embed_images`,
    which averages the crops after the image head instead."""
    if features.dim() not in (2, 3):
        raise GtlocError(
            f"backbone features must be (N, feature_dim) or ten-crop (N, C, feature_dim), got {tuple(features.shape)}"
        )
    features = features.float()
    return features.mean(dim=1) if features.dim() == 3 else features


MAX_LISTED = 10
FeatureDirs = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


class FeatureStore:
    """A feature directory opened for reading: which paths it holds and their ``(D,)`` or ``(10, D)`` features."""

    def __init__(self, root: Path, manifest: dict[str, Any], shard_paths: list[list[str]]) -> None:
        self.root = root
        self.manifest = manifest
        self._where: dict[str, tuple[int, int]] = {}
        for s, paths in enumerate(shard_paths):
            for r, p in enumerate(paths):
                self._where.setdefault(p, (s, r))  # a path held by several merged directories: the first one

    @classmethod
    def open(cls, root: FeatureDirs) -> FeatureStore:
        """Read ``root/manifest.json`` and the shards' path lists (features are loaded lazily by ``load``).

        ``root`` may also be a list of directories with the same backbone identity (e.g. the outputs of
        ``gtloc features --shard-index I --num-shards N``): they are merged in memory as by :func:`merge_feature_dirs`.
        """
        if not isinstance(root, str | os.PathLike):
            roots = [Path(r) for r in root]
            if len(roots) == 1:
                return cls.open(roots[0])
            return cls._indexed(roots[0], _merged_manifest(roots, None))
        root = Path(root)
        manifest_path = root / MANIFEST
        if not manifest_path.is_file():
            raise GtlocError(f"no feature cache in {root}: {MANIFEST} not found (make one with `gtloc features`)")
        manifest = read_format_json(manifest_path, FORMAT, "a gtloc feature manifest")
        return cls._indexed(root, manifest)

    @classmethod
    def _indexed(cls, root: Path, manifest: dict[str, Any]) -> FeatureStore:
        """The store of ``manifest`` (shard files relative to ``root``) with every shard's path list read."""
        shard_paths = []
        for shard in manifest["shards"]:
            for name in (shard["file"], shard["paths_file"]):
                if not (root / name).is_file():
                    raise GtlocError(
                        f"feature cache {root} is damaged: {name} (listed in {MANIFEST}) is missing; "
                        "delete the directory and run `gtloc features` again"
                    )
            sidecar = json.loads((root / shard["paths_file"]).read_text(encoding="utf-8"))
            shard_paths.append(list(sidecar["paths"]))
        return cls(root, manifest, shard_paths)

    @property
    def paths(self) -> list[str]:
        """Every cached image path, in storage order (once each, also where merged directories overlap)."""
        return list(self._where)

    @property
    def sources(self) -> list[str]:
        """The directories merged into this store (empty for a directory made by ``gtloc features``)."""
        return [str(source) for source in self.manifest.get("sources", [])]

    @property
    def backbone(self) -> str:
        return str(self.manifest["backbone"])

    @property
    def feature_dim(self) -> int:
        return int(self.manifest["feature_dim"])

    @property
    def tencrop(self) -> bool:
        return bool(self.manifest["tencrop"])

    @property
    def failed(self) -> dict[str, str]:
        """``path -> reason`` for images that could not be decoded."""
        return {item["path"]: item["reason"] for item in self.manifest["failed"]}

    def identity(self) -> dict[str, Any]:
        """What made these features: backbone, feature_dim, weights digest, preprocessing, tencrop, precision."""
        return _identity(self.manifest)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, path: object) -> bool:
        return path in self._where

    def load(self, paths: Sequence[str] | None = None) -> torch.Tensor:
        """Features for ``paths`` (all if None), rows in the order asked.

        Returns ``(N, D)`` float32, or ``(N, 10, D)`` for a ten-crop cache. A GtlocError names missing paths.
        """
        wanted = self.paths if paths is None else list(paths)
        missing = [p for p in wanted if p not in self._where]
        if missing:
            reasons = self.failed
            described = [f"{p} ({reasons[p]})" if p in reasons else p for p in missing]
            raise GtlocError(
                f"feature cache {self.root} has no features for {len(missing)} of {len(wanted)} paths: "
                f"{_listing(described)}"
            )
        shape = (10, self.feature_dim) if self.tencrop else (self.feature_dim,)
        out = torch.empty((len(wanted), *shape), dtype=torch.float32)
        by_shard: dict[int, tuple[list[int], list[int]]] = {}
        for i, path in enumerate(wanted):
            shard, row = self._where[path]
            targets, rows = by_shard.setdefault(shard, ([], []))
            targets.append(i)
            rows.append(row)
        for shard, (targets, rows) in by_shard.items():
            features = load_file(self.root / self.manifest["shards"][shard]["file"])["features"]
            out[torch.tensor(targets)] = features[torch.tensor(rows)]
        return out


def _check_same_identity(root: Path, cached: dict[str, Any], wanted: dict[str, Any]) -> None:
    differences = [
        f"{key}: cache has {json.dumps(cached[key])}, this run {json.dumps(wanted[key])}"
        for key in IDENTITY_KEYS
        if cached[key] != wanted[key]
    ]
    if differences:
        raise ParameterError(
            f"feature cache {root} was made with a different backbone or preprocessing ("
            + "; ".join(differences)
            + "); features from different setups cannot be mixed: use another ",
            Param("out_dir"),
        )


def shard_of(path: str, num_shards: int) -> int:
    """The worker (``0 .. num_shards - 1``) that extracts ``path``: a stable hash of the path."""
    digest = hashlib.blake2b(path.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % num_shards


def select_shard(paths: Sequence[str], shard_index: int = 0, num_shards: int = 1) -> list[str]:
    """The paths worker ``shard_index`` of ``num_shards`` extracts, in order; the workers' sets partition ``paths``."""
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise GtlocError(f"shard {shard_index} of {num_shards}: need num_shards >= 1 and 0 <= shard_index < num_shards")
    if num_shards == 1:
        return list(paths)
    return [p for p in paths if shard_of(p, num_shards) == shard_index]


def _merged_manifest(roots: Sequence[Path], base: Path | None) -> dict[str, Any]:
    """One manifest listing the shards of every directory in ``roots`` (identities must be equal).

    Shard files are written relative to ``base`` (the merged directory), or absolute when ``base`` is None.
    """
    if not roots:
        raise GtlocError("no feature directories to merge")
    stores = [FeatureStore.open(root) for root in dict.fromkeys(Path(r).resolve() for r in roots)]
    first = stores[0]
    for store in stores[1:]:
        mine, theirs = first.identity(), store.identity()
        differences = [
            f"{key}: {json.dumps(mine[key])} vs {json.dumps(theirs[key])}"
            for key in IDENTITY_KEYS
            if mine[key] != theirs[key]
        ]
        if differences:
            raise GtlocError(
                f"cannot merge feature caches {first.root} and {store.root}: made with a different backbone or "
                "preprocessing (" + "; ".join(differences) + ")"
            )

    def where(path: Path) -> str:
        return os.path.relpath(path, base.resolve()) if base is not None else str(path)

    shards = [
        {**shard, "file": where(store.root / shard["file"]), "paths_file": where(store.root / shard["paths_file"])}
        for store in stores
        for shard in store.manifest["shards"]
    ]
    failed: dict[str, str] = {}
    for store in stores:
        for path, reason in store.failed.items():
            if not any(path in other for other in stores):
                failed.setdefault(path, reason)
    return {
        "format": FORMAT,
        **first.identity(),
        "shards": shards,
        "failed": [{"path": p, "reason": r} for p, r in failed.items()],
        "sources": [where(store.root) for store in stores],
    }


def merge_feature_dirs(roots: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str]) -> FeatureStore:
    """Write ``out_dir/manifest.json`` listing the shards of all ``roots`` (no features are copied); returns it opened.

    The directories must share one backbone identity (backbone, feature_dim, weights, preprocessing, tencrop);
    shard files are referenced by paths relative to ``out_dir``, so keep the directories side by side. A path held
    by several directories is read from the first. ``out_dir`` may hold an earlier merge (it is replaced), not features.
    """
    out = Path(out_dir)
    if any(Path(r).resolve() == out.resolve() for r in roots):
        raise GtlocError(f"the merged directory {out} cannot also be one of the directories merged")
    if (out / MANIFEST).is_file() and not FeatureStore.open(out).sources:
        raise GtlocError(f"{out} holds extracted features, not a merge: choose another output directory")
    manifest = _merged_manifest([Path(r) for r in roots], out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / MANIFEST, manifest)
    atomic_write_text(out / FAILED_CSV, _failed_csv(manifest["failed"]))
    return FeatureStore.open(out)


def _failed_csv(failed: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "reason"])
    writer.writerows([item["path"], item["reason"]] for item in failed)
    return out.getvalue()


class FeatureWriter:
    """A feature directory open for adding shards: what an extraction writes through (see the module docstring).

    ``identity``: what makes the features (``backbone``, ``feature_dim``, ``weights``, ``preprocess``, ``tencrop``);
    ``partition``: ``{"index": I, "count": N}``, the worker's share of the paths. An existing directory must have
    been made with the same identity and partition; the paths of its finished shards are ``in`` the writer, so an
    interrupted extraction resumes where it stopped. Every shard and the manifest are written atomically.
    """

    def __init__(self, out_dir: str | os.PathLike[str], identity: dict[str, Any], partition: dict[str, int]) -> None:
        self.root = root = Path(out_dir)
        self._done: set[str] = set()
        if (root / MANIFEST).exists():
            store = FeatureStore.open(root)
            if store.sources:
                raise GtlocError(f"{root} is a merge of other feature directories: extract into a directory of its own")
            _check_same_identity(root, store.identity(), _identity(identity))
            cached = store.manifest.get("partition", {"index": 0, "count": 1})
            if cached != partition:
                raise ParameterError(
                    f"feature cache {root} holds shard {cached['index']} of {cached['count']}, this run asks for "
                    f"shard {partition['index']} of {partition['count']}: use another ",
                    Param("out_dir"),
                    " per shard",
                )
            self.manifest = store.manifest
            self._done = set(store.paths)
        else:
            self.manifest = {"format": FORMAT, **identity, "partition": partition, "shards": [], "failed": []}
        self.failed = {item["path"]: item["reason"] for item in self.manifest["failed"]}
        self.save()

    def __contains__(self, path: object) -> bool:
        """Whether ``path`` is in a finished shard."""
        return path in self._done

    def fail(self, path: str, reason: str) -> None:
        """Note that ``path`` could not be read (listed in the manifest and ``failed.csv`` at the next save)."""
        self.failed[path] = reason

    def write_shard(self, paths: list[str], features: torch.Tensor) -> None:
        """Write one shard: ``features`` ``(n, D)`` or ``(n, C, D)`` of ``paths``, then save the manifest."""
        stem = f"shard-{len(self.manifest['shards']):05d}"
        with atomic_path(self.root / f"{stem}.safetensors") as tmp:
            save_file({"features": features.float().contiguous()}, str(tmp))
        write_json(self.root / f"{stem}.json", {"paths": paths})
        self.manifest["shards"].append(
            {"file": f"{stem}.safetensors", "paths_file": f"{stem}.json", "rows": len(paths)}
        )
        for path in paths:
            self.failed.pop(path, None)
        self._done.update(paths)
        self.save()

    def save(self) -> None:
        """Write the manifest and ``failed.csv`` (each atomically)."""
        self.manifest["failed"] = [{"path": p, "reason": r} for p, r in self.failed.items()]
        write_json(self.root / MANIFEST, self.manifest)
        atomic_write_text(self.root / FAILED_CSV, _failed_csv(self.manifest["failed"]))
