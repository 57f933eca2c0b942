"""``gtloc index``: index a folder of pictures or a records file once, so it can be searched."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app


@app.command(name="index")
def index_command(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="Run directory of the trained model."),
    out: Path = typer.Option(..., "--out", help="Gallery directory to write."),
    images: Path | None = typer.Option(None, "--images", help="Folder of pictures (read recursively)."),
    records: Path | None = typer.Option(None, "--records", help="Records CSV of the pictures to index."),
    images_root: Path | None = typer.Option(
        None, "--images-root", help="Where the records' paths live (default: the CSV's folder)."
    ),
    features: Path | None = typer.Option(
        None, "--features", help="Reuse this `gtloc features` cache instead of running the backbone."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Compute features and image embeddings of --images or --records and save them in --out."""
    from gtloc.model.gtloc import GTLoc
    from gtloc.retrieval.image_gallery import build_image_gallery

    model = GTLoc.from_pretrained(checkpoint)
    result = build_image_gallery(
        model,
        out,
        images=images,
        records=records,
        images_root=images_root,
        features_dir=features,
        checkpoint=checkpoint,
        progress=progress,
    )
    typer.echo(f"indexed {len(result.gallery)} pictures into {out}")
    for path, reason in list(result.skipped.items())[:10]:
        typer.echo(f"skipped {path}: {reason}")
    if len(result.skipped) > 10:
        typer.echo(f"... and {len(result.skipped) - 10} more skipped (listed in {out / 'gallery.json'})")
