"""``gtloc ingest PHOTO_DIR --out records.csv``: read GPS and capture time of a folder of photos."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from gtloc.cli.app import app, flags
from gtloc.data.ingest import ingest_to_csv, summarize


class UtcSource(str, Enum):
    exif = "exif"
    mtime = "mtime"
    filename = "filename"


@app.command()
def ingest(
    photo_dir: Path = typer.Argument(..., help="Folder of photos, read recursively."),
    out: Path = typer.Option(..., "--out", "-o", help="Records CSV to write (atomically)."),
    skipped: Path | None = typer.Option(None, "--skipped", help="Also write every skipped file as a CSV."),
    utc_from: UtcSource | None = typer.Option(
        None,
        "--utc-from",
        help="Take the UTC time from EXIF DateTimeOriginal, the file's mtime or its name, and convert it to "
        "local time at the GPS point. Default: EXIF DateTimeOriginal is already local time.",
    ),
    name_pattern: str | None = typer.Option(
        None, "--name-pattern", help="With --utc-from filename: e.g. '%Y%m%d_%H%M' or '%Y-%m-%dT%H-%M-%S'."
    ),
    lat: float | None = typer.Option(None, "--lat", help="Fixed latitude for every photo (a webcam)."),
    lon: float | None = typer.Option(None, "--lon", help="Fixed longitude for every photo (a webcam)."),
    keep_partial: bool = typer.Option(
        False, "--keep-partial", help="Keep photos with only a position or only a time (other label empty)."
    ),
    camera_from_folder: bool = typer.Option(
        False, "--camera-from-folder", help="Add a 'camera' column: each photo's folder under PHOTO_DIR."
    ),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="Progress bar (default: on when stderr is a terminal)."
    ),
) -> None:
    """Write a records CSV (path,lat,lon,unix_ts,year,month,day,hour,minute,second) from photos' EXIF."""
    with flags():
        result = ingest_to_csv(
            photo_dir,
            out,
            skipped_path=skipped,
            utc_from=utc_from.value if utc_from else None,
            name_pattern=name_pattern,
            lat=lat,
            lon=lon,
            keep_partial=keep_partial,
            camera_from_folder=camera_from_folder,
            progress=sys.stderr.isatty() if progress is None else progress,
        )
    typer.echo(summarize(result, out, full_list_hint="" if skipped else "use --skipped FILE for the full list"))
    if skipped is not None:
        typer.echo(f"skipped files listed in {skipped}")
