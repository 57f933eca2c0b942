"""What a run learns from pictures it did not train on, at the end of training: the posterior temperatures and
``verify``'s sharpness thresholds (``calibration.json``), the domain profile (``domain.safetensors``), the
validation metrics, and the model card that records them (``model_card.json``).

The held-out pictures are the run's validation rows (``val_split`` / ``val_group`` of the training config,
:mod:`gtloc.training.validation`): the model never trains on them. A run without them gets no temperatures (1.0), the
default ``verify`` thresholds and no validation metrics, and its domain profile uses the training pictures'
leave-one-out distances.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gtloc.geo import geo_metrics, haversine_km
from gtloc.labels import has_label
from gtloc.model.calibration import FALSE_ALARM_SHARE, FLAT_SHARE, MAX_INCONSISTENT_BELOW, Temperatures
from gtloc.model.card import ModelCard, TrainingDataCard
from gtloc.model.domain import DomainProfile
from gtloc.model.gtloc import GTLoc
from gtloc.model.space import compose
from gtloc.retrieval.claim_rank import ClaimScores, false_alarm_threshold, marginal_scores, rank_claims_in_rows
from gtloc.retrieval.galleries import build_gps_gallery, build_time_gallery, encode_gallery
from gtloc.retrieval.neighbours import NeighbourStore
from gtloc.retrieval.place_answer import fit_radius_mass
from gtloc.retrieval.posterior import (
    PLACE_RADIUS_KM,
    fit_temperature,
    near_mask,
    place_answer_loss,
    sharpness,
    time_answer_loss,
)
from gtloc.retrieval.search import gallery_logits
from gtloc.retrieval.time_posterior import MixWeights, TimeGallery, TimePosterior, fit_window_mass, mix_weight
from gtloc.timecode import best_constant_time, hour_error, month_error

MIN_HELD_OUT = 10
CHUNK = 256
LOCATION_WEIGHTS = (0.0, 0.125, 0.25, 0.5, 0.75, 1.0)


@dataclass
class DataSource:
    """Where training records came from, for the model card: the records file and, for a generated world, its
    seed (``world.json`` beside the records)."""

    records: str
    records_sha256: str
    world_seed: int | None = None

    @classmethod
    def of(cls, records_path: str | Path) -> DataSource:
        import json

        path = Path(records_path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        world = path.parent / "world.json"
        seed = None
        if world.is_file():
            try:
                seed = int(json.loads(world.read_text())["seed"])
            except (ValueError, KeyError, TypeError):
                seed = None
        return cls(path.name, digest, seed)

    @property
    def generated(self) -> bool:
        return self.world_seed is not None


def flat_below(sharpness_values: torch.Tensor, kind: str) -> float:
    """The ``verify`` threshold of a ``kind`` of check (``place``, ``month``, ``hour``): the sharpness below which
    about the flattest :data:`~gtloc.model.calibration.FLAT_SHARE` of the held-out posteriors ``(R,)`` fall."""
    return float(torch.quantile(sharpness_values.double(), FLAT_SHARE[kind]))


def fit_inconsistent_below(temperatures: Temperatures, kind: str, true_claims: ClaimScores) -> None:
    """Set ``verify``'s ``inconsistent_below[kind]`` from the held-out pictures' own (true) claims ranked as ``verify``
    ranks them, among those it judges (sharpness at least ``flat_below[kind]``): a true claim like them falls below
    with probability at most :data:`~gtloc.model.calibration.FALSE_ALARM_SHARE`
    (:func:`~gtloc.retrieval.claim_rank.false_alarm_threshold`); with fewer than :data:`MIN_HELD_OUT` judged, the
    default stays."""
    judged = true_claims.percentile[true_claims.sharpness >= temperatures.flat_below[kind]]
    if len(judged) >= MIN_HELD_OUT:
        temperatures.inconsistent_below[kind] = false_alarm_threshold(judged, FALSE_ALARM_SHARE, MAX_INCONSISTENT_BELOW)


@torch.inference_mode()
def fit_temperatures(
    model: GTLoc,
    embeddings: torch.Tensor,
    latlon: torch.Tensor,
    times: torch.Tensor,
    cache_dir: Path | None,
    neighbours: tuple[NeighbourStore, torch.Tensor] | None = None,
    log: Callable[[str], None] | None = None,
    mix: MixWeights | None = None,
) -> tuple[Temperatures, dict[str, float]]:
    """Temperatures fitted on held-out image ``embeddings`` ``(R, 512)`` with true ``latlon`` ``(R, 2)`` and
    ``times`` ``(R, 5)`` (NaN rows are left out of that half), and the validation metrics: median km and acc@750 of
    the best place (the top place after merging near-duplicate entries, :mod:`gtloc.retrieval.place_answer`), month
    and hour errors of the least-expected-error time under the calibrated posterior.

    ``neighbours``: the run's training pictures and the held-out rows' backbone features ``(R, D)`` or ``(R, C, D)``:
    the time temperature is then fitted to the ``mix`` posterior (the model's, scaled, mixed with the kNN posterior,
    :class:`~gtloc.retrieval.time_posterior.TimePosterior`), which is what predictions show by default, at the
    model's month and hour weights ``mix`` (recorded as the calibration's ``mix_weights``; None: ``n / (n + 250)``
    for both, not recorded).

    ``place_mass``: the posterior mass a place answer's radius must hold to hold the truth with probability
    ``place_coverage`` (split conformal, :func:`~gtloc.retrieval.place_answer.fit_radius_mass`); ``hour_mass``
    the same for the hour window around the time answer (:func:`~gtloc.retrieval.time_posterior.fit_window_mass`).

    ``flat_below``: ``verify``'s sharpness thresholds, from the calibrated place posteriors and the month and hour
    marginals of the calibrated time posterior (:func:`flat_below`; a half with too few rows keeps the default), and
    the percentiles below which it calls a part inconsistent, from the held-out pictures' own claims
    (:func:`fit_inconsistent_below`).

    ``location_weight``: of :data:`LOCATION_WEIGHTS`, the one whose location-given answers (:class:`GivenLocation`)
    score best on the held-out rows with both labels (ties: the smaller weight). On the demo world the plain
    product (1.0) made the hour worse than the image alone: where every place sees every time, the place alone (a
    factor of the fused query's posterior) says nothing about time."""
    temperatures = Temperatures(fitted_on=len(embeddings))
    metrics: dict[str, float] = {"pictures": len(embeddings)}
    has_place = has_label(latlon)
    if int(has_place.sum()) >= MIN_HELD_OUT:
        metrics.update(_fit_place(model, embeddings[has_place], latlon[has_place], temperatures, cache_dir, log))
    has_time = has_label(times)
    if model.time_encoder is not None and int(has_time.sum()) >= MIN_HELD_OUT:
        gallery = encode_gallery(model, "time", build_time_gallery(model.config.gallery), cache_dir, log=log)
        logits = gallery_logits(embeddings[has_time], gallery.embeddings, float(model.scale("img_time_logit_scale")))
        times_gallery, truth = TimeGallery(gallery.labels), times[has_time]
        knn, weight = None, MixWeights.of(1.0)
        if neighbours is not None:
            store, held_features = neighbours
            knn = store.time_posterior(held_features[has_time].float(), gallery.labels)
            weight = mix if mix is not None else MixWeights.of(mix_weight(store.n_train))
            temperatures.mix_weights = None if mix is None else {"month": mix.month, "hour": mix.hour}

        def loss(t: float) -> float:
            return time_answer_loss(logits, times_gallery, truth, t, knn, weight)

        temperatures.time = fit_temperature(loss)
        temperatures.held_out_loss["time"] = {"before": loss(1.0), "after": loss(temperatures.time)}
        shown = TimePosterior.build(
            times_gallery, logits, temperature=temperatures.time, source="mix", knn=knn, mix_weight=weight
        )
        answer = shown.bayes().numpy()
        hour_answer = torch.from_numpy(answer[:, 2])
        temperatures.hour_mass = fit_window_mass(shown.hour, hour_answer, truth[:, 2], temperatures.hour_coverage)
        metrics["month_error"] = float(np.mean(month_error(answer, truth.numpy())))
        metrics["hour_error"] = float(np.mean(hour_error(answer, truth.numpy())))
        temperatures.flat_below["month"] = flat_below(sharpness(shown.month), "month")
        temperatures.flat_below["hour"] = flat_below(sharpness(shown.hour), "hour")
        fit_inconsistent_below(temperatures, "month", marginal_scores(shown.month, truth[:, 0].long() - 1))
        fit_inconsistent_below(temperatures, "hour", marginal_scores(shown.hour, truth[:, 2].long()))
        both = has_place[has_time]
        if int(both.sum()) >= MIN_HELD_OUT:
            given = GivenLocation(
                logits[both] / temperatures.time,
                _fused_logits(model, embeddings[has_time][both], latlon[has_time][both], gallery.embeddings),
                None if knn is None else knn[both],
                weight,
            )
            scores = {w: given.score(w, times_gallery, truth[both]) for w in LOCATION_WEIGHTS}
            temperatures.location_weight = min(LOCATION_WEIGHTS, key=lambda w: (scores[w], w))
            temperatures.held_out_loss["given_location"] = {f"{w:g}": score for w, score in scores.items()}
    return temperatures, metrics


def _fused_logits(model: GTLoc, embeddings: torch.Tensor, latlon: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Scaled logits ``(R, T)`` of the composed queries ``compose(image, location)`` of image ``embeddings``
    ``(R, 512)`` at ``latlon`` ``(R, 2)`` degrees against the time gallery's embeddings ``times`` ``(T, 512)``."""
    fused = compose(embeddings, model.encode_location(latlon))
    return gallery_logits(fused, times, float(model.scale("ig2t_logit_scale")))


def _fit_place(
    model: GTLoc,
    embeddings: torch.Tensor,
    truth: torch.Tensor,
    temperatures: Temperatures,
    cache_dir: Path | None,
    log: Callable[[str], None] | None,
) -> dict[str, float]:
    """The place half of :func:`fit_temperatures` on held-out rows with a place (``truth`` ``(R, 2)``): sets the
    place temperature, its ``flat_below``, ``inconsistent_below`` and ``place_mass`` in ``temperatures``; the best
    place's median km and acc@750."""
    gps = encode_gallery(model, "gps", build_gps_gallery(model.config.gallery.gps), cache_dir, log=log)
    logits = gallery_logits(embeddings, gps.embeddings, float(model.scale("img_gps_logit_scale")))
    top = gps.labels[logits.argmax(dim=1)]
    near = near_mask(gps.labels, top)
    hit = haversine_km(top.double(), truth.double()) <= PLACE_RADIUS_KM
    temperatures.place = fit_temperature(lambda t: place_answer_loss(logits, near, hit, t))
    temperatures.held_out_loss["place"] = {
        "before": place_answer_loss(logits, near, hit, 1.0),
        "after": place_answer_loss(logits, near, hit, temperatures.place),
    }
    place_sharpness = torch.cat([sharpness(torch.softmax(c / temperatures.place, dim=1)) for c in logits.split(CHUNK)])
    temperatures.flat_below["place"] = flat_below(place_sharpness, "place")
    calibrated = logits / temperatures.place
    claimed = (embeddings * model.encode_location(truth)).sum(dim=1)
    scale = float(model.scale("img_gps_logit_scale")) / temperatures.place
    fit_inconsistent_below(temperatures, "place", rank_claims_in_rows(calibrated, scale * claimed))
    temperatures.place_mass, best = fit_radius_mass(calibrated, gps.labels, truth, temperatures.place_coverage)
    geo = geo_metrics(best.numpy(), truth.numpy())
    return {"median_km": geo["median_km"], "acc_750km": geo["acc_750km"]}


@dataclass
class GivenLocation:
    """The held-out time posterior when the place is known, as :meth:`Predictor.predict_time_given_location` forms
    it: ``softmax(image + w * fused)`` over the time gallery (``image`` ``(R, T)`` the calibrated image-time logits,
    ``fused`` the ``(image + location) -> time`` logits), mixed with the ``neighbours`` kNN posterior at
    ``mix_weight`` when given."""

    image: torch.Tensor
    fused: torch.Tensor
    neighbours: torch.Tensor | None
    mix_weight: float | MixWeights

    def score(self, weight: float, gallery: TimeGallery, truth: torch.Tensor) -> float:
        """Mean hour error / 12 h + mean month error / 6 months of the least-expected-error answers at ``weight``
        (each error over its largest possible value, so neither dominates) over the time ``gallery``."""
        posterior = TimePosterior.build(
            gallery, self.image + weight * self.fused, source="mix", knn=self.neighbours, mix_weight=self.mix_weight
        )
        answer, true = posterior.bayes().numpy(), truth.numpy()
        return float(np.mean(hour_error(answer, true)) / 12 + np.mean(month_error(answer, true)) / 6)


def constant_errors(train_times: torch.Tensor, held_times: torch.Tensor) -> dict[str, float]:
    """Mean hour and month errors of the training times' best constant guess on the held-out times ``(R, 5)``."""
    truth = held_times[has_label(held_times)].numpy().astype(float)
    guess = best_constant_time(train_times.numpy().astype(float))[None, :]
    return {
        "constant_hour_error": float(np.mean(hour_error(guess, truth))),
        "constant_month_error": float(np.mean(month_error(guess, truth))),
    }


@torch.inference_mode()
def finish_run(
    model: GTLoc,
    out_dir: Path,
    train_features: torch.Tensor,
    held_out: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    source: DataSource | None,
    pictures: int,
    config_digest: str,
    seed: int,
    neighbours: NeighbourStore | None = None,
    cache_dir: Path | None = None,
    log: Callable[[str], None] | None = None,
    groups: list[str] | None = None,
    train_times: torch.Tensor | None = None,
    held_out_groups: int | None = None,
    mix: MixWeights | None = None,
) -> ModelCard:
    """Fit and write ``calibration.json``, ``domain.safetensors`` and ``model_card.json`` into ``out_dir`` for the
    trained ``model``: ``train_features`` the features it trained on, ``held_out`` the held-out ``(features,
    latlon, times)`` (``None``, or fewer than :data:`MIN_HELD_OUT` rows: no temperatures and no validation
    metrics); ``neighbours`` the run's training pictures (the time temperature then calibrates the ``mix``
    read-out's posterior, :func:`fit_temperatures`); ``cache_dir`` keeps the galleries encoded for the fit (None:
    in memory only); ``log`` hears the fit and each gallery it encodes. ``groups``: the training pictures' groups
    (cameras, trips), so that the domain check is calibrated on distances between groups
    (:meth:`DomainProfile.build`); ``train_times`` ``(N, 5)``: the training times, whose best constant guess is
    scored on the held-out pictures beside the model (``constant_hour_error`` / ``constant_month_error``);
    ``held_out_groups``: how many whole groups the held-out pictures are (``held_out_groups`` in the metrics);
    ``mix``: the model's month and hour weights in the ``mix`` read-out (:func:`fit_temperatures`)."""
    model.eval()
    temperatures, metrics = Temperatures(), {}
    enough = held_out is not None and len(held_out[0]) >= MIN_HELD_OUT
    if enough:
        held_emb = model.embed_images(held_out[0])
        knn = None if neighbours is None else (neighbours, held_out[0])
        if log is not None:
            log(f"calibrating on the {len(held_out[0])} held-out pictures")
        temperatures, metrics = fit_temperatures(model, held_emb, held_out[1], held_out[2], cache_dir, knn, log, mix)
        if train_times is not None and "hour_error" in metrics:
            metrics.update(constant_errors(train_times, held_out[2]))
        if held_out_groups:
            metrics["held_out_groups"] = held_out_groups
    profile = DomainProfile.build(train_features, held_out[0] if enough else None, seed=seed, groups=groups)
    temperatures.save(out_dir)
    profile.save(out_dir)
    domain = "unknown" if source is None else ("generated" if source.generated else "real photos")
    card = ModelCard(
        source="trained",
        training_data=TrainingDataCard(
            records=source.records if source else None,
            records_sha256=source.records_sha256 if source else None,
            pictures=pictures,
            domain=domain,
            world_seed=source.world_seed if source else None,
        ),
        backbone=model.config.backbone,
        backbone_path=model.config.backbone_path,
        config_digest=config_digest,
        validation=metrics,
        calibration=(
            {"place": temperatures.place, "time": temperatures.time, "location_weight": temperatures.location_weight}
            if temperatures.fitted
            else {}
        ),
        domain_check=profile.describe(),
    )
    card.save(out_dir)
    return card
