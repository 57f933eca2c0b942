"""``gtloc features``: compute and cache backbone features for every record, or every photo named (resumable)."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app, flags, on_interrupt, progress_option, same_command, show_progress, switch
from gtloc.cli.options import checked_device, device_option, precision_option

# Written out so that `gtloc features --help` loads no torch; tests/test_cli.py checks them against the registry.
TENCROP_BELOW = 2000  # gtloc.training.small_data.SMALL_DATA_N
BACKBONE_NAMES = (
    "clip-vit-l-14",
    "clip-vit-l-14+photometric",
    "efficientnet-lite0",
    "efficientnet-lite0+photometric",
    "photometric",
)
DEFAULT_BACKBONE = "efficientnet-lite0"
SMALL_SET_BACKBONE = "efficientnet-lite0+photometric"


@app.command()
def features(
    photos: list[str] | None = typer.Argument(
        None, help="Photo files or folders (recursive): no records CSV needed; their EXIF goes to FEATDIR/exif.csv."
    ),
    records: Path | None = typer.Option(None, "--records", help="Records CSV (path,lat,lon[,time fields...])."),
    images: Path | None = typer.Option(
        None, "--images", help="Folder the records' paths are relative to (default: the CSV's folder)."
    ),
    out: Path = typer.Option(..., "--out", help="Feature directory (created, or resumed if it exists)."),
    backbone: str | None = typer.Option(
        None,
        "--backbone",
        help=f"One of: {', '.join(BACKBONE_NAMES)}. Default: {SMALL_SET_BACKBONE} under {TENCROP_BELOW} pictures "
        f"(the colour and brightness statistics transfer to unseen cameras), else {DEFAULT_BACKBONE}; or what an "
        "existing --out holds.",
    ),
    backbone_path: Path | None = typer.Option(
        None, "--backbone-path", help="Local model directory/file (clip-vit-l-14: a save_pretrained copy)."
    ),
    device: str = device_option(),
    precision: str = precision_option("Backbone arithmetic; bf16/fp16 are recorded with the features"),
    tencrop: bool | None = typer.Option(
        None,
        "--tencrop/--no-tencrop",
        help=f"Store ten crops per image, (10, D) each. Default: ten crops under {TENCROP_BELOW} pictures (a small "
        "set, where training on random crops and scoring ten helped), else one; or as an existing --out holds.",
    ),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    shard_size: int = typer.Option(1024, "--shard-size", min=1, help="Images per shard file."),
    workers: int | None = typer.Option(
        None, "--workers", min=0, help="Image decoding processes (default: the cores, at most 4; 0: in this one)."
    ),
    lenient: bool = switch(
        False, "lenient", "Skip bad CSV rows (report beside the CSV) instead of stopping.", off="--strict"
    ),
    eager: bool = switch(False, "eager", "Run the backbone in eager torch (no ONNX fast path)."),
    progress: bool | None = progress_option(),
    allow_outside_images: bool = switch(
        False, "allow-outside-images", "Read records' paths that resolve outside --images (refused by default)."
    ),
    shard_index: int = typer.Option(0, "--shard-index", min=0, help="This worker's share (0 .. --num-shards - 1)."),
    num_shards: int = typer.Option(
        1, "--num-shards", min=1, help="Workers sharing the records (by a hash of the path); one --out each."
    ),
) -> None:
    """Compute backbone features for every record's image (--records), or for every photo named (files, or folders
    searched recursively), and cache them in FEATDIR (resumes if interrupted). For photos, FEATDIR/exif.csv holds
    what each photo's EXIF says (place, local time), which `gtloc predict --features FEATDIR` shows and uses.

    With --num-shards N, worker --shard-index I extracts its 1/N of the images; join the N directories with
    `gtloc features-merge`, or pass them all to --features.
    """
    device = checked_device(device)
    from gtloc.backbones import load_backbone
    from gtloc.backbones.extract import extract_features, extract_photo_features
    from gtloc.data.features import FAILED_CSV, select_shard
    from gtloc.data.ingest import expand_photos
    from gtloc.data.schema import load_records
    from gtloc.errors import GtlocError

    if bool(photos) == (records is not None):
        raise GtlocError("give photo files or folders, or --records R.csv (one of the two)")
    if photos and images is not None:
        raise GtlocError("--images goes with --records (photos named on the command line are found as given)")
    count = len(expand_photos(photos)[0]) if photos else len(load_records(records, strict=not lenient))
    backbone, tencrop = _defaults(out, count, backbone, tencrop)
    options = {
        "tencrop": tencrop,
        "batch_size": batch_size,
        "shard_size": shard_size,
        "num_workers": workers,
        "progress": show_progress(progress),
        "shard_index": shard_index,
        "num_shards": num_shards,
        "log": typer.echo,
    }
    planned: list[str] = []

    def kept() -> str:
        from gtloc.data.features import MANIFEST, FeatureStore

        done = len(FeatureStore.open(out)) if (out / MANIFEST).is_file() else 0
        of = f" of {len(planned)}" if planned else ""
        return (
            f"kept the features of {done}{of} images in {out} (written a shard of --shard-size images at a time); "
            f"the same command extracts the rest: {same_command()}"
        )

    with flags(images_root="--images", out_dir="--out", model_path="--backbone-path"), on_interrupt(kept):
        model = load_backbone(backbone, model_path=backbone_path, fast=not eager, device=device, precision=precision)
        if photos:
            store, table, unlisted = extract_photo_features(photos, out, model, **options)
        else:
            table, unlisted = load_records(records, strict=not lenient), []
            planned += select_shard(table.paths, shard_index, num_shards)
            root = records.parent if images is None else images
            store = extract_features(table, root, model, out, allow_outside=allow_outside_images, **options)
    share = set(select_shard(table.paths, shard_index, num_shards))
    wanted = share
    failed = {p: r for p, r in store.failed.items() if p in wanted}
    of_shard = f" (shard {shard_index} of {num_shards})" if num_shards > 1 else ""
    typer.echo(
        f"{sum(p in store for p in wanted)} of {len(wanted)} images{of_shard} have {store.backbone} features "
        f"({store.feature_dim}-d{', ten-crop' if store.tencrop else ''}, {model.runtime} on {model.device}) in {out}"
    )
    if photos:
        typer.echo(
            f"EXIF of the {len(table)} photos in {out / 'exif.csv'}: {int(table.has_gps.sum())} with GPS, "
            f"{int(table.has_time.sum())} with a time"
        )
    for path, reason in unlisted:
        typer.echo(f"skipped {path}: {reason}", err=True)
    if failed:
        noun = "image" if len(failed) == 1 else "images"
        typer.echo(f"{len(failed)} {noun} could not be read (listed in {out / FAILED_CSV}):", err=True)
        for path, reason in list(failed.items())[:10]:
            typer.echo(f"  {path}: {reason}", err=True)
    if wanted and not any(p in store for p in wanted):
        raise GtlocError(f"no features: none of the {len(wanted)} images could be read (see {out / FAILED_CSV})")


def _defaults(out: Path, pictures: int, backbone: str | None, tencrop: bool | None) -> tuple[str, bool]:
    """The backbone and crops where not given: those of the features already in ``out`` (a resumed cache keeps
    them), else for fewer than :data:`TENCROP_BELOW` pictures :data:`SMALL_SET_BACKBONE` with ten crops (seconds
    more on a CPU; on few-camera sets both helped on unseen cameras, docs/small-data.md), else
    :data:`DEFAULT_BACKBONE` with one crop."""
    from gtloc.data.features import MANIFEST, FeatureStore

    if (out / MANIFEST).is_file():
        store = FeatureStore.open(out)
        return backbone or store.backbone, store.tencrop if tencrop is None else tencrop
    small = pictures < TENCROP_BELOW
    return backbone or (SMALL_SET_BACKBONE if small else DEFAULT_BACKBONE), small if tencrop is None else tencrop
