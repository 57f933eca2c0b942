"""``gtloc verify PHOTO|DIR ...``: is each photo's claimed place and time (EXIF by default) consistent with it?"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gtloc.cli.app import app, checkpoint_option, flags, progress_option, show_progress
from gtloc.cli.options import checked_device, device_option
from gtloc.errors import GtlocError

if TYPE_CHECKING:
    from gtloc.evidence.verify import PhotoVerdict, VerifyInputs
    from gtloc.inference.predictor import Predictor


@app.command()
def verify(
    photos: list[Path] | None = typer.Argument(
        None, help="Photos, or folders of photos (searched recursively). Optional with --claims."
    ),
    checkpoint: Path | None = checkpoint_option(
        "Run directory of a trained model: adds the model check. Without one, the clock and sun checks run.",
        required=False,
    ),
    claims: Path | None = typer.Option(
        None,
        "--claims",
        help="Claims CSV in the records schema (path,lat,lon[,year,month,day,hour,minute[,second]], local time at "
        "the place): each row is the claim for its photo (verified too); EXIF fills empty fields and claims the "
        "photos it does not name.",
    ),
    images_root: Path | None = typer.Option(
        None, "--images", help="Folder the claims CSV's paths are relative to (default: the CSV's folder)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write one row per photo here: CSV, or JSON when the name ends in .json."
    ),
    time: str | None = typer.Option(
        None,
        "--time",
        help="Claimed time of one photo: 'YYYY-MM-DD HH:MM' (local time at the place), ISO 8601 with an offset or Z "
        "('2013-01-20 18:54+01:00', '2013-01-20T17:54Z'), or 'MM-DD HH:MM' (default: EXIF).",
    ),
    lat: float | None = typer.Option(None, "--lat", help="Claimed latitude of one photo (default: EXIF GPS)."),
    lon: float | None = typer.Option(None, "--lon", help="Claimed longitude of one photo (default: EXIF GPS)."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the checks as JSON."),
    fixed_camera: bool = typer.Option(
        False,
        "--fixed-camera/--no-fixed-camera",
        help="The photos of each folder are frames of one fixed camera (a webcam, one view): the sun check reads a "
        "frame whose light cannot be read alone against the camera's other frames of the same size. Not for "
        "photos of different scenes, which would borrow each other's light.",
    ),
    progress: bool | None = progress_option(),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Folder for encoded galleries (default: CHECKPOINT/galleries, or $GTLOC_CACHE/galleries when the run "
        "folder is read-only).",
    ),
    device: str = device_option(),
) -> None:
    """Check each photo's claimed place and time with independent evidence, and give one verdict per photo.

    The checks: the clock (the camera's time against the photo's own GPS time; with many photos, each camera judged
    on all its photos, so that an old GPS fix is not taken for a wrong clock), the sun (the light in the picture
    against the sun at the claimed place and time) and, with --checkpoint, the model (the claim ranked among the
    places and times the model could prefer). Each says consistent, inconsistent or cannot judge, with its reason.
    The verdict is inconsistent when any check is, consistent when at least one check is and none is
    inconsistent, else cannot judge. One photo prints each check; many print one line each (--out writes them).
    With --fixed-camera each folder holds the frames of one webcam, and the sun check reads them together.
    """
    from gtloc.evidence.verify import verify_inputs
    from gtloc.io import output_file

    with flags(photos="PHOTO", claims_csv="--claims", images_root="--images"):
        inputs = verify_inputs(photos or [], claims, images_root, lat, lon, time)
        for target in (out, json_out):
            if target is not None:
                output_file(target)
        single = len(inputs.photos) == 1 and not inputs.skipped
        if single:
            _require_claim(inputs)
        predictor = None
        if checkpoint is not None:
            from gtloc.inference.predictor import load

            device = checked_device(device)
            predictor = load(checkpoint, cache_dir=cache_dir, device=device, log=lambda s: typer.echo(s, err=True))
    if predictor is not None and predictor.card is not None:
        typer.echo(predictor.card.summary())
    results = _verify_all(inputs, predictor, show_progress(progress) and not single, fixed_camera)
    _report(results, single, out, json_out, predictor)


def _require_claim(inputs: VerifyInputs) -> None:
    """One photo with nothing to claim is an error (before the model loads), saying what to pass."""
    from gtloc.data.claims import require_claim
    from gtloc.data.exif import read_photo_exif

    photo = inputs.photos[0]
    problem = inputs.claims.problem(photo)
    if problem:
        raise GtlocError(problem)
    require_claim(inputs.claims.claim(photo, read_photo_exif(photo, check_pixels=False)))


def _verify_all(
    inputs: VerifyInputs, predictor: Predictor | None, progress: bool, fixed_camera: bool = False
) -> list[PhotoVerdict]:
    """Every photo's verdict, in order, with a progress bar; each photo that cannot be verified is named on stderr
    as it comes."""
    from tqdm import tqdm

    from gtloc.evidence.verify import skipped_verdict, verify_photos

    results = [skipped_verdict(s) for s in inputs.skipped]
    for result in results:
        typer.echo(f"skipped {result.path}: {result.error}", err=True)
    if fixed_camera and progress:
        typer.echo("reading the light of every frame first, to read each camera's frames together", err=True)
    with tqdm(total=len(inputs.photos), unit="photo", desc="verify", disable=not progress) as bar:
        for result in verify_photos(inputs.photos, inputs.claims, predictor, fixed_camera=fixed_camera):
            results.append(result)
            bar.update()
            if result.error:
                tqdm.write(f"skipped {result.path}: {result.error}", file=sys.stderr)
    return results


def _report(
    results: list[PhotoVerdict], single: bool, out: Path | None, json_out: Path | None, predictor: Predictor | None
) -> None:
    """Print (one photo: each check; many: one line each, or a summary with ``--out``) and write the files."""
    from gtloc.evidence.report import verdict_dict, verdict_line, verdict_text, write_verdicts
    from gtloc.evidence.verify import summary_line

    if single:
        if results[0].error:
            raise GtlocError(f"{results[0].path}: {results[0].error}")
        typer.echo(verdict_text(results[0]))
    elif out is None:
        typer.echo("\n".join(verdict_line(r) for r in results))
    if json_out is not None:
        from gtloc.io import write_json

        model = predictor.card.summary() if predictor is not None and predictor.card is not None else None
        data = (
            {"image": results[0].path, "model": model, **verdict_dict(results[0])}
            if single
            else [verdict_dict(r) for r in results]
        )
        write_json(json_out, data)
        typer.echo(f"checks written to {json_out}")
    if out is not None:
        write_verdicts(results, out)
    if not single or out is not None:
        typer.echo(summary_line(results) + (f" -> {out}" if out is not None else ""))
    if results and all(r.error for r in results):
        raise GtlocError(f"none of the {len(results)} photos could be verified (each is named above, with why)")
