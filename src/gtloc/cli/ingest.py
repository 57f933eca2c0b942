"""``gtloc ingest PHOTO_DIR --out records.csv``: read GPS and capture time of a folder of photos."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from gtloc.cli.app import app, flags, progress_option, show_progress, switch


class UtcSource(str, Enum):
    exif = "exif"
    mtime = "mtime"
    filename = "filename"
    gps = "gps"


@app.command()
def ingest(
    photo_dir: Path = typer.Argument(..., help="Folder of photos, read recursively."),
    out: Path = typer.Option(..., "--out", "-o", help="Records CSV to write (atomically)."),
    skipped: Path | None = typer.Option(
        None, "--skipped", help="Also write every skipped file as a CSV (paths named like the records')."
    ),
    utc_from: UtcSource | None = typer.Option(
        None,
        "--utc-from",
        help="Take the UTC time from EXIF DateTimeOriginal, the file's mtime, its name, or the GPS receiver's time "
        "stamp (gps: where there is one and its fix is not older than the photo, else the camera's time), and "
        "convert it to local time at the GPS point. Default: EXIF DateTimeOriginal is already local time.",
    ),
    name_pattern: str | None = typer.Option(
        None, "--name-pattern", help="With --utc-from filename: e.g. '%Y%m%d_%H%M' or '%Y-%m-%dT%H-%M-%S'."
    ),
    lat: float | None = typer.Option(None, "--lat", help="Fixed latitude for every photo (a webcam)."),
    lon: float | None = typer.Option(None, "--lon", help="Fixed longitude for every photo (a webcam)."),
    keep_partial: bool = switch(
        False, "keep-partial", "Keep photos with only a position or only a time (other label empty)."
    ),
    camera_from_folder: bool = switch(
        False, "camera-from-folder", "Add a 'camera' column: each photo's folder under PHOTO_DIR."
    ),
    cameras: Path | None = typer.Option(
        None,
        "--cameras",
        help="Fixed cameras: a CSV folder,lat,lon[,camera] (folders under PHOTO_DIR); each photo takes its camera "
        "folder's place, and a 'camera' column is written. Photos in no listed folder are skipped.",
    ),
    progress: bool | None = progress_option(),
) -> None:
    """Write a records CSV (path,lat,lon,unix_ts,year,month,day,hour,minute,second) from photos' EXIF.

    Photos: JPEG, PNG, TIFF, WebP, AVIF and HEIC/HEIF; camera RAW files are skipped with what to do instead. Each record
    also gets the GPS receiver's time and what it says of the camera's clock (gps_utc, clock_offset_s = camera time
    minus GPS time, clock = ok/wrong/unknown, clock_note); the summary lists the clocks found wrong.

    Paths in the CSV are relative to the CSV's folder when PHOTO_DIR is inside it, as `gtloc predict PHOTO... --out`
    writes them: with the CSV in the current folder, `gtloc predict photos/*.jpg` and `gtloc evaluate` match them
    without options. Otherwise they are relative to PHOTO_DIR (pass --images PHOTO_DIR to the commands reading them).
    """
    from gtloc.data.ingest import ingest_to_csv, summarize

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
            cameras=cameras,
            progress=show_progress(progress),
        )
    typer.echo(summarize(result, out, full_list_hint="" if skipped else "use --skipped FILE for the full list"))
    if result.paths_root != out.parent:
        typer.echo(f"paths are relative to {photo_dir} (not inside the CSV's folder): pass --images {photo_dir}")
    if skipped is not None:
        typer.echo(f"skipped files listed in {skipped}")
