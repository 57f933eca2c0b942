"""Retrieval from an image gallery: pictures by place and time, and pictures of the same place at another time.

* **Composed geo-time retrieval** (the paper's ``(location + time) -> image`` term, ``gt2i``): the query is
  ``normalise(location_emb + time_emb)`` and gallery pictures are ranked by cosine similarity. With only a place
  the location embedding alone is the query (the ``img_gps`` term); with only a time, the time embedding.
* A time request may leave the month or the hour open: the time embedding is then the normalised mean over the
  open field (every hour of that month, or that hour in every month).
* **Geo-time aware retrieval** (TIGeR's task): a picture + a target time -> pictures of the same place at that
  time. The query is ``normalise(where + time_emb)``, ``where`` being the picture's embedding itself
  (``place="image"``, the default: it beat the predicted place at recall@5/10 on a held-out webcam world) or its
  place posterior over the GPS gallery (``"predicted"``: the probability-weighted mean of the top location
  embeddings).

:func:`search` is the one query dispatch (text, photo + target time, place and/or time) that the CLI and the web
app call; its :class:`QueryAnswer` says which path answered.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from gtloc.backbones.base import Backbone
from gtloc.device import resolve_device
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.geo import validate_coordinate
from gtloc.inference.predictor import Photo, Predictor
from gtloc.inference.textquery import ParsedQuery, parse_query
from gtloc.labels import has_label
from gtloc.model.gtloc import GTLoc
from gtloc.model.space import compose
from gtloc.places import Place, find_place
from gtloc.retrieval.image_gallery import ImageGallery
from gtloc.retrieval.search import SearchResult
from gtloc.retrieval.search import search as exact_search

MID_MONTH_DAY = 15
PLACE_METHODS = ("image", "predicted")
CLIP_TEXT = "clip-text"
PARSER = "parser"
COMPOSED = "composed"
GEO_TIME_AWARE = "geo-time-aware"


@dataclass(frozen=True)
class GeoTimeRequest:
    """What to look for: a place (``lat``/``lon`` degrees) and/or a local time (``month`` 1-12, ``hour`` in
    ``[0, 24)``); ``None`` leaves a field open. ``label`` says in words what was asked (for display)."""

    lat: float | None = None
    lon: float | None = None
    month: int | None = None
    hour: float | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if (self.lat is None) != (self.lon is None):
            raise ParameterError("give both ", Param("lat"), " and ", Param("lon"), " (or neither)")
        if self.lat is not None:
            validate_coordinate(self.lat, self.lon, "request")
        if self.month is not None and not (1 <= self.month <= 12 and float(self.month).is_integer()):
            raise GtlocError(f"month must be a whole number 1-12, got {self.month}")
        if self.hour is not None and not (0 <= self.hour < 24):
            raise GtlocError(f"hour must be in [0, 24), got {self.hour}")
        if not self.has_place and not self.has_time:
            raise GtlocError("a request needs a place (lat/lon) or a time (month and/or hour)")

    @property
    def has_place(self) -> bool:
        return self.lat is not None

    @property
    def has_time(self) -> bool:
        return self.month is not None or self.hour is not None

    def describe(self) -> str:
        """``"59.91, 10.75 | January | 15:30"``-style summary of the request."""
        parts = []
        if self.has_place:
            parts.append(f"{self.lat:.4f}, {self.lon:.4f}")
        if self.month is not None:
            parts.append(calendar.month_name[int(self.month)])
        if self.hour is not None:
            parts.append(f"{int(self.hour):02d}:{round(60 * (self.hour % 1)):02d}")
        return " | ".join(parts)


def time_rows(month: float | None, hour: float | None) -> torch.Tensor:
    """The timestamps ``(R, 5)`` a possibly open time request stands for: one row, 24 (any hour), 12 (any month)."""
    months = [float(month)] if month is not None else [float(m) for m in range(1, 13)]
    hours = [float(hour)] if hour is not None else [h + 0.5 for h in range(24)]
    rows = []
    for m in months:
        for h in hours:
            minutes = round((h % 1) * 60)
            whole, minutes = (int(h) + minutes // 60) % 24, minutes % 60
            rows.append([m, MID_MONTH_DAY, whole, minutes, 0.0])
    return torch.tensor(rows, dtype=torch.float32)


@torch.inference_mode()
def time_embedding(model: GTLoc, month: float | None, hour: float | None) -> torch.Tensor:
    """``(512,)`` embedding of a time request (on the model's device); an open month or hour is averaged over
    (then re-normalised)."""
    return F.normalize(model.encode_time(time_rows(month, hour).to(model.device)).mean(dim=0), dim=-1)


@torch.inference_mode()
def request_embedding(model: GTLoc, request: GeoTimeRequest) -> tuple[torch.Tensor, str]:
    """A request's query embedding ``(512,)`` (on the model's device) and the logit-scale name of the term it uses."""
    loc = None
    if request.has_place:
        latlon = torch.tensor([[request.lat, request.lon]], dtype=torch.float32, device=model.device)
        loc = model.encode_location(latlon)[0]
    if not request.has_time:
        return loc, "img_gps_logit_scale"
    time = time_embedding(model, request.month, request.hour)
    if loc is None:
        return time, "img_time_logit_scale"
    return compose(loc, time), "gt2i_logit_scale"


class Retriever:
    """Searches one :class:`ImageGallery` with one model (the model that embedded the gallery).

    ``predictor`` (optional) supplies the encoded GPS gallery for geo-time aware retrieval with
    ``place="predicted"``; it is built from the model's own gallery config on first use. ``backbone`` (optional)
    encodes query photos and, for a CLIP model, query texts; default: the predictor's, else the one named in the
    model's config, loaded on first use.
    ``device``: where the model and the gallery's embeddings are searched (``"auto"``: CUDA when there; default:
    the predictor's device when one is given, else ``"auto"``); ``model`` is moved there. The gallery itself stays
    on the CPU and every result (:class:`~gtloc.retrieval.search.SearchResult`) comes back on the CPU.
    """

    def __init__(
        self,
        model: GTLoc,
        gallery: ImageGallery,
        predictor: Predictor | None = None,
        backbone: Backbone | None = None,
        device: str | torch.device | None = None,
    ):
        gallery.check_model(model)
        if device is None:
            self.device = predictor.device if predictor is not None else resolve_device("auto")
        else:
            self.device = resolve_device(device)
        if predictor is not None and predictor.device != self.device:
            raise ParameterError(
                f"the predictor runs on {predictor.device} but the retriever on {self.device}: give one ",
                Param("device"),
            )
        self.model = model.eval().to(self.device)
        self.gallery = gallery
        self._embeddings = gallery.embeddings.to(self.device)
        self._predictor = predictor
        self._backbone = backbone

    @property
    def backbone(self) -> Backbone:
        """The frozen backbone the model was trained with (loaded once, when a query needs it)."""
        if self._backbone is None:
            if self._predictor is not None:
                self._backbone = self._predictor.backbone
            else:
                from gtloc.backbones.extract import backbone_for

                self._backbone = backbone_for(self.model.config, device=self.device)
        return self._backbone

    @property
    def predictor(self) -> Predictor:
        if self._predictor is None:
            self._predictor = Predictor(self.model, device=self.device)
        return self._predictor

    def _scale(self, name: str) -> float:
        return float(self.model.scale(name).detach())

    @torch.inference_mode()
    def search_embeddings(
        self, queries: torch.Tensor, k: int, scale_name: str, exclude: torch.Tensor | None = None
    ) -> SearchResult:
        """Top-``k`` gallery pictures for query embeddings ``(Q, 512)`` with the logit scale ``scale_name``,
        searched on the retriever's device; the result on the CPU."""
        queries = queries.to(self.device, torch.float32)
        exclude = exclude.to(self.device) if exclude is not None else None
        return exact_search(queries, self._embeddings, k, self._scale(scale_name), exclude=exclude).to("cpu")

    def composed(self, requests: Sequence[GeoTimeRequest], k: int = 10) -> list[SearchResult]:
        """Pictures matching each request (place and/or time), best first; one :class:`SearchResult` (Q=1) each,
        its probabilities a softmax over the gallery with the learned logit scale of the request's term."""
        out = []
        for request in requests:
            query, scale_name = request_embedding(self.model, request)
            out.append(self.search_embeddings(query[None], k, scale_name))
        return out

    def composed_batch(self, latlon: torch.Tensor, times: torch.Tensor, k: int = 10) -> SearchResult:
        """Fully specified requests at once: ``latlon`` ``(Q, 2)`` degrees + ``times`` ``(Q, 5)`` -> top-``k``."""
        with torch.inference_mode():
            loc = self.model.encode_location(latlon.to(self.device, torch.float32))
            query = compose(loc, self.model.encode_time(times.to(self.device, torch.float32)))
        return self.search_embeddings(query, k, "gt2i_logit_scale")

    @torch.inference_mode()
    def place_embedding(self, image_embeddings: torch.Tensor, top_places: int = 32) -> torch.Tensor:
        """Each picture's place as a location embedding ``(Q, 512)`` (on the retriever's device): the
        probability-weighted mean of the location embeddings of its ``top_places`` best GPS-gallery entries."""
        gps = self.predictor.gps_gallery.embeddings
        queries = image_embeddings.to(self.device, torch.float32)
        found = exact_search(queries, gps, top_places, self._scale("img_gps_logit_scale"))
        weights = torch.softmax(found.scores, dim=1)
        return F.normalize((weights[..., None] * gps[found.indices]).sum(dim=1), dim=-1)

    @torch.inference_mode()
    def geo_time_aware(
        self,
        image_embeddings: torch.Tensor,
        times: torch.Tensor,
        k: int = 10,
        place: str = "image",
        exclude: torch.Tensor | None = None,
    ) -> SearchResult:
        """Pictures of the same place as each query picture, at the target time.

        ``image_embeddings`` ``(Q, 512)`` (e.g. ``gallery.embeddings[i]`` or :meth:`GTLoc.embed_images` of a new
        photo); ``times`` ``(Q, 5)`` target local times; ``exclude`` ``(Q,)`` gallery index of each query picture
        (-1 = not in the gallery), left out of its results.
        """
        if place not in PLACE_METHODS:
            raise GtlocError(f"place must be one of {PLACE_METHODS}, got {place!r}")
        if place == "predicted":
            where = self.place_embedding(image_embeddings)
        else:
            where = image_embeddings.to(self.device, torch.float32)
        query = compose(where, self.model.encode_time(times.to(self.device, torch.float32)))
        return self.search_embeddings(query, k, "gt2i_logit_scale", exclude=exclude)

    def rows(self, hits: SearchResult, q: int = 0) -> list[dict]:
        """Query ``q``'s results as plain dicts: rank, index, path, score (cosine similarity), prob, lat, lon, time
        (None if unknown)."""
        out = []
        for rank, (i, score, prob) in enumerate(
            zip(hits.indices[q].tolist(), hits.similarities[q].tolist(), hits.probs[q].tolist(), strict=True), start=1
        ):
            ll, t = self.gallery.latlon[i], self.gallery.times[i]
            out.append(
                {
                    "rank": rank,
                    "index": i,
                    "path": self.gallery.paths[i],
                    "score": round(score, 5),
                    "prob": round(prob, 5),
                    "lat": float(ll[0]) if has_label(ll) else None,
                    "lon": float(ll[1]) if has_label(ll) else None,
                    "time": [int(v) for v in t.tolist()] if has_label(t) else None,
                }
            )
        return out


def text_request(parsed: ParsedQuery) -> GeoTimeRequest:
    """The composed request a parsed text stands for; GtlocError when it named neither a place nor a time."""
    if parsed.place is None and parsed.month is None and parsed.hour is None:
        raise GtlocError(
            f"could not read a place or a time in {parsed.text!r}: name a town (GeoNames, population > 1000), "
            "a month or season, or a time of day (dawn, noon, dusk, night, 3pm, 15:30)"
        )
    lat, lon = (parsed.place.lat, parsed.place.lon) if parsed.place else (None, None)
    return GeoTimeRequest(lat=lat, lon=lon, month=parsed.month, hour=parsed.hour, label=parsed.describe())


@dataclass
class QueryAnswer:
    """Pictures for one query and how it was answered.

    ``answered_by``: ``"clip-text"`` (the CLIP text tower through the image head), ``"parser"`` (the offline text
    parser, then a composed query), ``"composed"`` (a place and/or a time) or ``"geo-time-aware"`` (a photo's
    place at a target time). ``request``: the composed or target-time request (``None`` on the CLIP path);
    ``parsed``: the parser's reading of a text; ``place``: the GeoNames place a place name resolved to;
    ``backbone``: the backbone name on the CLIP path. ``hits``: top-k ``(1, k)``; ``rows``: the results as dicts
    (:meth:`Retriever.rows`); ``notes``: the parser's explanations.
    """

    answered_by: str
    hits: SearchResult
    rows: list[dict]
    request: GeoTimeRequest | None = None
    parsed: ParsedQuery | None = None
    place: Place | None = None
    backbone: str | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """How the query was answered, in words."""
        if self.answered_by == CLIP_TEXT:
            return f"the CLIP text tower ({self.backbone}) through the image head"
        if self.answered_by == PARSER:
            return f"the offline parser: {self.parsed.describe()}"
        if self.answered_by == GEO_TIME_AWARE:
            return f"geo-time aware: pictures of the place of the photo at {self.request.describe()}"
        label = f"{self.request.label} | " if self.request.label else ""
        return f"composed query: {label}{self.request.describe()}"


def _one_query(text: str | None, photo: Photo | None, place: str | None, lat: float | None, lon: float | None) -> None:
    parts = {"text": text, "photo": photo, "place": place, "lat/lon": lon if lat is None else lat}
    given = [name for name, value in parts.items() if value is not None]
    if len(given) > 1:
        raise GtlocError(f"give one query: text, photo, place or lat/lon, not {' and '.join(given)}")


def search(
    retriever: Retriever,
    *,
    text: str | None = None,
    photo: Photo | None = None,
    place: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    month: int | None = None,
    hour: float | None = None,
    k: int = 10,
    clip_text: bool = True,
) -> QueryAnswer:
    """The gallery's best ``k`` pictures for one query, answered by the path that fits what is given:

    * ``text`` alone: through the CLIP text tower when the model's backbone is CLIP and ``clip_text``, else read by
      the offline parser (:func:`~gtloc.inference.textquery.parse_query`) into a composed query;
    * ``photo`` (a file or a PIL image) + target ``month`` and ``hour``: geo-time aware retrieval (the photo's own
      embedding as the place);
    * a place (``place``, a GeoNames name, or ``lat``/``lon`` degrees) and/or a time (``month`` 1-12, ``hour`` in
      ``[0, 24)``): composed ``(location + time)`` retrieval; an open month or hour is averaged over.
    """
    _one_query(text, photo, place, lat, lon)
    if k < 1:
        raise GtlocError(f"k must be >= 1, got {k}")
    if text is not None:
        if month is not None or hour is not None:
            raise GtlocError("a text query carries its own time: give text without month or hour")
        return _search_text(retriever, text, k, clip_text)
    if photo is not None:
        if month is None or hour is None:
            raise GtlocError("a photo query needs a target month and hour (pictures of its place at that time)")
        from gtloc.backbones.extract import image_features
        from gtloc.data.images import open_photo

        request = GeoTimeRequest(month=month, hour=hour)
        backbone = retriever.backbone
        features = image_features(backbone, [open_photo(photo, backbone.preprocessing.decode_side())])
        with torch.inference_mode():
            query = retriever.model.embed_images(features.to(retriever.device, torch.float32))
        hits = retriever.geo_time_aware(query, time_rows(month, hour), k)
        return QueryAnswer(GEO_TIME_AWARE, hits, retriever.rows(hits), request)
    found = find_place(place) if place is not None else None
    if found is not None:
        lat, lon = found.lat, found.lon
    request = GeoTimeRequest(lat, lon, month, hour, found.label if found else "")
    hits = retriever.composed([request], k)[0]
    return QueryAnswer(COMPOSED, hits, retriever.rows(hits), request, place=found)


def _search_text(retriever: Retriever, text: str, k: int, clip_text: bool) -> QueryAnswer:
    if not text.strip():
        raise GtlocError("the text query is empty")
    model = retriever.model
    encode_text = None
    if clip_text and model.config.backbone.startswith("clip"):
        encode_text = getattr(retriever.backbone, "encode_text", None)
    if encode_text is not None:
        with torch.inference_mode():
            query = model.encode_image(encode_text([text]).to(retriever.device, torch.float32))
        hits = retriever.search_embeddings(query, k, "gt2i_logit_scale")
        return QueryAnswer(CLIP_TEXT, hits, retriever.rows(hits), backbone=model.config.backbone)
    parsed = parse_query(text)
    request = text_request(parsed)
    hits = retriever.composed([request], k)[0]
    return QueryAnswer(PARSER, hits, retriever.rows(hits), request, parsed, parsed.place, notes=parsed.notes)
