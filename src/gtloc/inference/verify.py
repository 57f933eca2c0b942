"""What the model says about a claim: the claimed place and time ranked among the alternatives it could prefer.

A claim (:class:`~gtloc.data.claims.Claim`: from the photo's EXIF by default, or given) is scored against the
galleries: the claimed place against every GPS-gallery entry, the claimed time against every time-gallery entry,
and the claimed month and hour against the other months and hours. For each part (a :class:`ClaimRank`):

* ``score``: cosine similarity of the picture's embedding with the claim's embedding (for the month and hour: the
  posterior probability of the claimed month / hour);
* ``rank`` (1 = the model's favourite) and ``percentile`` (share of alternatives scored below the claim, 0-100);
* ``credibility``: the posterior mass of the alternatives scored no higher than the claim (1 = the model's
  favourite; below 0.05 the claim lies outside the model's 95 % credible region);
* ``sharpness``: ``1 - H(p) / log K`` of the (calibrated) posterior the claim is ranked in, over its K
  alternatives: 0 = uniform (the model cannot tell the alternatives apart), 1 = all mass on one;
* for the place, ``confidence``: the calibrated posterior mass within ``PLACE_RADIUS_KM`` (750 km) of the model's
  best place (:meth:`~gtloc.inference.predictor.Predictor.place_confidence`: how sure the model is of that region),
  and ``distance_km``: from the claimed place to the best place.

This module computes; it does not judge. The rule that turns these numbers into a verdict is the model check,
:mod:`gtloc.evidence.model`. The model's own best guess (the best place and the time of the run's read-out, the
same answer as ``predict`` and the web page give) comes along in :attr:`Verification.guess`.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from gtloc.data.claims import Claim, claim_from_exif, make_claim, require_claim
from gtloc.data.images import open_photo
from gtloc.geo import haversine_km
from gtloc.inference.prediction import Prediction
from gtloc.inference.predictor import Photo, Predictor
from gtloc.retrieval.claim_rank import ClaimScores, marginal_scores, rank_claims
from gtloc.retrieval.search import gallery_logits

CLAIM_PARTS = ("place", "time", "month", "hour")


@dataclass
class ClaimRank:
    """How one part of a claim (``kind``: ``place``, ``time``, ``month`` or ``hour``) ranks among the alternatives
    (module docstring). ``in_domain`` of the picture (``None``: the run has no domain check); ``flat_below``: the
    run's sharpness threshold for this kind (``None`` for the joint ``time``, which has no verdict of its own);
    ``confidence`` and ``distance_km`` for the place only; ``inconsistent_below``: the run's percentile below which
    this kind is inconsistent (``None`` for the joint ``time``)."""

    kind: str
    claimed: str
    score: float
    rank: int
    alternatives: int
    percentile: float
    credibility: float
    sharpness: float
    in_domain: bool | None = True
    flat_below: float | None = None
    confidence: float | None = None
    distance_km: float | None = None
    inconsistent_below: float | None = None


@dataclass
class Verification:
    """The model's view of a claim: each part's :class:`ClaimRank` and the model's own best guess (``guess``: a
    one-row :class:`Prediction` with top-k places and times, the month/hour posteriors, the read-out and the
    domain check)."""

    claim: Claim
    ranks: list[ClaimRank]
    guess: Prediction

    @property
    def in_domain(self) -> bool | None:
        """Whether the picture is in the model's domain (``None``: the run has no domain check)."""
        return None if self.guess is None or self.guess.in_domain is None else bool(self.guess.in_domain[0])

    @property
    def domain_score(self) -> float | None:
        return None if self.guess is None or self.guess.domain_score is None else float(self.guess.domain_score[0])

    def rank(self, kind: str) -> ClaimRank | None:
        return next((r for r in self.ranks if r.kind == kind), None)


def _rank_in_chunks(
    image: torch.Tensor, gallery: torch.Tensor, claim_emb: torch.Tensor, scale: float, chunk_size: int = 64
) -> ClaimScores:
    parts = [
        rank_claims(gallery_logits(img, gallery, scale), scale * (img * emb).sum(dim=1))
        for img, emb in zip(image.split(chunk_size), claim_emb.split(chunk_size), strict=True)
    ]
    joined = ClaimScores.cat(parts)
    joined.score = joined.score / scale
    return joined


@torch.inference_mode()
def score_claims(
    predictor: Predictor,
    image_embeddings: torch.Tensor,
    latlon: torch.Tensor | None = None,
    times: torch.Tensor | None = None,
    guess: Prediction | None = None,
) -> dict[str, ClaimScores]:
    """Scores of N claims at once: ``image_embeddings`` ``(N, 512)``, claimed ``latlon`` ``(N, 2)`` degrees and/or
    ``times`` ``(N, 5)`` local time. Returns ``place`` (vs the GPS gallery, with the best place's ``confidence`` and
    the claim's ``distance_km`` from it), ``time`` (vs the time gallery), ``month`` and ``hour`` (vs the other months
    / hours of the time posterior), as far as claimed. ``guess``: the predictor's prediction for these embeddings,
    if made already (its best places and its month and hour posteriors are reused). Posteriors use the predictor's
    calibrated scales (:meth:`Predictor.scale`). Computed on the predictor's device; the scores come back on the
    CPU."""
    model, device = predictor.model, predictor.device
    image = image_embeddings.to(device, torch.float32)
    out: dict[str, ClaimScores] = {}
    if latlon is not None:
        scale = predictor.scale("img_gps_logit_scale")
        claim = model.encode_location(latlon.to(device, torch.float32))
        place = _rank_in_chunks(image, predictor.gps_gallery.embeddings, claim, scale).cpu()
        if guess is None or guess.place_topk is None:
            guess = predictor.predict_embeddings(image, top_k=1, when=False)
        place.confidence = predictor.place_confidence(image)
        place.distance_km = haversine_km(latlon.cpu().double(), guess.place_topk[:, 0].double()).float()
        out["place"] = place
    if times is not None and predictor.time_gallery is not None:
        scale = predictor.scale("img_time_logit_scale")
        claimed = model.encode_time(times.to(device, torch.float32))
        out["time"] = _rank_in_chunks(image, predictor.time_gallery.embeddings, claimed, scale).cpu()
        if guess is None or guess.month_posterior is None:
            guess = predictor.predict_embeddings(image, top_k=1, where=False, when=True)
        times = times.cpu()
        out["month"] = marginal_scores(guess.month_posterior.cpu(), times[:, 0].long() - 1)
        out["hour"] = marginal_scores(guess.hour_posterior.cpu(), times[:, 2].long())
    return out


def overall_percentile(scores: dict[str, ClaimScores]) -> torch.Tensor:
    """``(N,)`` the lowest percentile of the place, month and hour parts: one score of a whole claim (for ROC
    curves; the verdict is :mod:`gtloc.evidence.model`'s)."""
    return torch.stack([scores[k].percentile for k in ("place", "month", "hour") if k in scores]).min(dim=0).values


def image_embedding(predictor: Predictor, features: torch.Tensor) -> torch.Tensor:
    """One picture's backbone ``features`` ``(D,)`` or ten-crop ``(C, D)`` -> its embedding ``(512,)`` (crops by
    the model's ten-crop rule, :meth:`GTLoc.embed_images`)."""
    return predictor.encode_images(features[None])[0]


def _labels(claim: Claim) -> dict[str, str]:
    labels = {}
    if claim.has_place:
        labels["place"] = f"{claim.lat:.4f}, {claim.lon:.4f}"
    if claim.has_time:
        labels.update(time=f"{claim.time:%m-%d %H:%M}", month=calendar.month_name[claim.time.month])
        labels["hour"] = f"{claim.time.hour:02d}h"
    return labels


@torch.inference_mode()
def verify_embeddings(
    predictor: Predictor, embeddings: torch.Tensor, claims: Sequence[Claim], guess: Prediction
) -> list[Verification | None]:
    """The model's view of N ``claims`` about the pictures of ``embeddings`` ``(N, 512)``, whose prediction (top-k,
    with the domain check) is ``guess``: one :class:`Verification` per claim, ``None`` where nothing is claimed.
    The parts are scored in one batch per kind of part (:func:`score_claims`)."""
    with_place = [i for i, c in enumerate(claims) if c.has_place]
    with_time = [i for i, c in enumerate(claims) if c.has_time]
    parts: dict[int, dict[str, tuple[ClaimScores, int]]] = {i: {} for i in range(len(claims))}
    if with_place:
        latlon = torch.tensor([[claims[i].lat, claims[i].lon] for i in with_place], dtype=torch.float32)
        picked = _rows(guess, with_place)
        for kind, scores in score_claims(predictor, embeddings[with_place], latlon=latlon, guess=picked).items():
            for j, i in enumerate(with_place):
                parts[i][kind] = (scores, j)
    if with_time:
        times = torch.tensor([claims[i].time_row() for i in with_time], dtype=torch.float32)
        picked = _rows(guess, with_time)
        for kind, scores in score_claims(predictor, embeddings[with_time], times=times, guess=picked).items():
            for j, i in enumerate(with_time):
                parts[i][kind] = (scores, j)
    out: list[Verification | None] = []
    for i, claim in enumerate(claims):
        if claim.is_empty:
            out.append(None)
            continue
        row = guess.row(i)
        in_domain = None if row.in_domain is None else bool(row.in_domain[0])
        labels = _labels(claim)
        calibration = predictor.temperatures
        ranks = [
            _claim_rank(
                kind,
                labels[kind],
                scores,
                j,
                in_domain,
                calibration.flat_below.get(kind),
                calibration.inconsistent_below.get(kind),
            )
            for kind in CLAIM_PARTS
            if kind in parts[i]
            for scores, j in [parts[i][kind]]
        ]
        out.append(Verification(claim, ranks, row))
    return out


def _rows(prediction: Prediction, rows: list[int]) -> Prediction:
    picked = {k: None if v is None else v[rows] for k, v in prediction.tensors().items()}
    return Prediction(**picked, readout=prediction.readout)


def _claim_rank(
    kind: str,
    claimed: str,
    s: ClaimScores,
    j: int,
    in_domain: bool | None,
    flat_below: float | None,
    inconsistent_below: float | None,
) -> ClaimRank:
    return ClaimRank(
        kind,
        claimed,
        float(s.score[j]),
        int(s.rank[j]),
        s.alternatives,
        float(s.percentile[j]),
        float(s.credibility[j]),
        float(s.sharpness[j]),
        in_domain,
        flat_below,
        None if s.confidence is None else float(s.confidence[j]),
        None if s.distance_km is None else float(s.distance_km[j]),
        inconsistent_below,
    )


def verify_embedding(
    predictor: Predictor, embedding: torch.Tensor, claim: Claim, guess: Prediction | None = None, top_k: int = 5
) -> Verification:
    """The model's view of ``claim`` for one picture's ``embedding`` ``(512,)``; ``guess``: the predictor's
    prediction for it (one row), made here with ``top_k`` if not given."""
    require_claim(claim)
    if guess is None:
        guess = predictor.predict_embeddings(embedding[None], top_k=top_k)
    return verify_embeddings(predictor, embedding[None], [claim], guess)[0]


def verify_features(predictor: Predictor, features: torch.Tensor, claim: Claim, top_k: int = 5) -> Verification:
    """The model's view of ``claim`` for one picture's backbone ``features`` ``(D,)`` or ten-crop ``(C, D)`` (with
    the domain check)."""
    embedding = image_embedding(predictor, features)
    guess = predictor.predict_embeddings(embedding[None], top_k=top_k, features=features[None])
    return verify_embedding(predictor, embedding, claim, guess)


def photo_claim(photo: Photo) -> Claim:
    """What the photo file's EXIF claims; nothing for a PIL image (it has no file to read)."""
    return make_claim(None) if isinstance(photo, Image.Image) else claim_from_exif(photo)


@dataclass
class PhotoAnalysis:
    """One photo, encoded once: ``image`` the decoded photo (upright RGB); ``embedding`` ``(512,)`` its image
    embedding; ``prediction`` the model's top-k places and times for it (one row, with the month and hour
    posteriors); ``claim`` what the photo (EXIF) or the caller claims; ``verification`` the model's view of the
    claim (``None`` when neither a place nor a time is claimed, ``claim.problems`` says why)."""

    image: Image.Image
    embedding: torch.Tensor
    prediction: Prediction
    claim: Claim
    verification: Verification | None


@dataclass
class ModelView:
    """What the model makes of one picture and its claim: ``embedding`` ``(512,)``, ``prediction`` (one row: top-k
    places and times, posteriors, domain check) and ``verification`` (``None`` when nothing is claimed)."""

    embedding: torch.Tensor
    prediction: Prediction
    verification: Verification | None


@torch.inference_mode()
def analyze_features(
    predictor: Predictor, features: torch.Tensor, claims: Sequence[Claim], top_k: int = 5
) -> list[ModelView]:
    """The model's view of N pictures, from their backbone ``features`` ``(N, D)`` or ten-crop ``(N, C, D)``, and of
    their ``claims``, in one batch: the image head runs once per picture, and the prediction and the claims' scores
    share that embedding."""
    embeddings = predictor.encode_images(features)
    prediction = predictor.predict_embeddings(embeddings, top_k=top_k, features=features)
    views = verify_embeddings(predictor, embeddings, claims, prediction)
    return [ModelView(embeddings[i], prediction.row(i), views[i]) for i in range(len(claims))]


def analyze_photo(predictor: Predictor, photo: Photo, claim: Claim | None = None, top_k: int = 5) -> PhotoAnalysis:
    """Predict where and when ``photo`` (a file or a PIL image) was taken and score ``claim`` against it.

    ``claim`` defaults to the photo file's EXIF (:func:`photo_claim`; nothing for a PIL image). The photo goes
    through the predictor's backbone once and its image head once (:func:`analyze_features`).
    """
    claim = claim if claim is not None else photo_claim(photo)
    image = open_photo(photo)
    view = analyze_features(predictor, predictor.photo_features([image]), [claim], top_k)[0]
    return PhotoAnalysis(image, view.embedding, view.prediction, claim, view.verification)
