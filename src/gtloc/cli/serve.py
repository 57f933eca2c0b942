"""``gtloc serve``: the web app on 127.0.0.1 (upload a photo; search an indexed gallery)."""

from __future__ import annotations

from pathlib import Path

import typer

from gtloc.cli.app import app


@app.command()
def serve(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="Run directory of the trained model."),
    gallery: Path | None = typer.Option(None, "--gallery", help="Gallery directory for the search page."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port on 127.0.0.1."),
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Largest accepted upload, in MB."),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Folder for encoded galleries (default: CHECKPOINT/galleries, or $GTLOC_CACHE/galleries when the run "
        "folder is read-only).",
    ),
) -> None:
    """Serve the app on http://127.0.0.1:PORT (local only)."""
    import uvicorn

    from gtloc.web.app import create_app_from_checkpoint

    web = create_app_from_checkpoint(
        checkpoint, gallery, max_upload_bytes=int(max_upload_mb * 1e6), cache_dir=cache_dir
    )
    typer.echo(f"gtloc web app on http://127.0.0.1:{port}")
    uvicorn.run(web, host="127.0.0.1", port=port, log_level="warning")
