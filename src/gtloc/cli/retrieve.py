"""``gtloc retrieve``: pictures of a gallery by place and time, by text, or like a picture at another time."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app
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
        None, "--checkpoint", help="Run directory (default: the one the gallery was indexed with)."
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
    parser: bool = typer.Option(False, "--parser", help="Answer --text with the offline parser even with CLIP."),
    top_k: int = typer.Option(10, "--top-k", min=1, help="How many pictures to list."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the results as JSON."),
) -> None:
    """Rank the gallery's pictures for a place and/or time (the (location + time) -> image query)."""
    from gtloc.inference.retrieve import GeoTimeRequest, Retriever, time_rows
    from gtloc.inference.textquery import CLIP_PATH, find_place, search_text
    from gtloc.model.gtloc import GTLoc
    from gtloc.retrieval.image_gallery import ImageGallery, embed_features, image_features, model_backbone

    modes = sum(x is not None for x in (text, image, place)) + (lat is not None or lon is not None)
    if modes != 1:
        raise GtlocError("give exactly one of --lat/--lon, --place, --text or --image")
    images = ImageGallery.open(gallery)
    run = checkpoint or images.checkpoint
    if run is None:
        raise GtlocError(f"{gallery} does not record its checkpoint: pass --checkpoint")
    model = GTLoc.from_pretrained(run)
    retriever = Retriever(model, images)
    summary: dict = {"gallery": str(gallery)}
    if text is not None:
        backbone = None
        if not parser and model.config.backbone.startswith("clip"):
            backbone = model_backbone(model)
        answer = search_text(retriever, text, top_k, backbone)
        hits = answer.hits
        if answer.path == CLIP_PATH:
            typer.echo(f"answered by: the CLIP text tower ({model.config.backbone}) through the image head")
        else:
            typer.echo(f"answered by: the offline parser -> {answer.parsed.describe()}")
            for note in answer.parsed.notes:
                typer.echo(f"  note: {note}")
        summary.update(answered_by=answer.path, parsed=answer.parsed.describe() if answer.parsed else None)
    elif image is not None:
        if month is None or hour is None:
            raise GtlocError("--image needs a target --month and --hour")
        from gtloc.data.images import load_image

        request = GeoTimeRequest(month=month, hour=hour)
        features = image_features(model_backbone(model), [load_image(image)])
        hits = retriever.geo_time_aware(embed_features(model, features), time_rows(request.month, request.hour), top_k)
        typer.echo(f"pictures of the place of {image} at {request.describe()}")
        summary.update(image=str(image), request=request.describe())
    else:
        label = ""
        if place is not None:
            found = find_place(place)
            lat, lon, label = found.lat, found.lon, found.label
            typer.echo(f"place: {found.label} ({found.lat:.4f}, {found.lon:.4f})")
        request = GeoTimeRequest(lat=lat, lon=lon, month=month, hour=hour, label=label)
        hits = retriever.composed([request], top_k)[0]
        typer.echo(f"pictures for {request.describe()}")
        summary.update(request=request.describe(), place=label or None)
    rows = retriever.rows(hits)
    typer.echo(_format_rows(rows))
    if json_out is not None:
        from gtloc.io import write_json

        write_json(json_out, {**summary, "results": rows})
        typer.echo(f"results written to {json_out}")
