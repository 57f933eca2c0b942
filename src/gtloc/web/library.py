"""The library view (``gtloc serve --library LIB``): a map of a scanned library's photos and of ``fill``'s estimates
with their radii and sources, and each estimate's evidence photos.

Server-rendered like the rest of the app: the map is a PNG drawn here (matplotlib), zoomed to the library's photos;
the page needs no script. Routes (relative to where the app is mounted): ``/`` the page (``?page=N``), ``/map.png``,
``/photo/{i}`` a photo's file and ``/photo/{i}/thumb`` a small JPEG of it (only files inside the library's folder),
``/api/estimates`` the estimates as JSON.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from matplotlib.figure import Figure

from gtloc.data.images import ImageDecodeError, PathOutsideRootError, image_file, load_image
from gtloc.errors import GtlocError
from gtloc.library.catalog import Library
from gtloc.library.fill import ESTIMATE_COLUMNS

HERE = Path(__file__).parent
PAGE_SIZE = 100
THUMB_PX = 160
SOURCE_COLOURS = {"scene": "#2ca02c", "track": "#1f77b4", "model": "#9467bd", "clock": "#ff7f0e"}


@dataclass
class LibraryView:
    """A scanned library and the estimates shown on it (rows of the estimates CSV, chosen ones first)."""

    library: Library
    estimates: list[dict[str, str]]
    estimates_path: Path | None

    @classmethod
    def open(cls, lib_dir: str | Path, estimates: str | Path | None = None) -> LibraryView:
        """``lib_dir``'s library and ``estimates`` (default: the CSV of its last ``fill``, if any)."""
        library = Library.open(lib_dir)
        path = Path(estimates) if estimates else None
        if path is None and library.info.get("last_fill") and Path(library.info["last_fill"]).is_file():
            path = Path(library.info["last_fill"])
        rows = read_estimates(path) if path is not None else []
        rows.sort(key=lambda r: (r["chosen"] != "yes", r["path"], r["field"]))
        return cls(library, rows, path)

    def index_of(self) -> dict[str, int]:
        return {p.path: i for i, p in enumerate(self.library.photos)}


def read_estimates(path: Path) -> list[dict[str, str]]:
    """The rows of an estimates CSV; a file that is not one is a clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GtlocError(f"cannot read the estimates {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ESTIMATE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise GtlocError(f"{path} is not an estimates CSV of `gtloc library fill`: no {', '.join(missing)} column")
    return list(reader)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def library_map_png(view: LibraryView, dpi: int = 90) -> bytes:
    """The photos with a GPS place (grey), the chosen place estimates (coloured by source) and their radii, on the
    land mask of the reports, zoomed to them."""
    photos = np.array([(p.lat, p.lon) for p in view.library.photos if p.has_place], float).reshape(-1, 2)
    chosen = [r for r in view.estimates if r["chosen"] == "yes" and r["field"] == "place"]
    places = np.array([(_number(r["lat"]), _number(r["lon"])) for r in chosen], float).reshape(-1, 2)
    radii = np.array([_number(r["radius_km"]) for r in chosen], float)
    fig = Figure(figsize=(8, 5))
    ax = fig.add_axes((0.08, 0.08, 0.9, 0.88))
    from gtloc.evaluation.report import LAND_RGB, OCEAN_RGB, land_mask

    background = np.where(land_mask()[..., None], LAND_RGB, OCEAN_RGB)
    ax.imshow(background, extent=(-180, 180, -90, 90), interpolation="bilinear", zorder=0, aspect="auto")
    ax.scatter(photos[:, 1], photos[:, 0], s=10, c="#888888", label="photo with GPS", zorder=2)
    for source, colour in SOURCE_COLOURS.items():
        mine = np.array([r["source"] == source for r in chosen], bool)
        if not mine.any():
            continue
        ax.scatter(places[mine, 1], places[mine, 0], s=18, c=colour, label=f"estimate: {source}", zorder=3)
        for (lat, lon), radius in zip(places[mine], radii[mine], strict=True):
            if np.isfinite(radius):
                width = 2 * radius / (111.2 * max(np.cos(np.deg2rad(lat)), 0.05))
                ax.add_patch(_ellipse(lon, lat, width, 2 * radius / 111.2, colour))
    every = np.concatenate([photos, places]) if len(places) else photos
    if len(every):
        low, high = every.min(axis=0), every.max(axis=0)
        pad = np.maximum((high - low) * 0.08, 0.05)
        ax.set_xlim(low[1] - pad[1], high[1] + pad[1])
        ax.set_ylim(low[0] - pad[0], high[0] + pad[0])
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.grid(True, color="white")
    ax.legend(loc="best", fontsize=8)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi)
    return out.getvalue()


def _ellipse(lon: float, lat: float, width: float, height: float, colour: str):
    from matplotlib.patches import Ellipse

    return Ellipse((lon, lat), width, height, fill=False, edgecolor=colour, alpha=0.5, zorder=3)


def create_library_app(lib_dir: str | Path, estimates: str | Path | None = None) -> FastAPI:
    """The library view of ``lib_dir`` with ``estimates`` (see :meth:`LibraryView.open`), to serve alone or mount
    under the main app."""
    view = LibraryView.open(lib_dir, estimates)
    index = view.index_of()
    app = FastAPI(title="gtloc library", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")

    def photo_file(i: int) -> Path | Response:
        if not 0 <= i < len(view.library.photos):
            return Response("no such photo", status_code=404)
        try:
            path = image_file(view.library.root, view.library.photos[i].path)
        except PathOutsideRootError:
            return Response("photo outside the library's folder", status_code=403)
        if not path.is_file():
            return Response(f"photo file missing: {view.library.photos[i].path}", status_code=404)
        return path

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, page: int = 1) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/")
        pages = max(1, -(-len(view.estimates) // PAGE_SIZE))
        page = min(max(page, 1), pages)
        rows = []
        for row in view.estimates[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
            named = [p for p in row["evidence"].split(";") if p and not p.startswith("model:")]
            evidence = [{"path": p, "index": index.get(p)} for p in named]
            rows.append({**row, "index": index.get(row["path"]), "evidence_photos": evidence})
        photos = view.library.photos
        context: dict[str, Any] = {
            "base": base,
            "root": str(view.library.root),
            "n_photos": len(photos),
            "n_place": sum(p.has_place for p in photos),
            "n_time": sum(p.has_time for p in photos),
            "estimates_path": str(view.estimates_path) if view.estimates_path else "",
            "n_estimates": len(view.estimates),
            "rows": rows,
            "page": page,
            "pages": pages,
            "colours": SOURCE_COLOURS,
        }
        return templates.TemplateResponse(request, "library.html", context)

    @app.get("/map.png")
    def map_png() -> Response:
        return Response(library_map_png(view), media_type="image/png")

    @app.get("/photo/{i}")
    def photo(i: int) -> Response:
        found = photo_file(i)
        return found if isinstance(found, Response) else FileResponse(found)

    @app.get("/photo/{i}/thumb")
    def thumb(i: int) -> Response:
        found = photo_file(i)
        if isinstance(found, Response):
            return found
        try:
            image = load_image(found)
        except ImageDecodeError as exc:
            return Response(f"cannot read the photo: {exc.reason}", status_code=415)
        image.thumbnail((THUMB_PX, THUMB_PX))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85)
        return Response(out.getvalue(), media_type="image/jpeg")

    @app.get("/api/estimates")
    def estimates_json() -> JSONResponse:
        return JSONResponse({"library": str(view.library.lib_dir), "estimates": view.estimates})

    return app


__all__ = ["LibraryView", "create_library_app", "library_map_png", "read_estimates"]
