"""Write a synthetic world to disk: ``DIR/images/<shard>/s<seed>-<index>.jpg`` and ``DIR/records.csv``.

Record paths are relative to ``DIR/images`` (the image root). Rendering is split into chunks rendered in
worker processes; every picture's randomness comes from its own scene seeds, so the output is byte-identical
for a seed whatever the number of workers.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from PIL import Image

from gtloc.data.schema import Records, write_records
from gtloc.data.world.climate import CLIMATES
from gtloc.data.world.render import MIN_SIZE, render_scene
from gtloc.data.world.scenes import Scenes, camera_frame_counts, sample_scenes
from gtloc.errors import Param, ParameterError
from gtloc.io import atomic_path, write_json

log = logging.getLogger(__name__)

JPEG_QUALITY = 90
CHUNK = 32
IMAGES_DIR = "images"
SHARD = 1000


def image_path(index: int, seed: int) -> str:
    """Path of picture ``index`` of world ``seed`` relative to ``DIR/images``: ``"000/s7-000123.jpg"``.

    1,000 pictures per folder. The seed is in the name so that two worlds never share a path: feature caches
    and predictions are matched to records by path, and must not confuse a train and a test picture.
    """
    return f"{index // SHARD:03d}/s{seed}-{index:06d}.jpg"


def _render_chunk(scenes: Scenes, indices: list[int], size: int, image_root: str, seed: int) -> list[tuple[int, str]]:
    """Render and save the pictures ``indices`` (positions in ``scenes``); return ``(index, error)`` failures."""
    failures = []
    for pos, index in enumerate(indices):
        scene = scenes[pos]
        try:
            pixels = render_scene(scene, size, np.random.default_rng(int(scene.render_seed)))
            target = Path(image_root) / image_path(index, seed)
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(target) as tmp:
                Image.fromarray(pixels).save(tmp, format="JPEG", quality=JPEG_QUALITY)
        except Exception as exc:  # one bad picture must not stop a world; it is reported and left out
            failures.append((index, f"{type(exc).__name__}: {exc}"))
    return failures


def _subset(scenes: Scenes, idx: np.ndarray) -> Scenes:
    return Scenes(**{name: value[idx] for name, value in vars(scenes).items()})


def _fmt(values: np.ndarray, digits: int) -> list[str]:
    return [f"{v:.{digits}f}" for v in np.asarray(values, np.float64).tolist()]


def scenes_to_records(scenes: Scenes, paths: list[str]) -> Records:
    """Records (local clock time) of ``scenes`` with useful extra columns describing each picture."""
    extras = {
        "unix_ts": [str(int(v)) for v in scenes.unix_ts],
        "year": [str(int(v)) for v in scenes.year],
        "timezone": [str(v) for v in scenes.timezone],
        "sun_elevation": _fmt(scenes.sun_elevation, 2),
        "sun_azimuth": _fmt(scenes.sun_azimuth, 2),
        "climate": [CLIMATES[int(z)] for z in scenes.climate],
        "temperature_c": _fmt(scenes.temperature, 1),
        "cloud": _fmt(scenes.cloud, 2),
        "snow": _fmt(scenes.snow, 2),
        "camera_heading": _fmt(scenes.camera_heading, 1),
        "fov": _fmt(scenes.fov, 1),
    }
    if (scenes.camera >= 0).any():
        extras["camera"] = [f"cam{int(c):04d}" for c in scenes.camera]
    return Records(paths=paths, latlon=np.stack([scenes.lat, scenes.lon], 1), times=scenes.times, extras=extras)


def _check(n: int, size: int, workers: int, cameras: int) -> None:
    if n < 1:
        raise ParameterError("world size ", Param("n"), f" must be at least 1, got {n}")
    if size < MIN_SIZE:
        raise ParameterError("image ", Param("size"), f" must be at least {MIN_SIZE} pixels, got {size}")
    if workers < 1:
        raise ParameterError(Param("workers"), f" must be at least 1, got {workers}")
    if cameras < 0 or cameras > n:
        raise ParameterError(Param("cameras"), f" must be between 0 and n={n}, got {cameras}")


def generate_world(
    n: int | None,
    seed: int,
    out_dir: str | Path,
    *,
    size: int = 224,
    workers: int = 1,
    progress: bool = True,
    cameras: int = 0,
    frames: tuple[int | None, int | None] | None = None,
) -> Records:
    """Render ``n`` SYNTHETIC pictures for ``seed`` into ``out_dir`` and write ``out_dir/records.csv``.

    ``size``: picture side in pixels; ``workers``: rendering processes; ``cameras > 0``: a fixed-webcam
    world of that many cameras (a ``camera`` column). ``frames``: ``(min, max)`` pictures per camera, each
    camera's count drawn uniformly in that range from ``seed``; ``n`` must then be ``None`` (it is their sum).
    Also writes ``out_dir/world.json`` (the settings). Pictures that fail to render are left out and reported.
    Returns the records written.
    """
    counts = None
    if frames is not None:
        if n is not None or cameras < 1 or None in frames:
            raise ParameterError(
                Param("frames"),
                " needs both a minimum and a maximum, ",
                Param("cameras"),
                " >= 1 and no ",
                Param("n"),
                " (the world size is their sum)",
            )
        counts = camera_frame_counts(cameras, frames[0], frames[1], seed)
        n = int(counts.sum())
    elif n is None:
        raise ParameterError("the world size ", Param("n"), " is required (or ", Param("frames"), " per camera)")
    _check(n, size, workers, cameras)
    out = Path(out_dir)
    scenes = sample_scenes(n, seed, cameras=cameras, frames_per_camera=counts)
    image_root = out / IMAGES_DIR
    image_root.mkdir(parents=True, exist_ok=True)
    chunks = [list(range(i, min(i + CHUNK, n))) for i in range(0, n, CHUNK)]
    failures: list[tuple[int, str]] = []
    bar = _progress_bar(n, progress)
    if workers == 1 or len(chunks) == 1:
        for idx in chunks:
            failures += _render_chunk(_subset(scenes, np.array(idx)), idx, size, str(image_root), seed)
            bar.update(len(idx))
    else:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            jobs = {
                pool.submit(_render_chunk, _subset(scenes, np.array(idx)), idx, size, str(image_root), seed): len(idx)
                for idx in chunks
            }
            for job in as_completed(jobs):
                failures += job.result()
                bar.update(jobs[job])
    bar.close()
    for index, message in sorted(failures):
        log.warning("world picture %d left out: %s", index, message)
    keep = np.setdiff1d(np.arange(n), [i for i, _ in failures])
    records = scenes_to_records(_subset(scenes, keep), [image_path(int(i), seed) for i in keep])
    write_records(records, out / "records.csv")
    write_json(
        out / "world.json",
        {
            "synthetic": True,
            "generator": "gtloc world",
            "n": n,
            "seed": seed,
            "size": size,
            "cameras": cameras,
            "frames_per_camera": None if counts is None else counts.tolist(),
            "images": IMAGES_DIR,
            "rendered": len(keep),
            "failed": [{"index": i, "error": m} for i, m in sorted(failures)],
        },
    )
    return records


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="rendering world", unit="img", disable=not enabled)
