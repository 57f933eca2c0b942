"""Prediction by retrieval: an image's place and time are the best-matching entries of the GPS and time galleries.

The one-call API: ``gtloc.load(run).predict_image("photo.jpg", top_k=3)`` (:func:`load`,
:meth:`Predictor.predict_image`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image

from gtloc.backbones.base import Backbone
from gtloc.data.exif import PhotoExif, photo_exif
from gtloc.device import resolve_device
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.geo import validate_coordinate
from gtloc.inference.prediction import Prediction
from gtloc.io import can_write, existing_folder, user_cache_dir
from gtloc.labels import has_label
from gtloc.model.calibration import Temperatures
from gtloc.model.card import ModelCard
from gtloc.model.domain import DomainProfile
from gtloc.model.gtloc import GTLoc
from gtloc.model.readouts import DEFAULT_READOUT, READOUT_POSTERIOR, TIME_POSTERIORS, check_readout
from gtloc.model.space import compose
from gtloc.retrieval.faiss import GallerySearch
from gtloc.retrieval.galleries import (
    RUN_GALLERIES_DIR,
    EncodedGallery,
    build_gps_gallery,
    build_time_gallery,
    encode_gallery,
)
from gtloc.retrieval.neighbours import NEIGHBOURS_FILE, NeighbourStore
from gtloc.retrieval.neighbours import time_prior as time_prior_on
from gtloc.retrieval.place_answer import PLACE_CANDIDATES, mass_by_radius, merge_places, radius_km
from gtloc.retrieval.posterior import PLACE_RADIUS_KM, mass_within, near_mask
from gtloc.retrieval.search import SearchResult, full_posterior, gallery_logits
from gtloc.retrieval.time_posterior import MixWeights, TimeGallery, TimePosterior, mix_weight

Photo = str | os.PathLike[str] | Image.Image
Scale = float | torch.Tensor
RADIUS_CHUNK = 64


class Predictor:
    """Predicts places and times from backbone features; encodes its galleries once, at construction.

    ``gps_gallery`` ``(G, 2)`` / ``time_gallery`` ``(T, 5)`` default to the galleries named in the model's config.
    ``cache_dir`` keeps encoded galleries on disk, keyed by the fingerprint of the encoder's weights.
    ``gps_index``: how the GPS gallery is searched, ``"exact"`` (default) or a FAISS index, ``"faiss-flat"``
    (exact), ``"faiss-ivf"`` or ``"faiss-ivfpq"`` (approximate; ``nprobe`` of ``nlist`` lists scanned), built once
    and cached in ``cache_dir`` beside the encoded gallery (:mod:`gtloc.retrieval.faiss`). With FAISS, place
    probabilities (and the radius of the place answer, read from them) are a softmax over a shortlist of the best
    64 candidates, not over the whole gallery.
    A model without a time encoder (``config.has_time_encoder`` false) gets no time gallery and predicts places only.
    ``backbone``: the frozen backbone that turns photos into features for :meth:`predict_image` (default: the one
    named in the model's config, loaded on first use and kept); ``tencrop``: photos are scored as ten crops
    (similarities averaged, GT-Loc's test-time augmentation) instead of one center crop (default: as the model was
    trained, ``config.tencrop``).
    ``time_posterior``: where the time posterior comes from (default: the read-out's,
    :data:`~gtloc.model.readouts.READOUT_POSTERIOR`): ``"gallery"`` (the model's softmax over the time gallery, the
    paper's), ``"knn"`` (the training pictures nearest in backbone-feature space) or ``"mix"`` (both, weighted by
    the training-set size); :class:`~gtloc.retrieval.time_posterior.TimePosterior` builds it. ``time_prior``:
    weight the gallery by the training times' density. Both need ``neighbours`` (the run's training pictures,
    :class:`~gtloc.retrieval.neighbours.NeighbourStore`); without them ``"mix"`` reads the gallery alone.

    What a run directory adds (:meth:`from_pretrained` loads each when present): ``temperatures`` divide the
    image-GPS and image-time logit scales in every posterior (:mod:`gtloc.model.calibration`); ``domain`` gives
    each picture a ``domain_score`` and an ``in_domain`` flag (:mod:`gtloc.model.domain`); ``card`` is the model
    card. ``readout``: the time read-out of every answer (:mod:`gtloc.model.readouts`; default the card's, else
    ``mix``): the one read-out that predict, verify, the web page and the reports share.
    ``places=False`` skips the GPS gallery (a time-only predictor). ``log`` hears one line for each gallery that
    is encoded rather than read from ``cache_dir`` (the 100k GPS gallery takes seconds the first time).
    ``device``: where the model, the encoded galleries and the searches live: ``"auto"`` (CUDA when there),
    ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (``model`` is moved there). The training neighbours, the domain profile
    and the backbone features stay on the CPU. Inputs may be on any device; every result (:class:`Prediction`,
    embeddings, posteriors, confidences) comes back on the CPU.
    """

    def __init__(
        self,
        model: GTLoc,
        gps_gallery: torch.Tensor | None = None,
        time_gallery: torch.Tensor | None = None,
        cache_dir: str | Path | None = None,
        gps_index: str = "exact",
        nprobe: int = 8,
        nlist: int | None = None,
        backbone: Backbone | None = None,
        tencrop: bool | None = None,
        time_posterior: str | None = None,
        time_prior: bool = False,
        neighbours: NeighbourStore | None = None,
        temperatures: Temperatures | None = None,
        domain: DomainProfile | None = None,
        card: ModelCard | None = None,
        readout: str | None = None,
        places: bool = True,
        log: Callable[[str], None] | None = None,
        device: str | torch.device | None = "auto",
    ):
        self.device = resolve_device(device)
        self.card = card
        self.readout = check_readout(readout or (card.readout if card is not None else DEFAULT_READOUT))
        time_posterior = time_posterior or READOUT_POSTERIOR[self.readout]
        if time_posterior not in TIME_POSTERIORS:
            raise ParameterError(
                Param("time_posterior"), f" must be one of {', '.join(TIME_POSTERIORS)}, got {time_posterior!r}"
            )
        if (time_posterior == "knn" or time_prior) and neighbours is None:
            raise ParameterError(
                Param("time_posterior", time_posterior),
                " and ",
                Param("time_prior", time_prior),
                f" need the training pictures (neighbours, the run's {NEIGHBOURS_FILE}); this model has none",
            )
        self.model = model.eval().to(self.device)
        self.neighbours = neighbours
        self.time_posterior = time_posterior if neighbours is not None else "gallery"
        self._backbone = backbone
        self.tencrop = model.config.tencrop if tencrop is None else tencrop
        self.temperatures = temperatures or Temperatures()
        self.domain = domain
        gallery_config = model.config.gallery
        self.gps_gallery: EncodedGallery | None = None
        self.gps_search: GallerySearch | None = None
        if places:
            gps_labels = gps_gallery if gps_gallery is not None else build_gps_gallery(gallery_config.gps)
            self.gps_gallery = encode_gallery(model, "gps", gps_labels, cache_dir, log=log)
            self.gps_search = GallerySearch.open(
                model, self.gps_gallery, gps_index, cache_dir, nlist=nlist, nprobe=nprobe
            )
        self.time_gallery: EncodedGallery | None = None
        self._times: TimeGallery | None = None
        if self.can_predict_time:
            time_labels = time_gallery if time_gallery is not None else build_time_gallery(gallery_config)
            self.time_gallery = encode_gallery(model, "time", time_labels, cache_dir, log=log)
            self._times = TimeGallery(self.time_gallery.labels)
        self._log_prior: torch.Tensor | None = None
        if time_prior and self.time_gallery is not None:
            prior = time_prior_on(neighbours.times, self.time_gallery.labels.cpu())
            self._log_prior = prior.clamp_min(1e-12).log().to(self.device)

    @property
    def can_predict_time(self) -> bool:
        """Whether the model has a time encoder (GeoCLIP's weights, for one, do not)."""
        return self.model.time_encoder is not None

    @property
    def backbone(self) -> Backbone:
        """The frozen backbone the model was trained with (its config's name and path), loaded once when needed."""
        if self._backbone is None:
            from gtloc.backbones.extract import backbone_for

            self._backbone = backbone_for(self.model.config, device=self.device)
        return self._backbone

    @classmethod
    def from_pretrained(
        cls, run_dir: str | Path, cache_dir: str | Path | None = None, cache: bool = True, **kwargs
    ) -> Predictor:
        """Load the model saved in ``run_dir``; its encoded galleries are cached in ``cache_dir``.

        ``cache_dir`` defaults to ``run_dir/galleries``, or, where the run folder cannot be written (read-only,
        shared), to ``galleries`` in :func:`gtloc.io.user_cache_dir` (``$GTLOC_CACHE``). Cache files are named by
        the encoder weights' fingerprint and the labels' digest, so one cache folder serves any number of models.
        ``cache=False`` encodes the galleries in memory only (e.g. a model scored once).
        The run's training pictures (``neighbours.safetensors``, written by ``train``) serve the kNN and mix
        time read-outs; a run without them (e.g. imported weights) reads the time from the gallery alone.
        The run's temperatures, domain profile and model card come along when it has them; ``readout=None``
        takes the card's.
        """
        run_dir = existing_folder(run_dir, "run folder")  # before can_write below makes run_dir/galleries
        if cache_dir is None:
            cache_dir = Path(run_dir) / RUN_GALLERIES_DIR
            if not can_write(cache_dir):
                cache_dir = user_cache_dir() / "galleries"
        store = Path(run_dir) / NEIGHBOURS_FILE
        if "neighbours" not in kwargs and store.is_file():
            kwargs["neighbours"] = NeighbourStore.load(store)
        kwargs.setdefault("temperatures", Temperatures.load(run_dir))
        kwargs.setdefault("domain", DomainProfile.load(run_dir))
        kwargs.setdefault("card", ModelCard.load(run_dir))
        return cls(GTLoc.from_pretrained(run_dir), cache_dir=cache_dir if cache else None, **kwargs)

    def encode_images(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` or ten-crop ``(N, C, D)`` features -> one query embedding per picture ``(N, 512)`` on the CPU
        (:meth:`GTLoc.embed_images`: ten crops are averaged by the model's one ten-crop rule)."""
        return self._embed(features).cpu()

    @torch.inference_mode()
    def _embed(self, features: torch.Tensor) -> torch.Tensor:
        """:meth:`encode_images` on the predictor's device."""
        return self.model.embed_images(features.to(self.device, torch.float32))

    def scale(self, name: str) -> float:
        """The logit scale of a posterior: the model's learned ``name`` scale, divided by the calibrated temperature
        for the image-GPS (``place``) and image-time (``time``) posteriors."""
        temperature = {"img_gps_logit_scale": self.temperatures.place, "img_time_logit_scale": self.temperatures.time}
        return float(self.model.scale(name).detach()) / temperature.get(name, 1.0)

    def photo_features(self, photos: Sequence[Photo]) -> torch.Tensor:
        """Photo files or PIL images -> backbone features ``(N, D)``, or ``(N, 10, D)`` with :attr:`tencrop`."""
        from gtloc.backbones.extract import image_features
        from gtloc.data.images import open_photo

        backbone = self.backbone
        if backbone.feature_dim != self.model.config.feature_dim:
            raise GtlocError(
                f"backbone {backbone.name!r} gives {backbone.feature_dim}-d features but the model's image head "
                f"expects {self.model.config.feature_dim}-d"
            )
        side = backbone.preprocessing.decode_side(self.tencrop)  # a large JPEG decoded at reduced scale, as in a scan
        return image_features(backbone, [open_photo(photo, side) for photo in photos], tencrop=self.tencrop)

    def predict_image(
        self,
        photos: Photo | Sequence[Photo],
        top_k: int = 5,
        *,
        place: tuple[float, float] | None = None,
        exif_place: bool = True,
    ) -> Prediction:
        """Top-k places and times for one photo (a path or a PIL image) or a list of them: row i of the
        :class:`Prediction` is photo i. The backbone runs once per photo (ten crops with :attr:`tencrop`);
        a file that cannot be decoded raises :class:`~gtloc.data.images.ImageDecodeError` naming it.

        Each photo's EXIF is read and shown (``prediction.exif``). Where the place is known, the time is answered
        given it (:meth:`predict`'s ``place``; the place answer stays the image's own): ``place`` ``(lat, lon)``
        degrees for every photo, else, with ``exif_place``, each photo's EXIF GPS where it has one
        (``prediction.known_place`` and ``known_place_source`` say which rows and from where). ``exif_place=False``
        and no ``place``: every time from the image alone."""
        if isinstance(photos, str | os.PathLike | Image.Image):
            photos = [photos]
        if top_k < 1:
            raise GtlocError(f"top_k must be >= 1, got {top_k}")
        exif = [photo_exif(photo) for photo in photos]
        known, source = known_places(len(photos), place, exif if exif_place else None)
        pred = self.predict(self.photo_features(photos), top_k=top_k, place=known, place_source=source)
        pred.exif = exif
        return pred

    @torch.inference_mode()
    def predict(
        self,
        features: torch.Tensor,
        top_k: int = 5,
        where: bool = True,
        when: bool | None = None,
        chunk_size: int = 512,
        place: torch.Tensor | None = None,
        place_source: str = "given",
    ) -> Prediction:
        """Top-k places and times for backbone ``features`` ``(N, D)`` or ten-crop ``(N, C, D)``.

        ``when=None`` predicts times whenever the model can (:attr:`can_predict_time`); ``True`` insists.
        ``place`` ``(N, 2)`` degrees: each picture's known place (NaN rows: unknown); the time of a picture whose
        place is known is answered given it, as :meth:`predict_time_given_location` does; ``place_source`` names
        where the places came from (``"given"``, ``"exif"``; :attr:`Prediction.known_place_source`).
        """
        return self.predict_embeddings(
            self._embed(features), top_k, where, when, chunk_size, features, place, place_source
        )

    @torch.inference_mode()
    def predict_embeddings(
        self,
        queries: torch.Tensor,
        top_k: int = 5,
        where: bool = True,
        when: bool | None = None,
        chunk_size: int = 512,
        features: torch.Tensor | None = None,
        place: torch.Tensor | None = None,
        place_source: str = "given",
    ) -> Prediction:
        """Like :meth:`predict` for query embeddings ``(N, 512)`` already in the shared space. ``features``: the
        pictures' backbone features, for the domain check and the kNN part of the time read-out (without them the
        time comes from the gallery alone and there is no domain check).

        The place answer is the top-k distinct places (:func:`~gtloc.retrieval.place_answer.merge_places` of the
        best :data:`~gtloc.retrieval.place_answer.PLACE_CANDIDATES` gallery entries) with the radius around the
        best that holds the truth with the run's stated probability (:meth:`place_radius`)."""
        pred = Prediction(readout=self.readout)
        queries = queries.to(self.device, torch.float32)
        features = None if features is None else features.cpu()
        if self.domain is not None and features is not None:
            pred.domain_score = self.domain.score(features)
            pred.in_domain = self.domain.in_domain(pred.domain_score)
        if when is None:
            when = self.can_predict_time
        if where:
            scale = self.scale("img_gps_logit_scale")
            found = self._places().search(queries, max(PLACE_CANDIDATES, 4 * top_k), scale)
            places, probs = self._distinct(found, top_k)
            pred.place_topk, pred.place_probs = places, probs
            pred.place_radius_km = self.place_radius(queries, places[:, 0], found)
            pred.place_coverage = self.temperatures.place_coverage
        if when:
            self._predict_time(self._time_terms(queries, place), top_k, pred, chunk_size, features)
            pred.hour_window_mass = self.temperatures.window_mass
            pred.hour_coverage = None if self.temperatures.hour_mass is None else self.temperatures.hour_coverage
            if place is not None and bool(has_label(place).any()):
                pred.known_place, pred.known_place_source = place.float().cpu(), place_source
        return pred.to("cpu")

    def _candidates(self, found: SearchResult) -> torch.Tensor:
        """The coordinates ``(N, k, 2)`` of a search's entries (NaN where an IVF index found fewer than k)."""
        latlon = self.gps_gallery.labels[found.indices.clamp_min(0)]
        return latlon.masked_fill((found.indices < 0)[..., None], math.nan)

    def _distinct(self, found: SearchResult, top_k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The top ``top_k`` distinct places ``(N, k, 2)`` and their merged probabilities ``(N, k)`` of a search."""
        places, probs = merge_places(self._candidates(found), found.probs)
        return places[:, :top_k].float(), probs[:, :top_k]

    @torch.inference_mode()
    def place_radius(
        self, queries: torch.Tensor, best: torch.Tensor, found: SearchResult | None = None
    ) -> torch.Tensor:
        """``(N,)`` km: around each best place ``best`` ``(N, 2)`` of the query embeddings ``(N, 512)``, the radius
        that holds the truth with probability ``temperatures.place_coverage``: the smallest whose disc holds the
        run's fitted mass level of the calibrated place posterior (:mod:`gtloc.retrieval.place_answer`). With an
        exact index the posterior is the whole gallery's; with FAISS, the shortlist's of ``found``."""
        level = self.temperatures.radius_mass
        labels = self.gps_gallery.labels
        if self.gps_search.index is not None and found is not None:
            probs = found.probs / found.probs.sum(dim=1, keepdim=True)
            return radius_km(mass_by_radius(best, self._candidates(found).nan_to_num(0.0), probs), level).cpu()
        scale, out = self.scale("img_gps_logit_scale"), []
        queries = queries.to(self.device, torch.float32)
        for rows, centres in zip(queries.split(RADIUS_CHUNK), best.to(self.device).split(RADIUS_CHUNK), strict=True):
            probs = full_posterior(rows, self.gps_gallery.embeddings, scale)
            out.append(radius_km(mass_by_radius(centres, labels, probs), level))
        return torch.cat(out).cpu() if out else torch.zeros(0)

    def _time_terms(self, queries: torch.Tensor, place: torch.Tensor | None) -> list[tuple[torch.Tensor, Scale]]:
        """The time posterior's terms (:meth:`time_posterior_of`) for image queries ``(N, 512)``: the image's own,
        and where ``place`` ``(N, 2)`` is known (finite rows), the ``(image + location) -> time`` query weighted by
        the run's ``location_weight`` (0 for the other rows, so that theirs is the image's alone)."""
        terms: list[tuple[torch.Tensor, Scale]] = [(queries, self.scale("img_time_logit_scale"))]
        if place is None:
            return terms
        place = place.to(self.device, torch.float32)
        known = has_label(place)
        if not bool(known.any()):
            return terms
        where = torch.where(known[:, None], place, torch.zeros_like(place))
        fused = compose(queries, self.model.encode_location(where))
        weight = self.temperatures.location_weight * self.scale("ig2t_logit_scale")
        terms.append((fused, known.float()[:, None] * weight))
        return terms

    def _places(self) -> GallerySearch:
        if self.gps_search is None:
            raise GtlocError("this predictor was made with places=False: it has no GPS gallery to predict places from")
        return self.gps_search

    def time_posterior_of(
        self, terms: list[tuple[torch.Tensor, Scale]], features: torch.Tensor | None = None
    ) -> TimePosterior:
        """The time posterior over the time gallery (:class:`~gtloc.retrieval.time_posterior.TimePosterior`) of
        ``terms``: ``(queries (N, 512), scale)`` pairs whose logits ``scale * <query, time>`` are summed (a product
        of experts; ``scale`` a number, or ``(N, 1)``: one per query); times the training time prior when the
        predictor has one; then, per ``time_posterior``, mixed with (``"mix"``, at the month and hour weights the run
        recorded, ``calibration.json`` ``mix_weights``, else ``n / (n + 250)``) or replaced by (``"knn"``) the kNN
        posterior of the queries' backbone ``features`` (without them: the gallery alone)."""
        times, gallery = self._time_gallery(), self.time_gallery
        knn, weight = None, MixWeights.of(1.0)
        if self.time_posterior != "gallery" and features is not None:
            knn = self.neighbours.time_posterior(features.cpu(), gallery.labels.cpu())
            fitted = self.temperatures.mix_weights
            weight = MixWeights(**fitted) if fitted else MixWeights.of(mix_weight(self.neighbours.n_train))
        return TimePosterior.of_queries(
            times,
            terms,
            gallery.embeddings,
            log_prior=self._log_prior,
            source=self.time_posterior,
            knn=knn,
            mix_weight=weight,
        )

    def _time_gallery(self) -> TimeGallery:
        if self._times is None:
            raise GtlocError("this model has no time encoder (config has_time_encoder=false): it predicts places only")
        return self._times

    def _predict_time(
        self,
        terms: list[tuple[torch.Tensor, Scale]],
        top_k: int,
        pred: Prediction,
        chunk_size: int,
        features: torch.Tensor | None = None,
    ) -> None:
        """Fill ``pred``'s time fields from the time posterior of ``terms`` (:meth:`time_posterior_of`), in chunks
        of ``chunk_size`` queries."""
        self._time_gallery()
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in ("topk", "probs", "joint", "bayes")}
        for start in range(0, len(terms[0][0]), chunk_size):
            rows = slice(start, start + chunk_size)
            chunk_terms = [(q[rows], scale if isinstance(scale, float) else scale[rows]) for q, scale in terms]
            posterior = self.time_posterior_of(chunk_terms, None if features is None else features[rows].float())
            times, probs = posterior.top(top_k)
            parts["topk"].append(times)
            parts["probs"].append(probs)
            parts["joint"].append(posterior.month_hour)
            parts["bayes"].append(posterior.bayes())
        pred.time_topk, pred.time_probs = torch.cat(parts["topk"]), torch.cat(parts["probs"])
        joint = pred.month_hour_posterior = torch.cat(parts["joint"])
        pred.month_posterior, pred.hour_posterior = joint.sum(dim=2), joint.sum(dim=1)
        pred.time_bayes = torch.cat(parts["bayes"])

    @torch.inference_mode()
    def month_hour_posterior(
        self, queries: torch.Tensor, chunk_size: int = 512, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The joint time posterior by calendar month and clock hour, ``(N, 12, 24)`` for query embeddings
        ``(N, 512)``: :attr:`Prediction.month_hour_posterior` for them (:meth:`time_posterior_of`; with the
        queries' backbone ``features`` the predictor's read-out, else the gallery alone). Each ``(12, 24)`` grid sums
        to 1 and its row / column sums are :attr:`Prediction.month_posterior` / :attr:`Prediction.hour_posterior`.
        Unlike the outer product of those marginals it keeps which hours go with which months."""
        self._time_gallery()
        scale = self.scale("img_time_logit_scale")
        queries = queries.to(self.device, torch.float32)
        grids = []
        for start in range(0, len(queries), chunk_size):
            rows = slice(start, start + chunk_size)
            chunk_features = None if features is None else features[rows].float()
            grids.append(self.time_posterior_of([(queries[rows], scale)], chunk_features).month_hour)
        return torch.cat(grids).cpu() if grids else torch.zeros(0, 12, 24)

    @torch.inference_mode()
    def place_confidence(
        self, queries: torch.Tensor, radius_km: float = PLACE_RADIUS_KM, chunk_size: int = 64
    ) -> torch.Tensor:
        """``(N,)``: the (calibrated) posterior mass of the GPS-gallery entries within ``radius_km`` of the best place
        of each query embedding ``(N, 512)``: how sure the model is that its place answer is right within that
        radius (exact, over the whole gallery)."""
        scale, gallery = self.scale("img_gps_logit_scale"), self.gps_gallery
        out = []
        for chunk in queries.to(self.device, torch.float32).split(chunk_size):
            logits = gallery_logits(chunk, gallery.embeddings, scale)
            best = gallery.labels[logits.argmax(dim=1)]
            out.append(mass_within(logits, near_mask(gallery.labels, best, radius_km)))
        return torch.cat(out).cpu() if out else torch.zeros(0)

    @torch.inference_mode()
    def predict_time_given_location(self, features: torch.Tensor, latlon: torch.Tensor, top_k: int = 5) -> Prediction:
        """Time of images whose place is known, ``latlon`` ``(N, 2)``: the image's own time posterior times that of
        the ``(image + location) -> time`` query raised to the run's ``location_weight`` (a weighted product of
        experts, the weight fitted on held-out pictures at the end of training, :mod:`gtloc.model.calibration`),
        then the usual read-out. :meth:`predict` with ``place`` does the same beside the place answer.

        The fused query scores a time by ``<image, t> + <location, t>`` (up to a norm): the image's posterior times
        one from the place alone. Where every place sees every time, as on the demo world, the place alone says
        nothing about time and the plain product (weight 1) made the hour worse (3.23 vs 3.21 h); the fitted weight
        keeps the location only as far as held-out pictures show that it helps.
        """
        return self.predict(features, top_k, where=False, when=True, place=latlon)

    @torch.inference_mode()
    def predict_location_given_time(self, features: torch.Tensor, times: torch.Tensor, top_k: int = 5) -> Prediction:
        """Place of images whose time is known: the ``(image + time) -> location`` query, as distinct places (no
        radius: the run calibrates the image's own place posterior). ``times`` ``(N, 5)``."""
        img = self._embed(features)
        fused = compose(img, self.model.encode_time(times.to(self.device, torch.float32)))
        found = self._places().search(fused, max(PLACE_CANDIDATES, 4 * top_k), self.scale("it2g_logit_scale"))
        places, probs = self._distinct(found, top_k)
        return Prediction(place_topk=places, place_probs=probs).to("cpu")


def known_places(
    n: int, place: tuple[float, float] | None, exif: Sequence[PhotoExif | None] | None
) -> tuple[torch.Tensor | None, str]:
    """The known place of each of ``n`` photos ``(n, 2)`` (NaN where unknown; ``None`` when none is) and its source:
    ``place`` ``(lat, lon)`` for all (``"given"``, checked), else the EXIF GPS of each photo that has one
    (``"exif"``; ``exif`` ``None``: not used)."""
    if place is not None:
        try:
            lat, lon = place
        except (TypeError, ValueError):
            raise ParameterError(Param("place"), f" must be (lat, lon) degrees, got {place!r}") from None
        validate_coordinate(lat, lon, where="place")
        return torch.tensor([[float(lat), float(lon)]]).repeat(n, 1), "given"
    if exif is None or not any(e is not None and e.has_gps for e in exif):
        return None, ""
    rows = [[e.lat, e.lon] if e is not None and e.has_gps else [math.nan, math.nan] for e in exif]
    return torch.tensor(rows, dtype=torch.float32), "exif"


def load(run_dir: str | os.PathLike[str], **kwargs) -> Predictor:
    """The trained model in ``run_dir``, ready to predict: ``gtloc.load("run").predict_image("photo.jpg", top_k=3)``.

    Galleries are encoded once and cached (see :meth:`Predictor.from_pretrained`); ``kwargs`` go to :class:`Predictor`
    (``device``, ``tencrop``, ``gps_index``, ``backbone``, ...).
    """
    return Predictor.from_pretrained(run_dir, **kwargs)
