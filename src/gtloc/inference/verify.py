"""Metadata verification: does a picture's claimed place and time fit what it shows?

A claim (from the photo's EXIF by default, or given by the user) is scored against the alternatives the model
could have preferred: the claimed place against every GPS-gallery entry, the claimed time against every
time-gallery entry, and the claimed month and hour against the other months and hours. For each check:

* ``score``: cosine similarity of the picture's embedding with the claim's embedding;
* ``rank`` (1 = the model's favourite) and ``percentile`` (share of alternatives scored below the claim, 0-100);
* ``credibility``: the posterior mass of the alternatives scored no higher than the claim (1 = the model's
  favourite; below 0.05 the claim lies outside the model's 95 % credible region).

* ``sharpness``: ``1 - H(p) / log K`` of the (calibrated) posterior the claim is ranked in, over its K
  alternatives: 0 = uniform (the model cannot tell the alternatives apart), 1 = all mass on one.

The rule, one place (:func:`check_verdict`, :func:`overall_verdict`):

1. Each check reads its percentile: ``consistent`` (the claim beats >= 25 % of the alternatives), ``doubtful``
   (>= 10 %) or ``inconsistent``; but ``cannot judge`` when the picture is outside the model's domain
   (:mod:`gtloc.model.domain`) or the check's posterior is too flat (``sharpness`` below the run's ``flat_below``
   threshold for that check, fitted on held-out pictures at the end of training: :mod:`gtloc.model.calibration`).
2. The overall verdict is one of exactly ``consistent``, ``inconsistent``, ``cannot judge``, from the place, month
   and hour checks (the joint time check is a diagnostic without a verdict): ``cannot judge`` when the picture is
   out of domain; else ``inconsistent`` when any check is inconsistent; else ``consistent`` when every check is
   consistent; else (a check doubtful or cannot judge) ``cannot judge``. So the overall verdict never contradicts
   a check: ``consistent`` only when all are, ``inconsistent`` only when one is.

Percentiles, not credibilities, decide because the learned logit scales are not calibrated for 100k alternatives:
on a held-out world half of the true places had credibility < 0.05, but only 5 % had a percentile below 19
(``benchmarks/bench_retrieval_quality.py``). The model's own best guess is shown beside it: the best place and the
time of the run's read-out, the same answer as ``predict`` and the web page give.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import torch
from PIL import Image

from gtloc.data.images import open_photo
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.geo import validate_coordinate
from gtloc.inference.prediction import Prediction
from gtloc.inference.predictor import Photo, Predictor
from gtloc.model.calibration import DEFAULT_FLAT_BELOW
from gtloc.model.domain import domain_label, out_of_domain_warning
from gtloc.retrieval.posterior import sharpness
from gtloc.timecode import datetime_to_time_row

CONSISTENT_AT = 25.0
DOUBTFUL_AT = 10.0
VERDICT_CHECKS = ("place", "month", "hour")
CHECK_VERDICTS = ("consistent", "doubtful", "inconsistent", "cannot judge")
VERDICTS = ("consistent", "inconsistent", "cannot judge")
TIE_TOLERANCE = 1e-4
_CLAIM_TIME = re.compile(
    r"^\s*(?:(\d{4})[-:/])?(\d{1,2})[-:/](\d{1,2})[ T_]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$",
)


def parse_claim_time(text: str) -> datetime:
    """Local clock time from ``"2023-01-15 16:30"``, ``"2023:01:15 16:30:00"`` (EXIF), ``"2023-01-15T16:30"`` or
    ``"01-15 16:30"`` (no year: 2001 is used; only month, day and time of day matter)."""
    match = _CLAIM_TIME.match(text)
    if not match:
        raise GtlocError(f"cannot read the time {text!r}: use 'YYYY-MM-DD HH:MM[:SS]' or 'MM-DD HH:MM' (local time)")
    year, month, day, hour, minute, second = (int(g) if g else None for g in match.groups())
    try:
        return datetime(year or 2001, month, day, hour, minute, second or 0)
    except ValueError as exc:
        raise GtlocError(f"cannot read the time {text!r}: {exc}") from None


@dataclass
class Claim:
    """A claimed place (``lat``/``lon`` degrees) and/or local time; ``source`` says where each came from and
    ``problems`` why an EXIF field could not be used."""

    lat: float | None = None
    lon: float | None = None
    time: datetime | None = None
    source: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def has_place(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def has_time(self) -> bool:
        return self.time is not None

    def time_row(self) -> torch.Tensor:
        """``(5,)`` ``[month, day, hour, minute, second]``."""
        return torch.tensor(datetime_to_time_row(self.time), dtype=torch.float32)


def claim_from_exif(
    path: str | Path, lat: float | None = None, lon: float | None = None, time: datetime | None = None
) -> Claim:
    """The claim for the photo at ``path``: given values win, EXIF fills the rest (its problems are kept)."""
    from gtloc.data.exif import read_photo_exif

    claim = Claim()
    if (lat is None) != (lon is None):
        raise ParameterError("give both ", Param("lat"), " and ", Param("lon"), " (or neither)")
    if lat is not None:
        validate_coordinate(lat, lon, "claim")
        claim.lat, claim.lon, claim.source["place"] = float(lat), float(lon), "given"
    if time is not None:
        claim.time, claim.source["time"] = time, "given"
    if claim.has_place and claim.has_time:
        return claim
    exif = read_photo_exif(path)
    if not claim.has_place:
        if exif.has_gps:
            claim.lat, claim.lon, claim.source["place"] = exif.lat, exif.lon, "EXIF GPS"
        else:
            claim.problems.append(f"EXIF GPS: {exif.gps_problem or 'absent'}")
    if not claim.has_time:
        if exif.has_time:
            claim.time, claim.source["time"] = exif.local_time, f"EXIF {exif.time_tag}"
        else:
            claim.problems.append(f"EXIF time: {exif.time_problem or 'absent'}")
    return claim


def check_verdict(
    kind: str, percentile: float, sharpness: float, in_domain: bool | None = True, flat_below: float | None = None
) -> str | None:
    """One check's verdict (rule 1 of the module docstring); ``None`` for the diagnostic joint ``time`` check.
    ``in_domain=None`` (the run has no domain check) judges as in domain. ``flat_below``: the run's sharpness
    threshold for this kind of check (``Predictor.temperatures.flat_below``; ``None``: the default of runs without
    fitted ones, :data:`~gtloc.model.calibration.DEFAULT_FLAT_BELOW`)."""
    if kind not in VERDICT_CHECKS:
        return None
    if in_domain is False or sharpness < (DEFAULT_FLAT_BELOW[kind] if flat_below is None else flat_below):
        return "cannot judge"
    if percentile >= CONSISTENT_AT:
        return "consistent"
    return "doubtful" if percentile >= DOUBTFUL_AT else "inconsistent"


def overall_verdict(verdicts: list[str], in_domain: bool | None = True) -> str:
    """The overall verdict from the place, month and hour checks' ``verdicts`` (rule 2 of the module docstring)."""
    if in_domain is False or not verdicts:
        return "cannot judge"
    if "inconsistent" in verdicts:
        return "inconsistent"
    return "consistent" if all(v == "consistent" for v in verdicts) else "cannot judge"


@dataclass
class Check:
    """How one part of the claim ranks among the alternatives (see the module docstring); ``in_domain`` of the
    picture (``None``: the run has no domain check); ``flat_below``: the sharpness threshold it was judged by
    (:func:`check_verdict`)."""

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

    @property
    def verdict(self) -> str | None:
        return check_verdict(self.kind, self.percentile, self.sharpness, self.in_domain, self.flat_below)


@dataclass
class Verification:
    """Checks of a claim, the overall verdict and the model's own best guess (``guess``: a Prediction with
    top-k places and times, the month/hour posteriors, the read-out and the domain check)."""

    claim: Claim
    checks: list[Check]
    guess: Prediction

    @property
    def in_domain(self) -> bool | None:
        """Whether the picture is in the model's domain (``None``: the run has no domain check)."""
        return None if self.guess is None or self.guess.in_domain is None else bool(self.guess.in_domain[0])

    @property
    def domain_score(self) -> float | None:
        return None if self.guess is None or self.guess.domain_score is None else float(self.guess.domain_score[0])

    @property
    def verdict(self) -> str:
        """``consistent``, ``inconsistent`` or ``cannot judge``: :func:`overall_verdict` of the place, month and
        hour checks."""
        main = [c.verdict for c in self.checks if c.kind in VERDICT_CHECKS]
        return overall_verdict(main, self.in_domain)

    def check(self, kind: str) -> Check | None:
        return next((c for c in self.checks if c.kind == kind), None)


@dataclass
class ClaimScores:
    """One check for N pictures: ``score`` ``(N,)`` (cosine similarity, or posterior probability for month/hour),
    ``rank`` ``(N,)`` long, ``percentile`` ``(N,)`` 0-100, ``credibility`` ``(N,)`` in [0, 1], ``sharpness``
    ``(N,)`` in [0, 1] of the posterior ranked in, and the number of ``alternatives`` each claim was ranked among."""

    score: torch.Tensor
    rank: torch.Tensor
    percentile: torch.Tensor
    credibility: torch.Tensor
    alternatives: int
    sharpness: torch.Tensor

    def cpu(self) -> ClaimScores:
        """The same scores with every tensor on the CPU."""
        return ClaimScores(
            self.score.cpu(),
            self.rank.cpu(),
            self.percentile.cpu(),
            self.credibility.cpu(),
            self.alternatives,
            self.sharpness.cpu(),
        )


def rank_claims(logits: torch.Tensor, claim_logits: torch.Tensor) -> ClaimScores:
    """Rank each claim among its alternatives: ``logits`` ``(N, G)`` scaled similarities of the alternatives,
    ``claim_logits`` ``(N,)``. The claim joins the softmax normaliser; differences below ``TIE_TOLERANCE`` (float
    noise of batched encoding) count as ties. ``score`` is left as the claim logit."""
    claim = claim_logits[:, None]
    above = logits > claim + TIE_TOLERANCE
    log_norm = torch.logsumexp(torch.cat([logits, claim], dim=1), dim=1, keepdim=True)
    mass_above = (torch.exp(logits - log_norm) * above).sum(dim=1)
    return ClaimScores(
        score=claim_logits,
        rank=above.sum(dim=1) + 1,
        percentile=100.0 * (logits < claim - TIE_TOLERANCE).float().mean(dim=1),
        credibility=(1.0 - mass_above).clamp(0.0, 1.0),
        alternatives=logits.shape[1],
        sharpness=sharpness(torch.softmax(logits, dim=1)),
    )


def _rank_in_chunks(
    image: torch.Tensor, gallery: torch.Tensor, claim_emb: torch.Tensor, scale: float, chunk_size: int = 64
) -> ClaimScores:
    parts = [
        rank_claims(scale * img @ gallery.T, scale * (img * emb).sum(dim=1))
        for img, emb in zip(image.split(chunk_size), claim_emb.split(chunk_size), strict=True)
    ]
    return ClaimScores(
        score=torch.cat([p.score for p in parts]) / scale,
        rank=torch.cat([p.rank for p in parts]),
        percentile=torch.cat([p.percentile for p in parts]),
        credibility=torch.cat([p.credibility for p in parts]),
        alternatives=gallery.shape[0],
        sharpness=torch.cat([p.sharpness for p in parts]),
    )


def _marginal_scores(posterior: torch.Tensor, index: torch.Tensor) -> ClaimScores:
    """Claims of one calendar month / clock hour ``index`` ``(N,)`` against the marginal ``posterior`` ``(N, K)``."""
    p = posterior.gather(1, index[:, None])
    above = posterior > p + 1e-9
    return ClaimScores(
        score=p[:, 0],
        rank=above.sum(dim=1) + 1,
        percentile=100.0 * (posterior < p - 1e-9).float().mean(dim=1),
        credibility=(1.0 - (posterior * above).sum(dim=1)).clamp(0.0, 1.0),
        alternatives=posterior.shape[1],
        sharpness=sharpness(posterior),
    )


@torch.inference_mode()
def score_claims(
    predictor: Predictor,
    image_embeddings: torch.Tensor,
    latlon: torch.Tensor | None = None,
    times: torch.Tensor | None = None,
    guess: Prediction | None = None,
) -> dict[str, ClaimScores]:
    """Checks of N claims at once: ``image_embeddings`` ``(N, 512)``, claimed ``latlon`` ``(N, 2)`` degrees and/or
    ``times`` ``(N, 5)`` local time. Returns ``place`` (vs the GPS gallery), ``time`` (vs the time gallery),
    ``month`` and ``hour`` (vs the other months / hours of the time posterior), as far as claimed. ``guess``: the
    predictor's prediction for these embeddings, if made already (its month and hour posteriors are reused).
    Posteriors use the predictor's calibrated scales (:meth:`Predictor.scale`). Computed on the predictor's device;
    the scores come back on the CPU."""
    model, device = predictor.model, predictor.device
    image = image_embeddings.to(device, torch.float32)
    out: dict[str, ClaimScores] = {}
    if latlon is not None:
        scale = predictor.scale("img_gps_logit_scale")
        claim = model.encode_location(latlon.to(device, torch.float32))
        out["place"] = _rank_in_chunks(image, predictor.gps_gallery.embeddings, claim, scale).cpu()
    if times is not None and predictor.time_gallery is not None:
        scale = predictor.scale("img_time_logit_scale")
        claimed = model.encode_time(times.to(device, torch.float32))
        out["time"] = _rank_in_chunks(image, predictor.time_gallery.embeddings, claimed, scale).cpu()
        if guess is None or guess.month_posterior is None:
            guess = predictor.predict_embeddings(image, top_k=1, where=False, when=True)
        times = times.cpu()
        out["month"] = _marginal_scores(guess.month_posterior.cpu(), times[:, 0].long() - 1)
        out["hour"] = _marginal_scores(guess.hour_posterior.cpu(), times[:, 2].long())
    return out


def overall_percentile(scores: dict[str, ClaimScores]) -> torch.Tensor:
    """``(N,)`` the lowest percentile of the place, month and hour checks: what the overall verdict reads."""
    return torch.stack([scores[k].percentile for k in VERDICT_CHECKS if k in scores]).min(dim=0).values


def overall_verdicts(
    scores: dict[str, ClaimScores], in_domain: torch.Tensor | None = None, flat_below: dict[str, float] | None = None
) -> list[str]:
    """The overall verdict of each of N claims scored by :func:`score_claims` (the rule of the module docstring);
    ``in_domain`` ``(N,)`` bool, ``None`` when the run has no domain check; ``flat_below``: the run's sharpness
    thresholds by check (``Predictor.temperatures.flat_below``; ``None``: the defaults)."""
    flat_below = flat_below or DEFAULT_FLAT_BELOW
    n = len(next(iter(scores.values())).percentile)
    out = []
    for i in range(n):
        inside = None if in_domain is None else bool(in_domain[i])
        verdicts = [
            check_verdict(
                kind, float(scores[kind].percentile[i]), float(scores[kind].sharpness[i]), inside, flat_below[kind]
            )
            for kind in VERDICT_CHECKS
            if kind in scores
        ]
        out.append(overall_verdict(verdicts, inside))
    return out


def _require_claim(claim: Claim) -> None:
    if not (claim.has_place or claim.has_time):
        why = "; ".join(claim.problems) or "no place or time given"
        raise ParameterError(
            f"no claim to verify ({why}): pass ", Param("lat"), "/", Param("lon"), " and/or ", Param("time")
        )


def image_embedding(predictor: Predictor, features: torch.Tensor) -> torch.Tensor:
    """One picture's backbone ``features`` ``(D,)`` or ten-crop ``(C, D)`` -> its embedding ``(512,)`` (crops by
    the model's ten-crop rule, :meth:`GTLoc.embed_images`)."""
    return predictor.encode_images(features[None])[0]


@torch.inference_mode()
def verify_embedding(
    predictor: Predictor, embedding: torch.Tensor, claim: Claim, guess: Prediction | None = None, top_k: int = 5
) -> Verification:
    """Verify ``claim`` for one picture's ``embedding`` ``(512,)``; ``guess``: the predictor's prediction for it
    (one row), made here with ``top_k`` if not given."""
    _require_claim(claim)
    image = embedding[None]
    if guess is None:
        guess = predictor.predict_embeddings(image, top_k=top_k)
    latlon = torch.tensor([[claim.lat, claim.lon]], dtype=torch.float32) if claim.has_place else None
    times = claim.time_row()[None] if claim.has_time else None
    scores = score_claims(predictor, image, latlon, times, guess)
    labels = {}
    if claim.has_place:
        labels["place"] = f"{claim.lat:.4f}, {claim.lon:.4f}"
    if claim.has_time:
        labels.update(time=f"{claim.time:%m-%d %H:%M}", month=calendar.month_name[claim.time.month])
        labels["hour"] = f"{claim.time.hour:02d}h"
    in_domain = None if guess.in_domain is None else bool(guess.in_domain[0])
    checks = [
        Check(
            kind,
            labels[kind],
            float(s.score[0]),
            int(s.rank[0]),
            s.alternatives,
            float(s.percentile[0]),
            float(s.credibility[0]),
            float(s.sharpness[0]),
            in_domain,
            predictor.temperatures.flat_below.get(kind),
        )
        for kind, s in scores.items()
    ]
    return Verification(claim, checks, guess)


def verify_features(predictor: Predictor, features: torch.Tensor, claim: Claim, top_k: int = 5) -> Verification:
    """Verify ``claim`` for one picture's backbone ``features`` ``(D,)`` or ten-crop ``(C, D)`` (with the domain
    check)."""
    embedding = image_embedding(predictor, features)
    guess = predictor.predict_embeddings(embedding[None], top_k=top_k, features=features[None])
    return verify_embedding(predictor, embedding, claim, guess)


def _photo_claim(photo: Photo) -> Claim:
    """What the photo file's EXIF claims; nothing for a PIL image (it has no file to read)."""
    if isinstance(photo, Image.Image):
        return Claim(problems=["EXIF: not read (the photo was given as an image, not a file)"])
    return claim_from_exif(photo)


@dataclass
class PhotoAnalysis:
    """One photo, encoded once: ``image`` the decoded photo (upright RGB); ``embedding`` ``(512,)`` its image
    embedding; ``prediction`` the model's top-k places and times for it (one row, with the month and hour
    posteriors); ``claim`` what the photo (EXIF) or the caller claims; ``verification`` the claim's checks
    (``None`` when neither a place nor a time is claimed, ``claim.problems`` says why)."""

    image: Image.Image
    embedding: torch.Tensor
    prediction: Prediction
    claim: Claim
    verification: Verification | None


@torch.inference_mode()
def analyze_photo(predictor: Predictor, photo: Photo, claim: Claim | None = None, top_k: int = 5) -> PhotoAnalysis:
    """Predict where and when ``photo`` (a file or a PIL image) was taken and check ``claim`` against it.

    ``claim`` defaults to the photo file's EXIF (:func:`claim_from_exif`; nothing for a PIL image). The photo goes
    through the predictor's backbone once (ten crops with ``predictor.tencrop``) and its image head once; the
    prediction and the checks share that embedding.
    """
    image = open_photo(photo)
    claim = claim if claim is not None else _photo_claim(photo)
    features = predictor.photo_features([image])
    embedding = image_embedding(predictor, features[0])
    prediction = predictor.predict_embeddings(embedding[None], top_k=top_k, features=features)
    verification = None
    if claim.has_place or claim.has_time:
        verification = verify_embedding(predictor, embedding, claim, prediction)
    return PhotoAnalysis(image, embedding, prediction, claim, verification)


def verify_photo(predictor: Predictor, photo: Photo, claim: Claim | None = None, top_k: int = 5) -> Verification:
    """Verify ``claim`` (default: the photo file's EXIF) for ``photo``, through :func:`analyze_photo`; a
    GtlocError says why when nothing is claimed."""
    claim = claim if claim is not None else _photo_claim(photo)
    _require_claim(claim)
    return analyze_photo(predictor, photo, claim, top_k).verification


def _best_guess(result: Verification) -> dict:
    from gtloc.places import place_names

    guess = result.guess
    lat, lon = (float(v) for v in guess.place_topk[0, 0])
    out = {"lat": lat, "lon": lon, "near": place_names(guess.place_topk[0, :1].numpy())[0]}
    out["place_prob"] = float(guess.place_probs[0, 0])
    if guess.time_topk is not None:
        month, day, hour, minute = (int(v) for v in guess.best_time[0, :4])
        out["time"] = f"{month:02d}-{day:02d} {hour:02d}:{minute:02d}"
        out["readout"] = guess.readout
        out["month_prob"] = float(guess.month_posterior[0, month - 1])
        out["hour_prob"] = float(guess.hour_posterior[0, hour])
    return out


def verification_dict(result: Verification) -> dict:
    """Everything a caller shows: the claim, each check with its verdict, the overall ``verdict``, ``in_domain``
    and ``domain_score`` (``None`` without a domain check) and the best guess (with its read-out)."""
    claim = result.claim
    return {
        "claim": {
            "lat": claim.lat,
            "lon": claim.lon,
            "time": claim.time.isoformat(sep=" ") if claim.time else None,
            "source": claim.source,
            "problems": claim.problems,
        },
        "checks": [{**vars(c), "verdict": c.verdict} for c in result.checks],
        "verdict": result.verdict,
        "in_domain": result.in_domain,
        "domain_score": result.domain_score,
        "warning": out_of_domain_warning(
            None if result.in_domain is None else [result.in_domain], [result.domain_score]
        ),
        "best_guess": _best_guess(result),
    }


def verification_text(result: Verification) -> str:
    """Readable lines: the claim, one line per check, the verdict, the domain warning and the model's best guess."""
    data = verification_dict(result)
    claim, lines = data["claim"], []
    source = {"place": "claimed", "time": "claimed", **claim["source"]}
    if claim["lat"] is not None:
        lines.append(f"claimed place: {claim['lat']:.4f}, {claim['lon']:.4f} ({source['place']})")
    if claim["time"] is not None:
        lines.append(f"claimed time:  {claim['time']} ({source['time']})")
    lines += [f"not claimed:   {problem}" for problem in claim["problems"]]
    for c in result.checks:
        lines.append(
            f"{c.kind:<6} {c.claimed:<22} rank {c.rank} of {c.alternatives}, above {c.percentile:.1f} % of the "
            f"alternatives, credibility {c.credibility:.3f}, sharpness {c.sharpness:.3f} -> {c.verdict or 'diagnostic'}"
        )
    if data["domain_score"] is not None:
        lines.append(f"domain: {domain_label(data['in_domain'], data['domain_score'])}")
    if data["warning"]:
        lines.append(f"warning: {data['warning']}")
    lines.append(f"verdict: {result.verdict}")
    guess = data["best_guess"]
    text = f"model's best guess: {guess['lat']:.4f}, {guess['lon']:.4f} (near {guess['near']})"
    if "time" in guess:
        text += (
            f", {guess['time']} (read-out {guess['readout']}; p(month)={guess['month_prob']:.2f}, "
            f"p(hour)={guess['hour_prob']:.2f})"
        )
    lines.append(text)
    return "\n".join(lines)
