"""``gtloc features-merge``: one feature directory that lists the shards of several (e.g. sharded workers')."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app


@app.command("features-merge")
def features_merge(
    dirs: list[Path] = typer.Argument(..., help="Feature directories made by `gtloc features` (same backbone)."),
    out: Path = typer.Option(..., "--out", help="Merged directory: a manifest referencing the others' shards."),
) -> None:
    """Merge feature directories into one that `gtloc train/predict --features` read (no features are copied)."""
    from gtloc.data.features import merge_feature_dirs

    store = merge_feature_dirs(dirs, out)
    typer.echo(
        f"{len(store)} images with {store.backbone} features from {len(store.sources)} directories -> {out} "
        f"({len(store.failed)} failed)"
    )
