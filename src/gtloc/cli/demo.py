"""``gtloc demo``: the README's first command."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app, on_interrupt, progress_option, same_command, show_progress
from gtloc.cli.options import checked_device, device_option


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Output folder (worlds, features, runs, report)."),
    n_train: int = typer.Option(3000, "--n-train", help="Training pictures to render."),
    n_test: int = typer.Option(600, "--n-test", help="Test pictures to render."),
    epochs: int = typer.Option(20, "--epochs", help="Training epochs for GT-Loc and each ablation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the worlds and the training runs."),
    workers: int = typer.Option(2, "--workers", help="Processes rendering the worlds."),
    tencrop: bool = typer.Option(True, "--tencrop/--center-crop", help="Score test pictures with ten-crop averaging."),
    size: int = typer.Option(224, "--size", help="Picture side in pixels."),
    threads: int = typer.Option(
        1, "--threads", min=1, help="Torch threads: the table depends on the count, not on the machine."
    ),
    progress: bool | None = progress_option(),
    device: str = device_option(),
) -> None:
    """Generate a synthetic world, extract features, train, evaluate, run the baselines, write a report."""
    device = checked_device(device)
    from gtloc.evaluation.demo import DemoSettings, plan_demo, run_demo

    settings = DemoSettings(
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        workers=workers,
        epochs=epochs,
        tencrop_test=tencrop,
        image_size=size,
        threads=threads,
    )

    def kept() -> str:
        return (
            f"the finished stages in {out} are kept (left: {plan_demo(out, settings).describe()}); the same command "
            f"goes on from them: {same_command()}"
        )

    with on_interrupt(kept):
        run_demo(out, settings, progress=show_progress(progress), log=typer.echo, device=device)
