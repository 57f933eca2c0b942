"""``gtloc index``: index a folder of pictures or a records file once, so it can be searched."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app, checkpoint_option, on_interrupt, progress_option, same_command, show_progress
from gtloc.cli.options import checked_device, device_option
from gtloc.errors import GtlocError


@app.command(name="index")
def index_command(
    checkpoint: Path = checkpoint_option(),
    out: Path = typer.Option(..., "--out", help="Gallery directory to write."),
    images: Path | None = typer.Option(
        None,
        "--images",
        help="Folder of pictures (read recursively); with --records, the folder its paths are relative to "
        "(default: the CSV's folder).",
    ),
    records: Path | None = typer.Option(None, "--records", help="Records CSV of the pictures to index."),
    images_root: Path | None = typer.Option(None, "--images-root", hidden=True, help="Old name of --images."),
    features: Path | None = typer.Option(
        None, "--features", help="Reuse this `gtloc features` cache instead of running the backbone."
    ),
    progress: bool | None = progress_option(),
    device: str = device_option(),
) -> None:
    """Compute features and image embeddings of --images or --records and save them in --out."""
    device = checked_device(device)
    from gtloc.model.gtloc import GTLoc
    from gtloc.retrieval.image_gallery import build_image_gallery

    if images_root is not None and images is not None:
        raise GtlocError("give the records' image folder once: --images (--images-root is its old name)")
    if records is not None:
        images, images_root = None, images or images_root
    elif images_root is not None:
        raise GtlocError("--images-root needs --records; a folder of pictures is --images")
    model = GTLoc.from_pretrained(checkpoint)

    def kept() -> str:
        hint = "" if features else " (with --features FEATDIR, cached `gtloc features` skip the backbone)"
        return (
            f"nothing kept: the gallery in {out} is written at the end; run the command again{hint}: {same_command()}"
        )

    with on_interrupt(kept):
        result = build_image_gallery(
            model,
            out,
            images=images,
            records=records,
            images_root=images_root,
            features_dir=features,
            checkpoint=checkpoint,
            progress=show_progress(progress),
            device=device,
        )
    typer.echo(f"indexed {len(result.gallery)} pictures into {out}")
    for path, reason in list(result.skipped.items())[:10]:
        typer.echo(f"skipped {path}: {reason}")
    if len(result.skipped) > 10:
        typer.echo(f"... and {len(result.skipped) - 10} more skipped (listed in {out / 'gallery.json'})")
