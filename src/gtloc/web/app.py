"""The web app (FastAPI, server-rendered pages): ``/`` upload a photo, ``/search`` query an indexed gallery.

Pages are HTML + CSS + a little script from this package (no CDN): the map is drawn in the browser with the
vendored Leaflet and Natural Earth outlines (``static/vendor``, ``scripts/vendor_web.py``). The same results are
available as JSON under ``/api/analyze`` and ``/api/search``; ``/api/check-form`` checks the upload form's fields.
"""

from __future__ import annotations

import calendar
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from gtloc.errors import GtlocError
from gtloc.inference.predictor import Predictor
from gtloc.retrieval.image_gallery import ImageGallery
from gtloc.web.analysis import analysis_result, search_result
from gtloc.web.form import form_errors, kept_fields

if TYPE_CHECKING:
    import torch

HERE = Path(__file__).parent
DEFAULT_MAX_UPLOAD_BYTES = 10_000_000
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(GtlocError):
    """An upload that cannot be analysed; ``status`` is the HTTP status to answer with, ``problems`` every reason
    (the photo's and the fields'), ``fields`` what the user typed and ``photo`` the file name they chose."""

    def __init__(
        self, status: int, message: str, problems: list[str] | None = None, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problems = problems or [message]
        self.fields = fields or {}
        self.photo = ""


@dataclass
class AppState:
    """What the app serves from: the predictor (model, galleries, backbone) and an optional image gallery."""

    predictor: Predictor
    gallery: ImageGallery | None
    max_upload_bytes: int


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


async def _read_upload(request: Request, limit: int) -> tuple[str, bytes, dict[str, str]]:
    """The uploaded file's name and bytes (at most ``limit``) and the form's text fields; else one
    :class:`UploadError` with every problem of the photo and the fields together."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 65_536:
        raise UploadError(413, f"the upload is {_megabytes(int(declared))}; the limit is {_megabytes(limit)}")
    try:
        form = await request.form()
    except Exception as exc:
        raise UploadError(400, f"could not read the upload form ({exc})") from None
    fields = {k: v.strip() for k, v in form.items() if isinstance(v, str) and v.strip()}
    upload = form.get("photo")
    status, problems, data = 400, [], b""
    if upload is None or isinstance(upload, str) or not upload.filename:
        problems.append("no photo in the upload: choose an image file")
    else:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            status = 413
            problems.append(f"{upload.filename} is larger than the {_megabytes(limit)} limit")
        elif not data:
            problems.append(f"{upload.filename} is empty")
    problems += form_errors(fields)
    if problems:
        error = UploadError(status, "; ".join(problems), problems, fields)
        error.photo = "" if upload is None or isinstance(upload, str) else upload.filename or ""
        raise error
    return upload.filename, data, fields


def _analyze_bytes(state: AppState, filename: str, data: bytes, fields: dict[str, str]) -> dict[str, Any]:
    from gtloc.data.exif import PhotoReadError
    from gtloc.data.images import ImageDecodeError, ImageTooLargeError

    safe = _SAFE_NAME.sub("_", Path(filename).name)[-80:] or "upload"
    with tempfile.TemporaryDirectory(prefix="gtloc-upload-") as tmp:
        path = Path(tmp) / safe
        path.write_bytes(data)
        try:
            return analysis_result(state.predictor, path, filename, fields)
        except ImageTooLargeError as exc:
            raise UploadError(413, f"{filename} is refused: {exc.reason}") from None
        except (ImageDecodeError, PhotoReadError) as exc:
            reason = getattr(exc, "reason", str(exc))
            raise UploadError(400, f"{filename} is not an image that can be read: {reason}") from None
        except GtlocError as exc:
            raise UploadError(400, f"{filename}: {exc}") from None


def create_app(
    predictor: Predictor, gallery: ImageGallery | None = None, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
) -> FastAPI:
    """The app over a ready ``predictor`` (photos go through ``predictor.backbone``) and ``gallery`` for the search
    page."""
    if gallery is not None:
        gallery.check_model(predictor.model)
    state = AppState(predictor, gallery, max_upload_bytes)
    app = FastAPI(title="gtloc", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gtloc = state
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["month_names"] = list(calendar.month_abbr)[1:]

    def form_page(request: Request, exc: UploadError) -> HTMLResponse:
        """The upload form again with every problem, what was typed, and which photo to choose again."""
        return page(request, "index.html", exc.status, errors=exc.problems, fields=kept_fields(exc.fields),
                    photo_again=exc.photo)  # fmt: skip

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("max_upload", _megabytes(state.max_upload_bytes))
        context.setdefault("has_gallery", state.gallery is not None)
        context.setdefault("max_upload_bytes", state.max_upload_bytes)
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return page(request, "index.html")

    async def analyze_request(request: Request) -> dict[str, Any]:
        filename, data, fields = await _read_upload(request, state.max_upload_bytes)
        try:
            return await run_in_threadpool(_analyze_bytes, state, filename, data, fields)
        except UploadError as exc:
            exc.fields, exc.photo = fields, filename
            raise

    @app.post("/analyze", response_class=HTMLResponse)
    async def analyze(request: Request) -> HTMLResponse:
        try:
            result = await analyze_request(request)
        except UploadError as exc:
            return form_page(request, exc)
        return page(request, "result.html", result=result)

    @app.post("/api/analyze")
    async def analyze_json(request: Request) -> JSONResponse:
        try:
            result = await analyze_request(request)
        except UploadError as exc:
            return JSONResponse({"error": str(exc), "errors": exc.problems}, status_code=exc.status)
        result = {k: v for k, v in result.items() if k != "thumbnail_png"}
        return JSONResponse(result)

    @app.post("/api/check-form")
    async def check_form(request: Request) -> JSONResponse:
        """Every problem of the upload form's fields, before the photo is sent (``static/form.js``)."""
        form = await request.form()
        return JSONResponse({"errors": form_errors({k: v for k, v in form.items() if isinstance(v, str)})})

    def run_search(params: dict[str, str]) -> dict[str, Any] | None:
        if state.gallery is None or not any(params.get(k) for k in ("text", "place", "lat", "month", "hour")):
            return None
        return search_result(state.predictor, state.gallery, params)

    @app.get("/search", response_class=HTMLResponse)
    def search(request: Request) -> HTMLResponse:
        params = {k: v.strip() for k, v in request.query_params.items()}
        try:
            found = run_search(params)
        except GtlocError as exc:
            return page(request, "search.html", 400, params=params, error=str(exc))
        return page(request, "search.html", params=params, found=found)

    @app.get("/api/search")
    def search_json(request: Request) -> JSONResponse:
        params = {k: v.strip() for k, v in request.query_params.items()}
        if state.gallery is None:
            return JSONResponse({"error": "no gallery loaded: start the app with --gallery"}, status_code=404)
        try:
            return JSONResponse(run_search(params) or {"error": "give text, place, lat/lon, month or hour"})
        except GtlocError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    @app.get("/gallery/{index}/image")
    def gallery_image(index: int) -> Response:
        if state.gallery is None or not 0 <= index < len(state.gallery):
            return Response("no such picture", status_code=404)
        try:
            path = state.gallery.image_path(index)
        except GtlocError:
            return Response("picture outside the gallery's image folder", status_code=403)
        if not path.is_file():
            return Response(f"picture file missing: {state.gallery.paths[index]}", status_code=404)
        return FileResponse(path)

    return app


def create_app_from_checkpoint(
    checkpoint: str | Path,
    gallery: str | Path | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    device: str | torch.device | None = "auto",
) -> FastAPI:
    """Load the model in ``checkpoint`` on ``device`` (galleries cached in ``cache_dir``, see
    :meth:`Predictor.from_pretrained`; ``log`` hears when one is encoded), its backbone (now, so that a missing
    backbone fails at start), and the optional image gallery, and build the app."""
    predictor = Predictor.from_pretrained(checkpoint, cache_dir, log=log, device=device)
    predictor.backbone  # noqa: B018 - loaded at start, not on the first upload
    images = ImageGallery.open(gallery) if gallery is not None else None
    return create_app(predictor, images, max_upload_bytes)


__all__ = ["AppState", "UploadError", "create_app", "create_app_from_checkpoint"]
