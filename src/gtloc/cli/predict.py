"""``gtloc predict``: the best place and time per photo (files or folders), with the photo's EXIF beside them,
printed; with ``--out``, a CSV plus the top-k JSON beside it."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app, checkpoint_option, flags, progress_option, show_progress, switch
from gtloc.cli.options import checked_device, device_option
from gtloc.model.readouts import DEFAULT_READOUT, READOUTS

# Written out so that `gtloc predict --help` loads no torch; tests/test_cli.py checks them against the library.
GPS_INDEXES = ("exact", "faiss-flat", "faiss-ivf", "faiss-ivfpq")


@app.command()
def predict(
    images: list[str] | None = typer.Argument(
        None, help="Photo files or folders (every photo under a folder, recursively); or use --records or --features."
    ),
    checkpoint: Path = checkpoint_option("Run directory (config.json + model.safetensors)."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the predictions CSV here, and the top-k JSON beside it (.json)."
    ),
    records: Path | None = typer.Option(
        None, "--records", help="Records CSV: the pictures to predict (with --images), or a subset of --features."
    ),
    images_root: Path | None = typer.Option(
        None, "--images", help="Folder the records' paths are relative to (default: the CSV's folder)."
    ),
    features: list[Path] | None = typer.Option(
        None, "--features", help="Feature cache made by `gtloc features` (repeat for several, e.g. shards)."
    ),
    top_k: int = typer.Option(5, "--top-k", min=1, help="Places and times listed per picture in the JSON."),
    tencrop: bool | None = typer.Option(
        None,
        "--tencrop/--no-tencrop",
        help="Average ten crops per picture (test-time augmentation); default: as the model was trained.",
    ),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Pictures per backbone batch."),
    readout: str | None = typer.Option(
        None,
        "--readout",
        help=f"Time answer, one of {', '.join(READOUTS)}: the gallery's argmax (the paper's) or least "
        "expected error (bayes); knn: from the training pictures nearest in feature space; mix: both. "
        f"Default: the run's own (gtloc info RUN), else {DEFAULT_READOUT}.",
    ),
    backbone_path: Path | None = typer.Option(
        None, "--backbone-path", help="Local weights for the checkpoint's backbone (clip-vit-l-14 needs one)."
    ),
    eager: bool = switch(False, "eager", "Run the backbone in eager torch (no ONNX fast path)."),
    gps_index: str = typer.Option(
        "exact", "--gps-index", help=f"GPS gallery search: {', '.join(GPS_INDEXES)} (FAISS: pip install faiss-cpu)."
    ),
    nprobe: int = typer.Option(8, "--nprobe", min=1, help="IVF lists scanned per query (faiss-ivf, faiss-ivfpq)."),
    show: int | None = typer.Option(
        None, "--show", min=0, help="Photos listed in the printed summary (default: all, or 5 with --out)."
    ),
    progress: bool | None = progress_option(),
    allow_outside_images: bool = switch(
        False, "allow-outside-images", "Read records' paths that resolve outside --images (refused by default)."
    ),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Folder for encoded galleries (default: CHECKPOINT/galleries, or $GTLOC_CACHE/galleries when the run "
        "folder is read-only).",
    ),
    device: str = device_option(),
    place: str | None = typer.Option(
        None,
        "--place",
        metavar="LAT,LON",
        help="The place every photo was taken (degrees, e.g. --place=-33.92,18.42): answer each time given it.",
    ),
    ignore_exif: bool = switch(
        False, "ignore-exif", "Answer each time from the image alone, even where the photo's EXIF has GPS."
    ),
) -> None:
    """Predict when and where each photo was taken (local time, lat/lon) with a trained checkpoint.

    Each photo's EXIF place and time are shown beside the answer. Where a photo's EXIF has GPS, its time is answered
    given that place (the run's fitted location weight) and the output says so; --place gives the place by hand,
    --ignore-exif answers from the image alone. The best place is the top one after merging gallery entries closer
    than 10 km, with its nearest town, its probability and the radius that holds the truth with the run's stated
    probability; the time is a month and the clock hours around the answer that hold the true hour with the run's
    stated probability. A photo that cannot be read is skipped and named; the others are predicted.
    """
    device = checked_device(device)
    from gtloc.inference.batch_predict import run_prediction
    from gtloc.inference.prediction import prediction_text
    from gtloc.inference.prediction_files import prediction_json_path

    with flags(images="IMAGE...", images_root="--images", model_path="--backbone-path"):
        result = run_prediction(
            checkpoint,
            out,
            images=images or [],
            records=records,
            images_root=images_root,
            features=features or None,
            top_k=top_k,
            tencrop=tencrop,
            batch_size=batch_size,
            readout=readout,
            backbone_path=backbone_path,
            fast=not eager,
            progress=show_progress(progress),
            log=lambda line: typer.echo(line, err=True),
            gps_index=gps_index,
            nprobe=nprobe,
            cache_dir=cache_dir,
            device=device,
            allow_outside=allow_outside_images,
            place=_latlon(place),
            exif_place=not ignore_exif,
        )
    if result.model_card is not None:
        typer.echo(result.model_card.summary())
    limit = (len(result.paths) if out is None else 5) if show is None else show
    text = prediction_text(result.prediction, result.paths, limit=limit)
    if text:
        typer.echo(text)
    skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
    if out is None:
        typer.echo(f"{len(result.paths)} predictions{skipped} (--out FILE.csv writes them with the top-{top_k} JSON)")
    else:
        typer.echo(f"{len(result.paths)} predictions{skipped} -> {out} (top-{top_k}: {prediction_json_path(out)})")


def _latlon(text: str | None) -> tuple[float, float] | None:
    """``"51.5074,-0.1278"`` -> ``(51.5074, -0.1278)``; the library checks the range."""
    if text is None:
        return None
    from gtloc.errors import GtlocError

    parts = text.replace(" ", "").split(",")
    try:
        lat, lon = (float(v) for v in parts)
    except ValueError:
        raise GtlocError(f"--place must be LAT,LON in degrees (e.g. --place=51.5074,-0.1278), got {text!r}") from None
    return lat, lon
