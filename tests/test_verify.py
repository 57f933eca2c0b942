"""Metadata verification: claims from EXIF or the user, ranked against the GPS/time galleries, with a verdict."""

from __future__ import annotations

import itertools
import json
import math
from datetime import datetime

import pytest
import torch
from PIL import ExifTags, Image

from gtloc.backbones.extract import image_features
from gtloc.data.images import load_image
from gtloc.errors import GtlocError, ParameterError
from gtloc.inference.predictor import Predictor
from gtloc.inference.verify import (
    VERDICTS,
    Check,
    Claim,
    Verification,
    analyze_photo,
    check_verdict,
    claim_from_exif,
    overall_percentile,
    overall_verdict,
    parse_claim_time,
    rank_claims,
    score_claims,
    sharpness,
    verification_dict,
    verification_text,
    verify_features,
    verify_photo,
)
from gtloc.model.calibration import DEFAULT_FLAT_BELOW
from helpers.cli import run_cli
from helpers.toydata import ToyBackbone, register_backbone
from helpers.world import tiny_predictor


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-01-15 16:30", datetime(2023, 1, 15, 16, 30)),
        ("2023:01:15 16:30:05", datetime(2023, 1, 15, 16, 30, 5)),
        ("2023-01-15T16:30", datetime(2023, 1, 15, 16, 30)),
        ("07-04 09:05", datetime(2001, 7, 4, 9, 5)),
    ],
)
def test_claim_times(text, expected):
    assert parse_claim_time(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2023-02-30 10:00", "2023-01-15 25:00"])
def test_bad_claim_times_are_explained(text):
    with pytest.raises(GtlocError, match="cannot read the time"):
        parse_claim_time(text)


def test_claims_come_from_exif_unless_given(tmp_path):
    path = photo_with_exif(tmp_path / "oslo.jpg", OSLO_GPS, "2023:01:15 16:30:00")
    claim = claim_from_exif(path)
    assert (claim.lat, claim.lon) == pytest.approx((59.91, 10.75))
    assert claim.time == datetime(2023, 1, 15, 16, 30)
    assert claim.source == {"place": "EXIF GPS", "time": "EXIF DateTimeOriginal"}
    given = claim_from_exif(path, lat=-33.9, lon=151.2)
    assert given.source["place"] == "given" and given.source["time"] == "EXIF DateTimeOriginal"


def test_broken_exif_gives_reasons_not_a_crash(tmp_path):
    path = photo_with_exif(tmp_path / "broken.jpg", OSLO_GPS, "2023:13:45 99:30:00")
    claim = claim_from_exif(path)
    assert claim.has_place and not claim.has_time
    assert claim.problems == [
        "EXIF time: DateTimeOriginal '2023:13:45 99:30:00' is not a valid date and time (month must be in 1..12)"
    ]
    with pytest.raises(ParameterError, match=r"^give both lat and lon \(or neither\)$") as info:
        claim_from_exif(path, lat=1.0)
    assert info.value.parameters == ("lat", "lon")


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
    for i in range(6):
        month, day, hour, minute, _ = (int(v) for v in gallery.times[i])
        lat, lon = gallery.latlon[i].tolist()
        claim = Claim(lat=lat, lon=lon, time=datetime(2001, month, day, hour, minute))
        single = verify_features(predictor, gallery.features[i], claim)
        for check in single.checks:
            assert check.rank == int(batch[check.kind].rank[i])
            assert check.credibility == pytest.approx(float(batch[check.kind].credibility[i]), abs=1e-5)
    overall = overall_percentile(batch)
    month_hour = torch.minimum(batch["month"].percentile, batch["hour"].percentile)
    lowest = torch.minimum(batch["place"].percentile, month_hour)
    assert torch.equal(overall, lowest)


@pytest.mark.parametrize(("percentile", "verdict"), [(25.0, "consistent"), (12.0, "doubtful"), (9.9, "inconsistent")])
def test_verdicts_read_the_percentile(percentile, verdict):
    assert Check("place", "x", 0.1, 3, 10, percentile, 0.5, 0.5).verdict == verdict


def checks_of(*percentiles, sharpness=0.5, in_domain=True):
    kinds = ("place", "time", "month", "hour")
    return [Check(k, "x", 0.1, 1, 10, p, 1.0, sharpness, in_domain) for k, p in zip(kinds, percentiles, strict=False)]


def test_the_overall_verdict_follows_the_one_rule():
    # the joint time check (second) is a diagnostic: it has no verdict and does not count
    assert Verification(Claim(), checks_of(80, 1), None).verdict == "consistent"
    assert Verification(Claim(), checks_of(80, 1, 12), None).verdict == "cannot judge"  # a doubtful month
    assert Verification(Claim(), checks_of(80, 1, 12, 5), None).verdict == "inconsistent"  # an inconsistent hour
    assert Verification(Claim(), checks_of(80, 90, 30, 40), None).verdict == "consistent"
    assert checks_of(80, 1)[1].verdict is None


@pytest.mark.parametrize("in_domain", [True, False, None])
@pytest.mark.parametrize("sharpness", [0.0, 0.5])
def test_the_overall_verdict_never_contradicts_a_check(in_domain, sharpness):
    for place, month, hour in itertools.product((5.0, 15.0, 60.0), repeat=3):
        checks = checks_of(place, 50.0, month, hour, sharpness=sharpness, in_domain=in_domain)
        verdicts = [c.verdict for c in checks if c.verdict is not None]
        overall = overall_verdict(verdicts, in_domain)
        assert overall in VERDICTS
        if overall == "consistent":
            assert all(v == "consistent" for v in verdicts)
        if overall == "inconsistent":
            assert "inconsistent" in verdicts
        if in_domain is False:
            assert overall == "cannot judge" and set(verdicts) == {"cannot judge"}


def test_a_flat_posterior_cannot_judge():
    assert check_verdict("month", 90.0, 0.2, flat_below=0.3) == "cannot judge"
    assert check_verdict("month", 90.0, 0.4, flat_below=0.3) == "consistent"
    assert Check("month", "x", 0.1, 1, 12, 90.0, 1.0, 0.2, True, 0.3).verdict == "cannot judge"
    # A run without fitted thresholds judges by the documented defaults.
    below, above = DEFAULT_FLAT_BELOW["month"] / 2, DEFAULT_FLAT_BELOW["month"] * 2
    assert check_verdict("month", 90.0, below) == "cannot judge" and check_verdict("month", 90.0, above) == "consistent"
    assert sharpness(torch.full((1, 12), 1 / 12))[0] == pytest.approx(0.0, abs=1e-6)
    assert sharpness(torch.eye(12)[:1])[0] == pytest.approx(1.0)


def test_the_models_own_guess_is_consistent_and_ranks_first(toy_world):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    # The untrained toy model's posteriors are nearly uniform, so the flatness rule abstains ...
    features = toy_world["gallery"].features[3]
    assert verify_features(predictor, features, Claim(lat=1.0, lon=2.0)).verdict == "cannot judge"
    # ... this test is about ranks: with no flatness threshold the model's own guess must be consistent.
    predictor.temperatures.flat_below = {"place": 0.0, "month": 0.0, "hour": 0.0}
    features = toy_world["gallery"].features[3]
    guess = predictor.predict(features[None], top_k=1)
    lat, lon = guess.place_topk[0, 0].tolist()
    month = int(guess.month_posterior[0].argmax()) + 1
    hour = int(guess.hour_posterior[0].argmax())
    t = guess.time_topk[0, 0]
    claim = Claim(lat=lat, lon=lon, time=datetime(2001, int(t[0]), int(t[1]), int(t[2]), int(t[3])))
    result = verify_features(predictor, features, claim)
    assert [c.kind for c in result.checks] == ["place", "time", "month", "hour"]
    assert result.check("place").rank == 1 and result.check("place").credibility == pytest.approx(1.0)
    assert result.check("time").rank == 1 and result.verdict == "consistent"
    month_claim = Claim(time=datetime(2001, month, 10, hour, 0))
    marginal = verify_features(predictor, features, month_claim)
    assert marginal.check("month").rank == 1 and marginal.check("hour").rank == 1
    assert marginal.check("place") is None
    data = verification_dict(result)
    assert data["verdict"] == "consistent" and data["best_guess"]["lat"] == pytest.approx(lat)
    text = verification_text(result)
    assert "verdict: consistent" in text and "model's best guess" in text


def test_nothing_to_verify_says_why(toy_world):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    claim = Claim(problems=["EXIF GPS: no GPS position in EXIF"])
    with pytest.raises(GtlocError, match="no claim to verify \\(EXIF GPS: no GPS position in EXIF\\)"):
        verify_features(predictor, toy_world["gallery"].features[0], claim)


@pytest.fixture
def toy_backbone(monkeypatch):
    register_backbone(monkeypatch, ToyBackbone())


def test_cli_verify_reads_the_exif_claim(toy_world, tmp_path, monkeypatch, capsys, toy_backbone):
    path = photo_with_exif(tmp_path / "oslo.jpg", OSLO_GPS, "2023:01:15 16:30:00")
    code, out, err = run_cli(
        monkeypatch, capsys, "verify", path, "--checkpoint", toy_world["run"], "--json", tmp_path / "v.json"
    )
    assert code == 0, err
    assert "claimed place: 59.9100, 10.7500 (EXIF GPS)" in out
    assert "claimed time:  2023-01-15 16:30:00 (EXIF DateTimeOriginal)" in out
    assert "verdict:" in out
    data = json.loads((tmp_path / "v.json").read_text())
    assert [c["kind"] for c in data["checks"]] == ["place", "time", "month", "hour"]
    # The same checks and verdict as the Python API's on the same photo and checkpoint.
    expected = verification_dict(verify_photo(Predictor.from_pretrained(toy_world["run"]), path))
    # Float noise only: the CLI pins its own thread count, so sums may round differently in the last digits.
    expected_checks = json.loads(json.dumps(expected["checks"]))
    assert len(data["checks"]) == len(expected_checks)
    for got, want in zip(data["checks"], expected_checks, strict=True):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert data["verdict"] == expected["verdict"]


def test_cli_verify_with_given_claims_and_without_any(toy_world, tmp_path, monkeypatch, capsys, toy_backbone):
    photo = toy_world["gallery"].image_path(0)
    code, out, err = run_cli(
        monkeypatch, capsys, "verify", photo, "--checkpoint", toy_world["run"], "--time", "2023-07-01 12:00"
    )
    assert code == 0, err
    assert "given" in out and "not claimed:   EXIF GPS: no GPS position in EXIF" in out
    code, _, err = run_cli(monkeypatch, capsys, "verify", photo, "--checkpoint", toy_world["run"])
    assert code == 2
    assert "no claim to verify" in err and "pass --lat/--lon and/or --time" in err
    code, _, err = run_cli(monkeypatch, capsys, "verify", photo, "--checkpoint", toy_world["run"], "--lat", "10")
    assert (code, err.strip()) == (2, "error: give both --lat and --lon (or neither)")
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    code, _, err = run_cli(monkeypatch, capsys, "verify", tmp_path / "junk.jpg", "--checkpoint", toy_world["run"])
    assert code == 2 and "not an image" in err


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
    assert [(c.kind, c.rank, c.percentile) for c in analysis.verification.checks] == [
        (c.kind, c.rank, c.percentile) for c in separately.checks
    ]
    assert analysis.verification.guess is analysis.prediction


def test_analyze_photo_with_a_given_claim_or_a_pil_image(toy_world, tmp_path):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    path = photo_with_exif(tmp_path / "oslo.jpg", OSLO_GPS, "2023:01:15 16:30:00")
    given = analyze_photo(predictor, path, Claim(lat=-33.87, lon=151.21, source={"place": "given"}))
    assert [c.kind for c in given.verification.checks] == ["place"]
    image = load_image(path)
    from_image = analyze_photo(predictor, image)
    assert from_image.verification is None
    assert from_image.claim.problems == ["EXIF: not read (the photo was given as an image, not a file)"]
    assert torch.equal(from_image.embedding, given.embedding)
    with pytest.raises(GtlocError, match=r"no claim to verify \(EXIF: not read"):
        verify_photo(predictor, image)
    from_file = verify_photo(predictor, path)  # the claim read from the file's EXIF
    by_hand = verify_features(predictor, image_features(ToyBackbone(), [load_image(path)])[0], claim_from_exif(path))
    assert [(c.kind, c.rank, c.percentile) for c in from_file.checks] == [
        (c.kind, c.rank, c.percentile) for c in by_hand.checks
    ]
    assert from_file.verdict == by_hand.verdict


def test_cli_verify_runs_the_backbone_once(toy_world, tmp_path, monkeypatch, capsys):
    backbone = CountingBackbone()
    register_backbone(monkeypatch, backbone)
    path = photo_with_exif(tmp_path / "oslo.jpg", OSLO_GPS, "2023:01:15 16:30:00")
    code, out, err = run_cli(monkeypatch, capsys, "verify", path, "--checkpoint", toy_world["run"])
    assert code == 0, err
    assert backbone.pictures == 1 and "verdict:" in out
