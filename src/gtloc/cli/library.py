"""``gtloc library scan|fill|evaluate|synthetic``: fill in a photo library's missing places and wrong times."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path

import typer

from gtloc.cli.app import (
    _App,
    _Group,
    app,
    checkpoint_option,
    flags,
    on_interrupt,
    progress_option,
    same_command,
    show_progress,
    switch,
)
from gtloc.cli.options import checked_device, device_option
from gtloc.errors import GtlocError

library_app = _App(
    name="library",
    cls=_Group,
    help="Fill in a photo library: a place and a time for every photo that lacks one, each with its evidence.",
    no_args_is_help=True,
)
app.add_typer(library_app, name="library")


MODEL_HELP = "A trained run for the model source (answers only for photos in its domain)."


class Hide(str, Enum):
    place = "place"
    time = "time"


class Unit(str, Enum):
    photo = "photo"
    session = "session"


class XmpName(str, Enum):
    ext = "ext"
    base = "base"


def _predictor(checkpoint: Path | None, device: str):
    if checkpoint is None:
        return None
    from gtloc.inference.predictor import load

    return load(checkpoint, device=checked_device(device))


@library_app.command("scan")
def scan(
    photo_dir: Path = typer.Argument(..., help="Folder of photos, read recursively (symlinks out of it not followed)."),
    out: Path = typer.Option(..., "--out", "-o", help="Library folder to write (and to update on a re-scan)."),
    backbone: str = typer.Option("efficientnet-lite0", "--backbone", help="Backbone for the photos' features."),
    workers: int | None = typer.Option(None, "--workers", help="Decoding processes (default: the cores, at most 4)."),
    device: str = device_option(),
    progress: bool | None = progress_option(),
) -> None:
    """Read every photo's EXIF place, time and camera, its content hash and its features into LIB.

    A re-scan reads only new or changed files (by path, size and modification time); an interrupted scan resumes.
    """
    from gtloc.library.scan import scan_library, summarize_scan

    before = _scanned(out)
    if before:
        typer.echo(f"resuming {out}: {before} photos already scanned; only new or changed files are read")

    def kept() -> str:
        return (
            f"kept {_scanned(out)} scanned photos in {out} (written a chunk at a time); "
            f"the same command scans the rest: {same_command()}"
        )

    with flags(lib_dir="--out", num_workers="--workers"), on_interrupt(kept):
        result = scan_library(
            photo_dir,
            out,
            backbone=backbone,
            num_workers=workers,
            progress=show_progress(progress),
            device=checked_device(device),
        )
    typer.echo(summarize_scan(result))


def _scanned(lib: Path) -> int:
    """How many photos the library folder ``lib`` lists now (0 when it is not a library yet)."""
    from gtloc.library.catalog import LIBRARY_JSON, Library

    return len(Library.open(lib).photos) if (lib / LIBRARY_JSON).is_file() else 0


@library_app.command("fill")
def fill(
    lib: Path = typer.Argument(..., help="Library folder made by `gtloc library scan`."),
    out: Path = typer.Option(..., "--out", "-o", help="Estimates CSV to write (atomically; anywhere)."),
    checkpoint: Path | None = checkpoint_option(MODEL_HELP, required=False),
    xmp: bool = switch(False, "xmp", "Also write the chosen estimates as XMP sidecars by the photos."),
    xmp_name: XmpName = typer.Option(
        XmpName.ext,
        "--xmp-name",
        help="Sidecar names: ext = photo.jpg.xmp (darktable, digiKam, Immich), "
        "base = photo.xmp (Lightroom, Capture One).",
    ),
    max_radius_km: float = typer.Option(100.0, "--max-radius-km", help="No place estimate with a larger radius."),
    device: str = device_option(),
) -> None:
    """Estimate a place for every photo without one and a time for every photo without a trustworthy one.

    Columns: path, field (place|time), lat, lon, time, radius_km, radius_h, source, confidence, evidence,
    chosen, note. Sources: track, scene, model (with --checkpoint), clock. Originals are never modified.
    """
    from gtloc.library.fill import FillSettings, fill_library
    from gtloc.library.sidecars import write_sidecars

    if not max_radius_km > 0:
        raise GtlocError(f"--max-radius-km must be > 0, got {max_radius_km}")
    predictor = _predictor(checkpoint, device)
    with flags(lib_dir="LIB"):
        result = fill_library(
            lib,
            out,
            predictor=predictor,
            model_label=str(checkpoint or ""),
            settings=FillSettings(max_radius_km=max_radius_km),
        )
    typer.echo(summarize_fill(result))
    if not xmp:
        return
    from gtloc.library.catalog import Library

    root = Library.open(lib).root
    report = write_sidecars(root, result.estimates, xmp_name.value)
    typer.echo(
        f"XMP sidecars in {root}: {len(report.written)} written, {len(report.unchanged)} already up to date, "
        f"{len(report.refused)} refused, {len(report.failed)} failed"
    )
    for path, why in report.refused[:20]:
        typer.echo(f"  refused {path}: {why}")
    for path, why in report.failed[:20]:
        typer.echo(f"  failed {path}: {why}")
    if report.read_only:
        raise GtlocError(
            f"the photo folder {root} cannot be written ({report.failed[0][1]}): no sidecar written; "
            f"the estimates are in {result.out}"
        )
    if report.failed:
        raise GtlocError(
            f"{len(report.failed)} sidecars could not be written (listed above); estimates in {result.out}"
        )


def summarize_fill(result) -> str:
    """What fill found, in a few lines."""
    from collections import Counter

    places = Counter(e.source for e in result.chosen("place"))
    times = Counter(e.source for e in result.chosen("time"))
    placed = sum(places.values())
    by = ", ".join(f"{s} {n}" for s, n in sorted(places.items())) or "none"
    lines = [
        f"wrote {len(result.estimates)} estimates to {result.out}",
        f"  places: {result.missing_place} photos without one; placed {placed} (chosen from: {by}); "
        f"{result.missing_place - placed} left without (no source had support)",
    ]
    if times:
        lines.append("  times: " + ", ".join(f"{s} {n}" for s, n in sorted(times.items())))
    lines.append(f"  photos without a time: {result.missing_time}")
    if result.warning:
        lines.append(f"warning: {result.warning}")
    return "\n".join(lines)


@library_app.command("evaluate")
def evaluate(
    lib: Path = typer.Argument(..., help="Library folder made by `gtloc library scan`."),
    hide: Hide = typer.Option(..., "--hide", help="Hide and recover places or times."),
    unit: Unit = typer.Option(Unit.photo, "--unit", help="Hide one photo at a time, or a camera's whole day."),
    folds: int | None = typer.Option(
        None, "--folds", help="Folds (default: leave-one-out up to 200 units, else 10; 0 = leave-one-out)."
    ),
    checkpoint: Path | None = checkpoint_option(MODEL_HELP, required=False),
    out: Path | None = typer.Option(None, "--out", help="Also write the scores as JSON."),
    device: str = device_option(),
    progress: bool | None = progress_option(),
) -> None:
    """Hide-and-recover on the library's labelled photos: every source, the combination and PhotoPrism's rule."""
    from dataclasses import asdict

    from gtloc.io import write_json
    from gtloc.library.evaluate import evaluate_library

    predictor = _predictor(checkpoint, device)
    with flags(lib_dir="LIB"):
        result = evaluate_library(
            lib,
            hide=hide.value,
            unit=unit.value,
            folds=folds,
            predictor=predictor,
            model_label=str(checkpoint or ""),
            progress=show_progress(progress),
        )
    typer.echo(f"hid {len(result.hidden)} {hide.value}s by {unit.value}, {result.folds} folds")
    typer.echo(result.table())
    if out is not None:
        scores = [
            {
                k: None if isinstance(v, float) and math.isnan(v) else v
                for k, v in {**asdict(s), "coverage": s.coverage}.items()
            }
            for s in result.scores
        ]
        write_json(out, {"hide": hide.value, "unit": unit.value, "folds": result.folds, "scores": scores})
        typer.echo(f"-> {out}")


@library_app.command("synthetic")
def synthetic(
    out: Path = typer.Argument(..., help="Folder for the SYNTHETIC photos (one folder per camera) and truth.csv."),
    photos: int = typer.Option(400, "--photos", help="Photos in all."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives the same library."),
    size: int = typer.Option(256, "--size", help="Picture side in pixels."),
    photographers: int = typer.Option(
        3, "--photographers", help="The household and this many minus one unrelated photographers (1-5)."
    ),
    heic: bool = switch(False, "heic", "The phones write HEIC, as iPhones do (the others JPEG)."),
    workers: int = typer.Option(1, "--workers", help="Rendering processes."),
    progress: bool | None = progress_option(),
) -> None:
    """Render a SYNTHETIC library (a household with four cameras and unrelated photographers; recurring views, trips)
    with EXIF, to try the commands."""
    from gtloc.library.synthetic import SyntheticSettings, make_synthetic_library

    with flags():
        truth = make_synthetic_library(
            out,
            SyntheticSettings(photos=photos, seed=seed, size=size, photographers=photographers, heic=heic),
            workers=workers,
            progress=show_progress(progress),
        )
    typer.echo(f"rendered {photos} SYNTHETIC photos into {out}; the truth is in {truth}")
