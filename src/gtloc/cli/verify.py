"""``gtloc verify IMAGE``: does the photo's claimed place and time (EXIF by default) fit what it shows?"""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app, checkpoint_option, flags
from gtloc.cli.options import checked_device, device_option


@app.command()
def verify(
    image: Path = typer.Argument(..., help="The photo to check."),
    checkpoint: Path = checkpoint_option(),
    time: str | None = typer.Option(None, "--time", help="Claimed local time 'YYYY-MM-DD HH:MM' (default: EXIF)."),
    lat: float | None = typer.Option(None, "--lat", help="Claimed latitude (default: EXIF GPS)."),
    lon: float | None = typer.Option(None, "--lon", help="Claimed longitude (default: EXIF GPS)."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the checks as JSON."),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Folder for encoded galleries (default: CHECKPOINT/galleries, or $GTLOC_CACHE/galleries when the run "
        "folder is read-only).",
    ),
    device: str = device_option(),
) -> None:
    """Rank the claim among the places and times the model could have preferred; print a verdict: consistent,
    inconsistent or cannot judge (out of the model's domain, or too flat a posterior to tell)."""
    device = checked_device(device)
    from gtloc.inference.predictor import load
    from gtloc.inference.verify import (
        claim_from_exif,
        parse_claim_time,
        verification_dict,
        verification_text,
        verify_photo,
    )

    with flags():
        claim = claim_from_exif(image, lat, lon, parse_claim_time(time) if time is not None else None)
        predictor = load(checkpoint, cache_dir=cache_dir, device=device, log=lambda line: typer.echo(line, err=True))
        result = verify_photo(predictor, image, claim)
    if predictor.card is not None:
        typer.echo(predictor.card.summary())
    typer.echo(verification_text(result))
    if json_out is not None:
        from gtloc.io import write_json

        model = predictor.card.summary() if predictor.card is not None else None
        write_json(json_out, {"image": str(image), "model": model, **verification_dict(result)})
        typer.echo(f"checks written to {json_out}")
