"""``gtloc retrieve``: parse the query, call :func:`gtloc.inference.retrieve.search`, print the pictures."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from gtloc.cli.app import CHECKPOINT_ENV, app, flags, switch
from gtloc.cli.options import checked_device, device_option
from gtloc.errors import GtlocError


def _format_rows(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        where = f"{row['lat']:.4f}, {row['lon']:.4f}" if row["lat"] is not None else "place unknown"
        when = "time unknown"
        if row["time"] is not None:
            month, day, hour, minute = row["time"][:4]
            when = f"{month:02d}-{day:02d} {hour:02d}:{minute:02d}"
        lines.append(f"{row['rank']:>3}  {row['score']:.4f}  {row['path']}  ({where}; {when})")
    return "\n".join(lines)


@app.command()
def retrieve(
    gallery: Path = typer.Option(..., "--gallery", help="Gallery directory made by `gtloc index`."),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        help=f"Run directory (default: the one the gallery was indexed with, else ${CHECKPOINT_ENV}).",
    ),
    lat: float | None = typer.Option(None, "--lat", help="Latitude of the place, degrees north."),
    lon: float | None = typer.Option(None, "--lon", help="Longitude of the place, degrees east."),
    place: str | None = typer.Option(
        None, "--place", help="A town name (GeoNames, offline), e.g. 'Oslo' or 'Paris, US'."
    ),
    month: int | None = typer.Option(None, "--month", help="Month 1-12 (local time)."),
    hour: float | None = typer.Option(None, "--hour", help="Hour of the day in [0, 24), local time."),
    text: str | None = typer.Option(
        None, "--text", help="A text query, e.g. 'snowy street at dusk in January in Oslo'."
    ),
    image: Path | None = typer.Option(
        None, "--image", help="Geo-time aware: pictures of this photo's place at --month/--hour."
    ),
    parser: bool = switch(False, "parser", "Answer --text with the offline parser even with CLIP."),
    top_k: int = typer.Option(10, "--top-k", min=1, help="How many pictures to list."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the results as JSON."),
    device: str = device_option(),
) -> None:
    """Rank the gallery's pictures for a text, a photo at another time, or a place and/or a time."""
    device = checked_device(device)
    from gtloc.inference.retrieve import Retriever, search
    from gtloc.io import existing_folder
    from gtloc.model.gtloc import GTLoc
    from gtloc.retrieval.image_gallery import ImageGallery

    images = ImageGallery.open(gallery)
    run = checkpoint or images.checkpoint or os.environ.get(CHECKPOINT_ENV)
    if not run:
        raise GtlocError(f"{gallery} does not record its checkpoint: pass --checkpoint (or set ${CHECKPOINT_ENV})")
    from_env = not checkpoint and not images.checkpoint
    existing_folder(run, "run folder", f"${CHECKPOINT_ENV}" if from_env else None)
    with flags():
        retriever = Retriever(GTLoc.from_pretrained(run), images, device=device)
    with flags(photo="--image", k="--top-k"):
        found = search(
            retriever, text=text, photo=image, place=place, lat=lat, lon=lon, month=month, hour=hour, k=top_k,
            clip_text=not parser,
        )  # fmt: skip
    typer.echo(f"answered by: {found.describe()}")
    for note in found.notes:
        typer.echo(f"  note: {note}")
    typer.echo(_format_rows(found.rows))
    if json_out is not None:
        from gtloc.io import write_json

        summary = {
            "gallery": str(gallery),
            "answered_by": found.answered_by,
            "description": found.describe(),
            "request": found.request.describe() if found.request else None,
            "parsed": found.parsed.describe() if found.parsed else None,
            "place": found.place.label if found.place else None,
            "image": str(image) if image is not None else None,
            "notes": found.notes,
        }
        write_json(json_out, {**summary, "results": found.rows})
        typer.echo(f"results written to {json_out}")
