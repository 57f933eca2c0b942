"""``gtloc world``: render the embedded SYNTHETIC world (pictures + records with true place and local time)."""

from pathlib import Path

import typer

from gtloc.cli.app import app, flags, on_interrupt, progress_option, same_command, show_progress


@app.command()
def world(
    n: int | None = typer.Option(None, "--n", help="Number of pictures (or --frames-min/--frames-max with --cameras)."),
    out: Path = typer.Option(..., "--out", help="Output folder: images/ and records.csv (paths relative to images/)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives byte-identical pictures and records."),
    size: int = typer.Option(224, "--size", help="Picture side in pixels."),
    workers: int = typer.Option(1, "--workers", help="Rendering processes."),
    cameras: int = typer.Option(0, "--cameras", help="Fixed-webcam world: K cameras, each seen at many times."),
    frames_min: int | None = typer.Option(None, "--frames-min", help="With --cameras: fewest pictures per camera."),
    frames_max: int | None = typer.Option(None, "--frames-max", help="With --cameras: most pictures per camera."),
    progress: bool | None = progress_option(),
) -> None:
    """Render a synthetic, physically grounded world: sun, seasons, climate, snow, clouds, shadows, night."""
    from gtloc.data.world import generate_world

    frames = None if frames_min is None and frames_max is None else (frames_min, frames_max)

    def kept() -> str:
        return (
            f"the world in {out} is incomplete (records.csv is written last) and is not resumed: the same command "
            f"renders it again from the start, picture for picture the same: {same_command()}"
        )

    with flags(frames="--frames-min/--frames-max"), on_interrupt(kept):
        records = generate_world(
            n, seed, out, size=size, workers=workers, progress=show_progress(progress), cameras=cameras, frames=frames
        )
    typer.echo(f"wrote {len(records)} synthetic pictures to {out / 'images'} and records to {out / 'records.csv'}")
