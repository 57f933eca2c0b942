"""``gtloc import-checkpoint``: the GT-Loc release's ``gtloc.pt`` or GeoCLIP's weights -> a gtloc run directory."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app, flags, switch
from gtloc.errors import GtlocError


@app.command("import-checkpoint")
def import_checkpoint(
    gtloc_checkpoint: Path | None = typer.Option(None, "--gtloc", help="The GT-Loc release's gtloc.pt."),
    geoclip: bool = switch(False, "geoclip", "Import GeoCLIP's weights from the installed geoclip wheel."),
    clip: Path | None = typer.Option(
        None, "--clip", help="Local save_pretrained copy of openai/clip-vit-large-patch14 (required with --gtloc)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Run directory to write (default: runs/gtloc-release or runs/geoclip)."
    ),
    time_gallery: Path | None = typer.Option(
        None, "--time-gallery", help="The release's time gallery: .npy of [month, day, hour, minute, second] rows."
    ),
    img_time_scale: float | None = typer.Option(
        None, "--img-time-scale", help="Fixed image-time logit scale if gtloc.pt has none (default 1/0.07 = 14.29)."
    ),
    force: bool = switch(False, "force", "Replace a model already in --out."),
) -> None:
    """Write a run dir that predict, retrieve, verify, serve and evaluate use like a trained one."""
    from gtloc.interop import import_geoclip, import_released_checkpoint

    if (gtloc_checkpoint is None) == (not geoclip):
        raise GtlocError("give exactly one of --gtloc FILE or --geoclip")
    if geoclip:
        if time_gallery is not None or img_time_scale is not None:
            raise GtlocError("--time-gallery and --img-time-scale apply to --gtloc only (GeoCLIP has no time encoder)")
        with flags(overwrite="--force"):
            report = import_geoclip(out or Path("runs/geoclip"), clip_path=clip, overwrite=force)
    else:
        if clip is None:
            raise GtlocError("--gtloc needs --clip PATH: a local save_pretrained copy of openai/clip-vit-large-patch14")
        with flags(overwrite="--force"):
            report = import_released_checkpoint(
                gtloc_checkpoint,
                clip,
                out or Path("runs/gtloc-release"),
                time_gallery=time_gallery,
                img_time_scale=img_time_scale,
                overwrite=force,
            )
    typer.echo(report.summary())
