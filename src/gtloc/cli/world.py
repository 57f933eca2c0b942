"""``gtloc world``: render the embedded SYNTHETIC world (pictures + records with true place and local time)."""

from pathlib import Path

import typer

from gtloc.cli.app import app, flags


@app.command()
def world(
    n: int = typer.Option(..., "--n", help="Number of pictures."),
    out: Path = typer.Option(..., "--out", help="Output folder: images/ and records.csv (paths relative to images/)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives byte-identical pictures and records."),
    size: int = typer.Option(224, "--size", help="Picture side in pixels."),
    workers: int = typer.Option(1, "--workers", help="Rendering processes."),
    cameras: int = typer.Option(0, "--cameras", help="Fixed-webcam world: K cameras, each seen at many times."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Render a synthetic, physically grounded world: sun, seasons, climate, snow, clouds, shadows, night."""
    from gtloc.data.world import generate_world

    with flags():
        records = generate_world(n, seed, out, size=size, workers=workers, progress=progress, cameras=cameras)
    typer.echo(f"wrote {len(records)} synthetic pictures to {out / 'images'} and records to {out / 'records.csv'}")
