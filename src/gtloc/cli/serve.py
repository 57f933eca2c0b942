"""``gtloc serve``: the web app on 127.0.0.1 (upload a photo; search an indexed gallery; a library's estimates)."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import typer

from gtloc.cli.app import CHECKPOINT_ENV, app, checkpoint_option
from gtloc.cli.options import checked_device, device_option
from gtloc.errors import GtlocError

# The modules of the `web` extra (pyproject.toml), by import name.
WEB_MODULES = ("fastapi", "uvicorn", "multipart", "jinja2")


def missing_web_modules() -> list[str]:
    """The modules of the ``web`` extra that are not installed."""
    return [name for name in WEB_MODULES if importlib.util.find_spec(name) is None]


def bind_port(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:``port`` for the server to listen on; a one-line error if the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise GtlocError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): choose another --port") from None
    return sock


@app.command()
def serve(
    checkpoint: Path | None = checkpoint_option(required=False),
    library: Path | None = typer.Option(
        None, "--library", help="A library folder (`gtloc library scan`): its view at /library (at / without a model)."
    ),
    estimates: Path | None = typer.Option(
        None, "--estimates", help="Estimates CSV for the library view (default: the library's last `fill`)."
    ),
    gallery: Path | None = typer.Option(None, "--gallery", help="Gallery directory for the search page."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port on 127.0.0.1."),
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Largest accepted upload, in MB."),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Folder for encoded galleries (default: CHECKPOINT/galleries, or $GTLOC_CACHE/galleries when the run "
        "folder is read-only).",
    ),
    device: str = device_option(),
) -> None:
    """Serve the app on http://127.0.0.1:PORT (local only): a model's pages with --checkpoint, a library's view
    with --library (under /library beside a model, at / alone)."""
    device = checked_device(device)
    if checkpoint is None and library is None:
        raise GtlocError(f"give --checkpoint RUN (or set ${CHECKPOINT_ENV}), --library LIB, or both")
    missing = missing_web_modules()
    if missing:
        raise GtlocError(f"gtloc serve needs the web extra (missing {', '.join(missing)}): pip install 'gtloc[web]'")
    import uvicorn

    from gtloc.web.app import create_app_from_checkpoint
    from gtloc.web.library import create_library_app

    sock = bind_port(port)
    web = library_app = create_library_app(library, estimates) if library is not None else None
    if checkpoint is not None:
        web = create_app_from_checkpoint(
            checkpoint,
            gallery,
            max_upload_bytes=int(max_upload_mb * 1e6),
            cache_dir=cache_dir,
            log=lambda line: typer.echo(line, err=True),
            device=device,
        )
        if library_app is not None:
            web.mount("/library", library_app)
    where = "/library/" if checkpoint is not None and library is not None else "/"
    typer.echo(f"gtloc web app on http://127.0.0.1:{port}" + (f" (library: {where})" if library else ""))
    uvicorn.Server(uvicorn.Config(web, log_level="warning")).run(sockets=[sock])
