"""The model check: claims ranked against the GPS/time galleries (inference.verify), judged by one rule
(evidence.model), and the place rule that knows when the model is sure of a region."""

from __future__ import annotations

import itertools
import math
from datetime import datetime

import pytest
import torch
from PIL import ExifTags, Image

from gtloc.backbones.extract import image_features
from gtloc.data.claims import Claim, claim_from_exif
from gtloc.data.images import load_image
from gtloc.evidence import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, VERDICTS
from gtloc.evidence.model import (
    DOUBTFUL,
    FAR_KM,
    REGION_KM,
    SURE_MASS,
    check_model,
    model_verdict,
    model_verdicts,
    part_verdict,
    rank_verdict,
)
from gtloc.evidence.verify import verify_photos
from gtloc.geo import haversine_km
from gtloc.inference.predictor import Predictor
from gtloc.inference.verify import (
    ClaimRank,
    analyze_photo,
    overall_percentile,
    rank_claims,
    score_claims,
    sharpness,
    verify_embedding,
    verify_features,
)
from gtloc.model.calibration import DEFAULT_FLAT_BELOW
from helpers.toydata import ToyBackbone
from helpers.world import WEBCAMS, tiny_predictor


def photo_with_exif(path, gps=None, when=None):
    """A small JPEG with EXIF GPS ``{ref/value tags}`` and DateTimeOriginal ``when`` (a string, may be broken)."""
    exif = Image.Exif()
    if gps is not None:
        exif[ExifTags.IFD.GPSInfo] = gps
    if when is not None:
        exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: when}
    Image.new("RGB", (64, 48), (90, 140, 210)).save(path, exif=exif)
    return path


OSLO_GPS = {1: "N", 2: (59.0, 54.0, 36.0), 3: "E", 4: (10.0, 45.0, 0.0)}


def test_rank_percentile_and_credibility_by_hand():
    logits = torch.tensor([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]])
    scores = rank_claims(logits, torch.tensor([1.5, 3.0]))
    z = math.exp(2) + math.exp(1) + math.exp(0) + math.exp(1.5)
    assert scores.rank.tolist() == [2, 1] and scores.alternatives == 3
    assert scores.percentile[0] == pytest.approx(200 / 3) and scores.percentile[1] == 100
    assert scores.credibility[0] == pytest.approx(1 - math.exp(2) / z)
    assert scores.credibility[1] == pytest.approx(1.0)


def test_batched_scores_agree_with_one_at_a_time(toy_world):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    gallery = toy_world["gallery"]
    batch = score_claims(predictor, gallery.embeddings[:6], gallery.latlon[:6], gallery.times[:6])
    confidence = predictor.place_confidence(gallery.embeddings[:6])
    assert torch.allclose(batch["place"].confidence, confidence)
    for i in range(6):
        month, day, hour, minute, _ = (int(v) for v in gallery.times[i])
        lat, lon = gallery.latlon[i].tolist()
        claim = Claim(lat=lat, lon=lon, time=datetime(2001, month, day, hour, minute))
        single = verify_features(predictor, gallery.features[i], claim)
        for rank in single.ranks:
            assert rank.rank == int(batch[rank.kind].rank[i])
            assert rank.credibility == pytest.approx(float(batch[rank.kind].credibility[i]), abs=1e-5)
        place = single.rank("place")
        best = single.guess.place_topk[0, 0]
        assert place.distance_km == pytest.approx(float(haversine_km(torch.tensor([lat, lon]), best)), abs=0.01)
        assert place.confidence == pytest.approx(float(confidence[i]), abs=1e-5)
    lowest = torch.minimum(
        batch["place"].percentile, torch.minimum(batch["month"].percentile, batch["hour"].percentile)
    )
    assert torch.equal(overall_percentile(batch), lowest)


def rank(kind="place", percentile=50.0, sharpness=0.5, in_domain=True, confidence=None, distance_km=None):
    return ClaimRank(kind, "x", 0.1, 3, 10, percentile, 0.5, sharpness, in_domain, None, confidence, distance_km)


@pytest.mark.parametrize(("percentile", "verdict"), [(25.0, CONSISTENT), (12.0, DOUBTFUL), (9.9, INCONSISTENT)])
def test_a_part_reads_its_percentile(percentile, verdict):
    assert rank_verdict(rank(percentile=percentile)) == verdict
    assert rank_verdict(rank("time", percentile)) is None  # the joint time rank is shown only


def test_a_sure_model_calls_a_place_on_another_continent_inconsistent():
    sure, unsure = SURE_MASS + 0.01, SURE_MASS - 0.01
    # The percentile alone (80 %) would say consistent ...
    assert part_verdict("place", 80.0, 0.5) == CONSISTENT
    # ... but the model is sure of a region, and the claim is far outside it.
    assert part_verdict("place", 80.0, 0.5, confidence=sure, distance_km=FAR_KM + 1) == INCONSISTENT
    assert part_verdict("place", 80.0, 0.5, confidence=sure, distance_km=REGION_KM + 1) == DOUBTFUL
    assert part_verdict("place", 80.0, 0.5, confidence=sure, distance_km=REGION_KM - 1) == CONSISTENT
    assert part_verdict("place", 80.0, 0.5, confidence=unsure, distance_km=17_000.0) == CONSISTENT
    # Out of domain or too flat, it still cannot judge.
    assert part_verdict("place", 80.0, 0.5, False, confidence=sure, distance_km=17_000.0) == CANNOT_JUDGE
    assert part_verdict("place", 80.0, 0.0, confidence=sure, distance_km=17_000.0) == CANNOT_JUDGE


def test_the_model_verdict_follows_the_one_rule():
    assert model_verdict([CONSISTENT, CONSISTENT, CONSISTENT]) == CONSISTENT
    assert model_verdict([CONSISTENT, DOUBTFUL]) == CANNOT_JUDGE
    assert model_verdict([CONSISTENT, DOUBTFUL, INCONSISTENT]) == INCONSISTENT
    assert model_verdict([CONSISTENT], in_domain=False) == CANNOT_JUDGE
    assert model_verdict([]) == CANNOT_JUDGE


@pytest.mark.parametrize("in_domain", [True, False, None])
@pytest.mark.parametrize("sharp", [0.0, 0.5])
def test_the_model_verdict_never_contradicts_a_part(in_domain, sharp):
    for place, month, hour in itertools.product((5.0, 15.0, 60.0), repeat=3):
        parts = [
            rank(k, p, sharp, in_domain) for k, p in zip(("place", "month", "hour"), (place, month, hour), strict=True)
        ]
        verdicts = [rank_verdict(r) for r in parts]
        overall = model_verdict(verdicts, in_domain)
        assert overall in VERDICTS
        if overall == CONSISTENT:
            assert all(v == CONSISTENT for v in verdicts)
        if overall == INCONSISTENT:
            assert INCONSISTENT in verdicts
        if in_domain is False:
            assert overall == CANNOT_JUDGE and set(verdicts) == {CANNOT_JUDGE}


def test_a_flat_posterior_cannot_judge():
    assert part_verdict("month", 90.0, 0.2, flat_below=0.3) == CANNOT_JUDGE
    assert part_verdict("month", 90.0, 0.4, flat_below=0.3) == CONSISTENT
    # A run without fitted thresholds judges by the documented defaults.
    below, above = DEFAULT_FLAT_BELOW["month"] / 2, DEFAULT_FLAT_BELOW["month"] * 2
    assert part_verdict("month", 90.0, below) == CANNOT_JUDGE and part_verdict("month", 90.0, above) == CONSISTENT
    assert sharpness(torch.full((1, 12), 1 / 12))[0] == pytest.approx(0.0, abs=1e-6)
    assert sharpness(torch.eye(12)[:1])[0] == pytest.approx(1.0)


def test_batch_verdicts_agree_with_the_model_check(toy_world):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    predictor.temperatures.flat_below = {"place": 0.0, "month": 0.0, "hour": 0.0}
    gallery = toy_world["gallery"]
    latlon = torch.roll(gallery.latlon[:12], 3, dims=0)
    scores = score_claims(predictor, gallery.embeddings[:12], latlon, gallery.times[:12])
    batch = model_verdicts(scores, None, predictor.temperatures.flat_below)
    for i in range(12):
        month, day, hour, minute, _ = (int(v) for v in gallery.times[i])
        claim = Claim(lat=float(latlon[i, 0]), lon=float(latlon[i, 1]), time=datetime(2001, month, day, hour, minute))
        guess = predictor.predict_embeddings(gallery.embeddings[i : i + 1])
        assert check_model(verify_embedding(predictor, gallery.embeddings[i], claim, guess)).verdict == batch[i]


def test_the_models_own_guess_is_consistent_and_ranks_first(toy_world):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    # The untrained toy model's posteriors are nearly uniform, so the flatness rule abstains ...
    features = toy_world["gallery"].features[3]
    assert check_model(verify_features(predictor, features, Claim(lat=1.0, lon=2.0))).verdict == CANNOT_JUDGE
    # ... this test is about ranks: with no flatness threshold the model's own guess must be consistent.
    predictor.temperatures.flat_below = {"place": 0.0, "month": 0.0, "hour": 0.0}
    guess = predictor.predict(features[None], top_k=1)
    lat, lon = guess.place_topk[0, 0].tolist()
    month = int(guess.month_posterior[0].argmax()) + 1
    hour = int(guess.hour_posterior[0].argmax())
    t = guess.time_topk[0, 0]
    claim = Claim(lat=lat, lon=lon, time=datetime(2001, int(t[0]), int(t[1]), int(t[2]), int(t[3])))
    result = verify_features(predictor, features, claim)
    assert [r.kind for r in result.ranks] == ["place", "time", "month", "hour"]
    assert result.rank("place").rank == 1 and result.rank("place").credibility == pytest.approx(1.0)
    assert result.rank("place").distance_km == pytest.approx(0.0, abs=1e-3)
    check = check_model(result)
    assert result.rank("time").rank == 1 and check.verdict == CONSISTENT
    assert check.figures["best_guess"]["lat"] == pytest.approx(lat) and "best guess: near" in check.reason
    marginal = verify_features(predictor, features, Claim(time=datetime(2001, month, 10, hour, 0)))
    assert marginal.rank("month").rank == 1 and marginal.rank("hour").rank == 1
    assert marginal.rank("place") is None


def test_nothing_claimed_cannot_be_judged_and_says_why():
    check = check_model(None, "EXIF GPS: absent; EXIF time: absent")
    assert (check.verdict, check.reason) == (CANNOT_JUDGE, "EXIF GPS: absent; EXIF time: absent")


class CountingBackbone(ToyBackbone):
    """The toy backbone, counting the pictures it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.pictures = 0

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        self.pictures += len(batch)
        return super().encode_images(batch)


def test_analyze_photo_encodes_the_photo_once_and_agrees_with_predict_and_verify(toy_world, tmp_path):
    path = photo_with_exif(tmp_path / "oslo.jpg", OSLO_GPS, "2023:01:15 16:30:00")
    backbone = CountingBackbone()
    predictor = Predictor(toy_world["model"], gps_gallery=toy_world["gallery"].latlon, backbone=backbone)
    head_calls = []
    hook = predictor.model.image_encoder.register_forward_hook(lambda *_: head_calls.append(1))
    try:
        analysis = analyze_photo(predictor, path, top_k=3)
    finally:
        hook.remove()
    assert backbone.pictures == 1 and len(head_calls) == 1  # the backbone and the image head, once each
    assert analysis.image.size == (64, 48) and analysis.claim.source["place"] == "EXIF GPS"
    features = image_features(ToyBackbone(), [load_image(path)])
    expected = predictor.predict(features, top_k=3)
    assert torch.equal(analysis.prediction.place_topk, expected.place_topk)
    assert torch.allclose(analysis.prediction.month_posterior, expected.month_posterior, atol=1e-6)
    separately = verify_features(predictor, features[0], analysis.claim, top_k=3)
    assert [(r.kind, r.rank, r.percentile) for r in analysis.verification.ranks] == [
        (r.kind, r.rank, r.percentile) for r in separately.ranks
    ]
    assert analysis.verification.guess.place_topk.shape == (1, 3, 2)


def test_analyze_photo_with_a_given_claim_or_a_pil_image(toy_world, tmp_path):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    path = photo_with_exif(tmp_path / "oslo.jpg", OSLO_GPS, "2023:01:15 16:30:00")
    given = analyze_photo(predictor, path, Claim(lat=-33.87, lon=151.21, source={"place": "given"}))
    assert [r.kind for r in given.verification.ranks] == ["place"]
    from_image = analyze_photo(predictor, load_image(path))
    assert from_image.verification is None
    assert from_image.claim.problems == ["EXIF: not read (the photo was given as an image, not a file)"]
    assert torch.equal(from_image.embedding, given.embedding)
    from_file = analyze_photo(predictor, path)  # the claim read from the file's EXIF
    by_hand = verify_features(predictor, image_features(ToyBackbone(), [load_image(path)])[0], claim_from_exif(path))
    assert [(r.kind, r.rank, r.percentile) for r in from_file.verification.ranks] == [
        (r.kind, r.rank, r.percentile) for r in by_hand.ranks
    ]


def test_verify_photos_batches_the_model_and_matches_one_photo_at_a_time(toy_world, tmp_path):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    predictor.temperatures.flat_below = {"place": 0.0, "month": 0.0, "hour": 0.0}
    photos = [photo_with_exif(tmp_path / f"{i}.jpg", OSLO_GPS, f"2023:0{i + 1}:15 1{i}:30:00") for i in range(5)]
    batched = list(verify_photos(photos, predictor=predictor, chunk=2))
    singles = [next(verify_photos([p], predictor=predictor)) for p in photos]
    assert [v.path for v in batched] == [str(p) for p in photos]
    for a, b in zip(batched, singles, strict=True):
        assert [(c.name, c.verdict, c.reason) for c in a.checks] == [(c.name, c.verdict, c.reason) for c in b.checks]
        assert [r.rank for r in a.model.verification.ranks] == [r.rank for r in b.model.verification.ranks]


def test_verify_photos_without_a_claim_or_a_picture_says_why(toy_world, tmp_path):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    bare = tmp_path / "bare.png"
    Image.new("RGB", (40, 30), (10, 20, 30)).save(bare)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    plain, broken = verify_photos([bare, junk], predictor=predictor)
    assert plain.word == CANNOT_JUDGE and plain.check("model").reason.startswith("EXIF GPS: no GPS position")
    assert broken.word == "error" and "not an image" in broken.error and broken.claim is None


@pytest.mark.slow
def test_a_webcam_model_no_longer_passes_a_claim_on_the_other_side_of_the_world(webcam_run):
    """Trained on two fixed webcams (Oslo, Paris), the model is sure where its pictures come from. Claims 15,000 km
    and more away still beat a quarter of the gallery's places (the old rule called them consistent); the place
    rule now calls every one inconsistent, and the true places stay consistent."""
    predictor = Predictor.from_pretrained(webcam_run["run"], backbone=ToyBackbone())
    features = image_features(ToyBackbone(), [load_image(p) for p in webcam_run["paths"][:8]])
    far = [(-41.29, 174.78), (-33.87, 151.21), (-36.85, 174.76), (-45.87, 170.50), (-38.0, 145.0), (-43.5, 172.6)]
    old_rule_consistent = 0
    for f in features:
        truth = verify_features(predictor, f, Claim(lat=WEBCAMS[0][0], lon=WEBCAMS[0][1]))
        best = truth.guess.place_topk[0, 0]
        home = min(WEBCAMS, key=lambda c: float(haversine_km(torch.tensor(c), best)))
        own = verify_features(predictor, f, Claim(lat=home[0], lon=home[1])).rank("place")
        assert own.confidence >= SURE_MASS and rank_verdict(own) == CONSISTENT
        for lat, lon in far:
            place = verify_features(predictor, f, Claim(lat=lat, lon=lon)).rank("place")
            assert place.distance_km > 15_000
            old_rule_consistent += place.percentile >= 25.0
            assert rank_verdict(place) == INCONSISTENT, (lat, lon, place)
    assert old_rule_consistent >= 10  # of 48: the percentile alone passed these
