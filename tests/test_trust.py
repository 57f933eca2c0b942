"""How far to trust an answer: calibrated temperatures, the domain check, the model card, and one
best answer (with its read-out named) from predict, verify and the web page."""

from __future__ import annotations

import calendar
import csv
import json
import math
import re
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fastapi.testclient import TestClient
from PIL import Image

from gtloc.data.claims import Claim
from gtloc.data.schema import load_records
from gtloc.errors import GtlocError
from gtloc.evidence.model import rank_verdict
from gtloc.geo import haversine_km
from gtloc.inference.predictor import Predictor
from gtloc.inference.verify import score_claims, verify_features
from gtloc.model.calibration import (
    DEFAULT_FLAT_BELOW,
    DEFAULT_INCONSISTENT_BELOW,
    FALSE_ALARM_SHARE,
    FLAT_SHARE,
    MAX_INCONSISTENT_BELOW,
    PLACE_COVERAGE,
    Temperatures,
)
from gtloc.model.card import ModelCard, run_card
from gtloc.model.domain import GROUP_IN_DOMAIN_AT, IN_DOMAIN_AT, DomainProfile
from gtloc.model.readouts import DEFAULT_READOUT, READOUT_POSTERIOR, READOUTS
from gtloc.retrieval.galleries import time_grid
from gtloc.retrieval.neighbours import NEIGHBOURS_FILE, NeighbourStore
from gtloc.retrieval.place_answer import fit_radius_mass
from gtloc.retrieval.posterior import fit_temperature, sharpness, time_answer_loss
from gtloc.retrieval.time_posterior import TimeGallery, fit_window_mass
from gtloc.timecode import HOUR_PERIOD, MONTH_PERIOD, cyclic_difference, hour_fraction, protocol_month_value
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.data import load_training_data
from gtloc.training.held_out import LOCATION_WEIGHTS
from gtloc.training.loop import train
from gtloc.training.validation import validation_rows
from gtloc.web.app import create_app_from_checkpoint
from helpers.cli import run_cli
from helpers.frozen import copy_run
from helpers.toydata import ToyBackbone, register_backbone


def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with():
    """Labels drawn from softmax(z / 3): the shown probabilities are right at T = 3, so the fit finds it."""
    gen = torch.Generator().manual_seed(0)
    gallery = time_grid(days_step=30, minutes_step=60)
    logits = 4.0 * torch.randn(3000, len(gallery), generator=gen)
    drawn = torch.multinomial(torch.softmax(logits / 3.0, dim=1), 1, generator=gen)[:, 0]
    cells = TimeGallery(gallery)
    fitted = fit_temperature(lambda t: time_answer_loss(logits, cells, gallery[drawn], t))
    assert fitted == pytest.approx(3.0, rel=0.15)
    assert time_answer_loss(logits, cells, gallery[drawn], fitted) < time_answer_loss(
        logits, cells, gallery[drawn], 1.0
    )


def test_the_temperature_is_fitted_to_the_mixed_posterior_that_is_shown():
    """Labels drawn from 0.5 * softmax(z / 3) + 0.5 * kNN: fitting the mix finds a temperature near 3, and the
    neighbours' part alone (weight 0) leaves nothing for the temperature to change."""
    gen = torch.Generator().manual_seed(1)
    gallery = time_grid(days_step=30, minutes_step=60)
    logits = 4.0 * torch.randn(4000, len(gallery), generator=gen)
    knn = torch.softmax(2.0 * torch.randn(4000, len(gallery), generator=gen), dim=1)
    shown = 0.5 * torch.softmax(logits / 3.0, dim=1) + 0.5 * knn
    truth = gallery[torch.multinomial(shown, 1, generator=gen)[:, 0]]
    cells = TimeGallery(gallery)
    fitted = fit_temperature(lambda t: time_answer_loss(logits, cells, truth, t, knn, 0.5))
    assert fitted == pytest.approx(3.0, rel=0.2)
    alone = fit_temperature(lambda t: time_answer_loss(logits, cells, truth, t))
    assert abs(alone - 3.0) > abs(fitted - 3.0)  # ignoring the kNN part fits another temperature
    assert time_answer_loss(logits, cells, truth, 0.5, knn, 0.0) == time_answer_loss(
        logits, cells, truth, 5.0, knn, 0.0
    )


def test_the_domain_score_separates_typical_pictures_from_foreign_ones(tmp_path):
    gen = torch.Generator().manual_seed(0)
    centre = F.normalize(torch.randn(32, generator=gen), dim=0)

    def cloud(n, around):
        return F.normalize(around + 0.15 * torch.randn(n, 32, generator=gen), dim=1)

    profile = DomainProfile.build(cloud(400, centre), cloud(200, centre))
    typical, foreign = profile.score(cloud(300, centre)), profile.score(cloud(50, -centre))
    assert profile.in_domain(typical).float().mean() >= 0.95
    assert not profile.in_domain(foreign).any() and float(foreign.max()) == 0.0
    assert 35 < float(typical.median()) < 65  # a typical picture sits in the middle of the held-out ones
    profile.save(tmp_path)
    again = DomainProfile.load(tmp_path)
    probe = cloud(20, centre)
    assert torch.equal(again.score(probe), profile.score(probe)) and again.threshold == profile.threshold
    assert DomainProfile.load(tmp_path / "nothing") is None


def test_a_domain_profile_calibrated_on_groups_keeps_a_new_camera_of_the_same_kind_in_domain():
    """Eight 'cameras', each a tight cloud of near-duplicate frames around its own scene. Frames held out at random
    sit next to their own camera's frames, so a new camera is out of domain; distances between groups put a new
    camera of the same kind in domain, and pictures of another kind still out."""
    gen = torch.Generator().manual_seed(3)
    kind = F.normalize(torch.randn(64, generator=gen), dim=0)

    def camera(n):
        scene = F.normalize(kind + 0.1 * torch.randn(64, generator=gen), dim=0)
        return F.normalize(scene + 0.01 * torch.randn(n, 64, generator=gen), dim=1)

    frames = torch.cat([camera(30) for _ in range(8)])
    groups = [f"cam{i // 30}" for i in range(len(frames))]
    held = torch.randperm(len(frames), generator=gen)[:40]
    new_camera = torch.cat([camera(30) for _ in range(4)])
    by_frames = DomainProfile.build(frames, frames[held])
    by_groups = DomainProfile.build(frames, groups=groups)
    assert by_frames.in_domain(by_frames.score(new_camera)).float().mean() < 0.1
    assert by_groups.in_domain(by_groups.score(new_camera)).float().mean() > 0.9
    foreign = F.normalize(-kind + 0.1 * torch.randn(20, 64, generator=gen), dim=1)
    assert not by_groups.in_domain(by_groups.score(foreign)).any()
    assert len(by_groups.typical) == len(frames)  # one distance to another camera per kept frame
    assert by_groups.threshold == GROUP_IN_DOMAIN_AT and by_frames.threshold == IN_DOMAIN_AT
    assert torch.equal(
        DomainProfile.build(frames, groups=["one"] * len(frames)).typical, DomainProfile.build(frames).typical
    )


@pytest.fixture(scope="module")
def trained_run(toy_run):
    """The shared toy run (trained on the 160-picture toy world with a quarter held out), with its training data."""
    return {**toy_run, "data": load_training_data(toy_run["features"], toy_run["records"])}


def test_training_writes_the_model_card_temperatures_and_domain_profile(trained_run, monkeypatch, capsys):
    run = trained_run["run"]
    card = ModelCard.load(run)
    assert card.source == "trained" and card.backbone == ToyBackbone.name and card.readout == "mix"
    data = card.training_data
    assert data.records == "records.csv" and data.pictures == 120 and len(data.records_sha256) == 64
    assert data.domain == "real photos" and data.world_seed is None  # a toy records file, no world.json beside it
    assert card.validation["pictures"] == 40 and {"month_error", "hour_error", "median_km"} <= set(card.validation)
    temperatures = Temperatures.load(run)
    assert temperatures.fitted_on == 40 and temperatures.place > 0 and temperatures.time > 0
    assert card.calibration == {
        "place": temperatures.place,
        "time": temperatures.time,
        "location_weight": temperatures.location_weight,
    }
    for posterior in ("place", "time"):
        nll = temperatures.held_out_loss[posterior]
        assert nll["after"] <= nll["before"] + 1e-9, posterior
    given = temperatures.held_out_loss["given_location"]
    assert set(given) == {f"{w:g}" for w in LOCATION_WEIGHTS}
    assert temperatures.location_weight == min(LOCATION_WEIGHTS, key=lambda w: (given[f"{w:g}"], w))
    profile = DomainProfile.load(run)
    assert len(profile.reference) == 120 and len(profile.typical) == 40
    assert card.domain_check["reference"] == 120 and card.domain_check["threshold"] == profile.threshold

    code, out, _ = run_cli(monkeypatch, capsys, "info", run)
    assert code == 0 and "training data:   120 real photos" in out and "calibration:     place T=" in out
    assert "location weight" in out
    code, out, _ = run_cli(monkeypatch, capsys, "info", run, "--json")
    assert code == 0 and json.loads(out)["validation"]["pictures"] == 40


def test_the_location_weight_decides_how_much_a_known_place_moves_the_time(trained_run):
    """Weight 0 ignores the place (the image's own answer); weight 1 is the plain product, which moves it."""
    run, data = trained_run["run"], trained_run["data"]
    fitted = Temperatures.load(run)
    answers = {}
    for weight in (0.0, 1.0):
        temperatures = replace(fitted, location_weight=weight)
        predictor = Predictor.from_pretrained(run, temperatures=temperatures)
        given = predictor.predict_time_given_location(data.features, data.latlon)
        answers[weight] = given.month_posterior
        if weight == 0.0:
            alone = predictor.predict(data.features, where=False)
            assert torch.allclose(given.month_posterior, alone.month_posterior, atol=1e-6)
            assert torch.equal(given.time_bayes, alone.time_bayes)
    assert not torch.allclose(answers[0.0], answers[1.0], atol=1e-4)


def test_the_radius_level_is_fitted_on_the_held_out_pictures_and_predict_states_it(trained_run):
    """The held-out fit and predict share the best place (the top place after merging near-duplicates); the
    radius's mass level is the split-conformal one of the held-out pictures, so their truths lie inside their
    radii at least as often as stated; the model card's validation scores that best place."""
    run, held = trained_run["run"], held_out(trained_run)
    fitted = Temperatures.load(run)
    predictor = Predictor.from_pretrained(run)
    gallery = predictor.gps_gallery
    logits = predictor.scale("img_gps_logit_scale") * predictor.encode_images(held.features) @ gallery.embeddings.T
    level, best = fit_radius_mass(logits, gallery.labels, held.latlon, PLACE_COVERAGE)
    assert fitted.place_mass == pytest.approx(level, abs=1e-4) and fitted.place_coverage == PLACE_COVERAGE
    pred = predictor.predict(held.features, top_k=3)
    assert torch.allclose(pred.latlon, best.float()) and pred.place_coverage == PLACE_COVERAGE
    errors = haversine_km(pred.latlon.double(), held.latlon.double())
    assert float((errors <= pred.place_radius_km.double()).float().mean()) >= PLACE_COVERAGE
    assert ModelCard.load(run).validation["median_km"] == pytest.approx(float(np.median(errors.numpy())), rel=1e-3)
    # The hour window likewise: its mass level is the held-out one, and predict states its coverage.
    shown = predictor.predict(held.features, top_k=1, where=False)
    expected = fit_window_mass(
        shown.hour_posterior, shown.best_time[:, 2].long(), held.times[:, 2].long(), fitted.hour_coverage
    )
    assert fitted.hour_mass == pytest.approx(expected, abs=1e-4) and shown.hour_window_mass == fitted.hour_mass
    first, hours, stated = shown.hour_window()
    assert (stated == fitted.hour_coverage).all()
    inside = (held.times[:, 2].long() - first) % 24 < hours
    assert float(inside.float().mean()) >= fitted.hour_coverage


def test_calibration_keeps_its_galleries_in_the_run_only_when_asked(trained_run, tmp_path):
    """A run keeps the galleries it encoded to calibrate (predict reuses them); cache_galleries=False keeps none."""
    assert len(list((trained_run["run"] / "galleries").glob("gps-*.safetensors"))) == 1
    model = small_model_config(encoder_hidden_dim=32, image_hidden_dim=32, embed_dim=32, queue_size=64, rff_dim=16)
    config = TrainConfig(epochs=1, batch_size=32, warmup_steps=1, val_split=0.25, model=model)
    heard: list[str] = []
    train(trained_run["data"], tmp_path / "run", config, progress=False, cache_galleries=False, log=heard.append)
    assert Temperatures.load(tmp_path / "run").fitted_on == 40 and not (tmp_path / "run" / "galleries").exists()
    assert heard[0] == "calibrating on the 40 held-out pictures"
    assert "encoding the 100,000-place GPS gallery once" in heard


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"place": "hot", "time": 1.0}', "place must be a finite number > 0, got 'hot'"),
        ('{"place": 1.0, "time": Infinity}', "time must be a finite number > 0, got inf"),
        ('{"place": 1.0, "time": 1.0, "location_weight": 2}', "location_weight must be a number in [0, 1], got 2"),
        ('{"place": 1.0, "time": 1.0, "location_weight": true}', "location_weight must be a number in [0, 1]"),
        ("[1, 2]", "not a gtloc calibration file"),
        ('{"place": 1.0, "time": 1.0, "flat_below": 0.1}', "flat_below must be an object of place, month, hour"),
        ('{"place": 1.0, "time": 1.0, "flat_below": {"place": 0.1}}', "flat_below must be an object of place, mon"),
        (
            '{"place": 1.0, "time": 1.0, "flat_below": {"place": 0.1, "month": 2, "hour": 0.1}}',
            "flat_below.month must be a number in [0, 1], got 2",
        ),
        (
            '{"place": 1.0, "time": 1.0, "flat_below": {"place": 0.1, "month": 0.1, "hour": NaN}}',
            "flat_below.hour must be a number in [0, 1], got nan",
        ),
        (
            '{"place": 1.0, "time": 1.0, "inconsistent_below": {"place": 10, "month": 101, "hour": 0}}',
            "inconsistent_below.month must be a number in [0, 100], got 101",
        ),
        ('{"place": 1.0, "time": 1.0, "inconsistent_below": [10]}', "inconsistent_below must be an object of place"),
        ('{"place": 1.0, "tme": 1.0}', "not a gtloc calibration file"),
        ('{"place": 1.0, "time": 1.0, "mix_weights": {"month": 0.9}}', "mix_weights must be null or an object of m"),
        ('{"place": 1.0, "time": 1.0, "mix_weights": 0.5}', "mix_weights must be null or an object of month and"),
        (
            '{"place": 1.0, "time": 1.0, "mix_weights": {"month": 0.9, "hour": 1.5}}',
            "mix_weights.hour must be a number in [0, 1], got 1.5",
        ),
    ],
)
def test_a_damaged_calibration_file_is_one_clear_error(tmp_path, text, message):
    (tmp_path / "calibration.json").write_text(text)
    with pytest.raises(GtlocError, match=re.escape(message)):
        Temperatures.load(tmp_path)
    (tmp_path / "calibration.json").write_text('{"place": 2.0, "time": 0.5}')  # written before location_weight
    old = Temperatures.load(tmp_path)  # ... and before the verify thresholds: the documented defaults
    assert old.location_weight == 1.0 and old.flat_below == DEFAULT_FLAT_BELOW
    assert old.inconsistent_below == DEFAULT_INCONSISTENT_BELOW


def test_a_generated_world_is_named_with_its_seed(trained_run, tmp_path):
    records = tmp_path / "records.csv"
    records.write_text(trained_run["records"].read_text())
    (tmp_path / "world.json").write_text(json.dumps({"seed": 7}))
    source = load_training_data(trained_run["features"], records).source
    assert source.world_seed == 7 and source.generated
    card = ModelCard(training_data=run_card(trained_run["run"]).training_data)
    card.training_data.domain, card.training_data.world_seed = "generated", 7
    assert "generated pictures (synthetic world, seed 7); it has never seen a real photo" in card.summary()


def test_a_run_without_a_card_says_so_and_a_folder_without_a_model_is_an_error(
    toy_world, tmp_path, monkeypatch, capsys
):
    assert "no model card" in run_card(toy_world["run"]).training_data.phrase()
    code, _, err = run_cli(monkeypatch, capsys, "info", tmp_path)
    assert code == 2 and "is not a gtloc run directory" in err


def test_predictions_use_the_temperatures_and_carry_the_domain_check(trained_run, tmp_path, monkeypatch, capsys):
    run = trained_run["run"]
    predictor = Predictor.from_pretrained(run, readout="argmax")  # the gallery posterior alone, no kNN part
    raw = Predictor.from_pretrained(run, readout="argmax", temperatures=Temperatures())
    features = trained_run["data"].features[:8]
    calibrated, plain = predictor.predict(features, top_k=3), raw.predict(features, top_k=3)
    assert torch.equal(calibrated.place_topk, plain.place_topk)  # a temperature never reorders the answers
    expected = torch.softmax(
        predictor.model.scale("img_time_logit_scale").detach()
        / predictor.temperatures.time
        * predictor.encode_images(features)
        @ predictor.time_gallery.embeddings.T,
        dim=1,
    )
    assert torch.allclose(calibrated.time_probs[:, 0], expected.max(dim=1).values, atol=1e-5)
    assert calibrated.domain_score.shape == (8,) and calibrated.in_domain.dtype == torch.bool

    out = tmp_path / "preds.csv"
    args = ["predict", "--checkpoint", run, "--features", trained_run["features"], "--out", out]
    code, printed, _ = run_cli(monkeypatch, capsys, *args)
    assert code == 0 and printed.startswith("model: trained ")
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[7:9] == ["in_domain", "domain_score"]
    assert {r["in_domain"] for r in rows} <= {"true", "false"}
    assert all(0 <= float(r["domain_score"]) <= 100 for r in rows)
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["time_readout"] == "mix" and doc["model"].startswith("model: trained ")
    assert [p["in_domain"] for p in doc["predictions"]] == [r["in_domain"] == "true" for r in rows]


def far_away_profile(run_dir, features):
    """A profile whose typical distances are those of the given pictures to themselves (about 0): any other
    picture is farther than all of them, so it is out of domain (domain_score 0)."""
    DomainProfile.build(features, features).save(run_dir)


def test_an_out_of_domain_photo_is_flagged_everywhere_and_cannot_be_judged(toy_world, tmp_path, monkeypatch, capsys):
    run = copy_run(toy_world["run"], tmp_path / "run")
    register_backbone(monkeypatch, ToyBackbone())
    far_away_profile(run, toy_world["gallery"].features)
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(photo)

    code, out, _ = run_cli(monkeypatch, capsys, "predict", photo, "--checkpoint", run, "--out", tmp_path / "p.csv")
    assert code == 0 and "OUT OF DOMAIN (domain_score 0.0)" in out and "warning: 1 of 1 pictures are outside" in out
    assert next(csv.DictReader((tmp_path / "p.csv").open()))["in_domain"] == "false"

    args = ["verify", photo, "--checkpoint", run, "--lat", "59.9", "--lon", "10.7", "--time", "2023-01-15 16:30"]
    code, out, _ = run_cli(monkeypatch, capsys, *args, "--json", tmp_path / "v.json")
    data = json.loads((tmp_path / "v.json").read_text())
    assert code == 0 and "verdict: cannot judge" in out and "outside the model's domain" in out
    assert data["verdict"] == "cannot judge" and data["in_domain"] is False and data["domain_score"] == 0.0
    assert {c["verdict"] for c in data["model_parts"]} == {"cannot judge", None}
    assert next(c for c in data["checks"] if c["name"] == "model")["verdict"] == "cannot judge"

    client = TestClient(create_app_from_checkpoint(run))
    page = client.post("/analyze", files={"photo": ("photo.jpg", photo.read_bytes(), "image/jpeg")})
    assert 'id="domain-warning"' in page.text and "outside the model&#39;s domain" in page.text


def test_predict_verify_and_the_web_page_give_one_answer_and_name_its_read_out(
    toy_world, tmp_path, monkeypatch, capsys
):
    run = copy_run(toy_world["run"], tmp_path / "run")
    register_backbone(monkeypatch, ToyBackbone())
    ModelCard(backbone=ToyBackbone.name, readout="bayes").save(run)  # the run's read-out: used everywhere
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (90, 140, 210)).save(photo)

    code, out, _ = run_cli(monkeypatch, capsys, "predict", photo, "--checkpoint", run, "--out", tmp_path / "p.csv")
    row = next(csv.DictReader((tmp_path / "p.csv").open()))
    assert code == 0 and "; read-out bayes)" in out
    place = (float(row["lat"]), float(row["lon"]))
    time = f"{calendar.month_name[int(row['month'])]}, {row['hour_window']}"  # a month and clock hours, no grid day

    args = ["verify", photo, "--checkpoint", run, "--lat", "10", "--lon", "20", "--json", tmp_path / "v.json"]
    code, out, _ = run_cli(monkeypatch, capsys, *args)
    guess = json.loads((tmp_path / "v.json").read_text())["best_guess"]
    assert code == 0 and (guess["time"], guess["readout"]) == (time, "bayes")
    assert (guess["lat"], guess["lon"]) == pytest.approx(place, abs=1e-4)
    assert guess["radius_km"] == pytest.approx(float(row["radius_km"]), abs=0.1) and guess["radius_text"]

    client = TestClient(create_app_from_checkpoint(run))
    data = client.post("/api/analyze", files={"photo": ("photo.jpg", photo.read_bytes(), "image/jpeg")}).json()
    assert data["readout"] == "bayes"
    window = data["best_time_probs"]["hour_window"]  # the month and the hours around the hour predict wrote
    assert data["best_time"] == f"{calendar.month_name[int(row['month'])]}, {row['hour_window']}"
    assert (int(row["hour"]) - window["from"]) % 24 < window["hours"]
    assert (data["places"][0]["lat"], data["places"][0]["lon"]) == pytest.approx(place, abs=1e-4)
    assert math.isclose(sum(c["p"] for r in data["heatmap"] for c in r["cells"]), 1.0, abs_tol=1e-4)


def held_out(trained_run):
    """The held-out rows of ``trained_run`` (its training config's ``val_split`` with the default seed)."""
    data = trained_run["data"]
    return data.subset(validation_rows(len(data), TrainConfig().seed, 0.25, None))


def test_the_read_outs_are_those_of_their_posteriors_computed_directly(trained_run):
    """Each read-out's answer and marginals against the rule written out here: the calibrated gallery softmax, the
    training neighbours' kNN posterior, their mix at n / (n + 250), then the top entry or the month and hour of
    least expected cyclic error."""
    run, features = trained_run["run"], trained_run["data"].features[:24]
    store = NeighbourStore.load(run / NEIGHBOURS_FILE)
    for readout in READOUTS:
        predictor = Predictor.from_pretrained(run, readout=readout)
        pred = predictor.predict(features, top_k=3, where=False)
        labels = predictor.time_gallery.labels
        logits = (
            predictor.scale("img_time_logit_scale")
            * predictor.encode_images(features)
            @ (predictor.time_gallery.embeddings.T)
        )
        gallery, knn = torch.softmax(logits, dim=1), store.time_posterior(features, labels)
        weight = store.n_train / (store.n_train + 250)
        posterior = {"gallery": gallery, "knn": knn, "mix": weight * gallery + (1 - weight) * knn}
        posterior = posterior[READOUT_POSTERIOR[readout]]
        months = torch.zeros(len(features), 12).index_add_(1, labels[:, 0].long() - 1, posterior)
        hours = torch.zeros(len(features), 24).index_add_(1, labels[:, 2].long(), posterior)
        assert torch.allclose(pred.month_posterior, months, atol=1e-6), readout
        assert torch.allclose(pred.hour_posterior, hours, atol=1e-6), readout
        if readout == "argmax":
            assert torch.equal(pred.best_time, labels[posterior.argmax(dim=1)]), readout
            continue
        # The answer's month value and hour value are the candidates of least posterior-weighted cyclic distance.
        month_values, hour_values = protocol_month_value(labels), hour_fraction(labels)
        month_choice, hour_choice = torch.unique(month_values), torch.unique(hour_values)
        month_cost = posterior @ cyclic_difference(month_choice[:, None], month_values[None], MONTH_PERIOD).T
        hour_cost = posterior @ cyclic_difference(hour_choice[:, None], hour_values[None], HOUR_PERIOD).T
        assert torch.equal(protocol_month_value(pred.best_time), month_choice[month_cost.argmin(dim=1)]), readout
        assert torch.equal(hour_fraction(pred.best_time), hour_choice[hour_cost.argmin(dim=1)]), readout


def test_the_heatmap_rows_sum_to_the_printed_month_posterior_in_the_api_and_on_the_web_page(trained_run, monkeypatch):
    """The joint month x hour posterior that is drawn is the one the shown month and hour probabilities come from
    (the default read-out's): its row sums are the month posterior, its column sums the hour posterior."""
    register_backbone(monkeypatch, ToyBackbone())
    run = trained_run["run"]
    photo = trained_run["images"] / load_records(trained_run["records"]).paths[0]
    predictor = Predictor.from_pretrained(run)
    assert predictor.readout == DEFAULT_READOUT and predictor.time_posterior == "mix"
    pred = predictor.predict_image(photo)
    joint = pred.month_hour_posterior
    assert joint.shape == (1, 12, 24) and float(joint.sum()) == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(joint.sum(dim=2), pred.month_posterior, atol=1e-6)
    assert torch.allclose(joint.sum(dim=1), pred.hour_posterior, atol=1e-6)
    gallery_only = predictor.month_hour_posterior(predictor.encode_images(predictor.photo_features([photo])))
    assert not torch.allclose(joint, gallery_only, atol=1e-3)  # the mix differs from the gallery posterior here

    client = TestClient(create_app_from_checkpoint(run))
    data = client.post("/api/analyze", files={"photo": ("photo.png", photo.read_bytes(), "image/png")}).json()
    rows = torch.tensor([[cell["p"] for cell in row["cells"]] for row in data["heatmap"]], dtype=torch.float64)
    assert torch.allclose(rows.sum(dim=1), pred.month_posterior[0].double(), atol=1e-6)
    month, hour = int(pred.best_time[0, 0]), int(pred.best_time[0, 2])
    assert data["best_time_probs"]["month"] == pytest.approx(float(rows[month - 1].sum()), abs=1e-6)
    assert data["best_time_probs"]["hour"] == pytest.approx(float(rows[:, hour].sum()), abs=1e-6)


def test_the_verify_thresholds_are_fitted_on_the_held_out_pictures_and_used_by_verify(trained_run):
    """About the flattest 5 % of the held-out month and hour posteriors and 1 % of the place posteriors fall below
    the fitted thresholds; verify judges each check of a claim by the run's own."""
    run, held = trained_run["run"], held_out(trained_run)
    fitted = Temperatures.load(run).flat_below
    assert fitted != DEFAULT_FLAT_BELOW
    predictor = Predictor.from_pretrained(run)
    pred = predictor.predict(held.features, top_k=1, where=False)
    for kind, marginal in (("month", pred.month_posterior), ("hour", pred.hour_posterior)):
        expected = float(torch.quantile(sharpness(marginal).double(), FLAT_SHARE[kind]))
        assert fitted[kind] == pytest.approx(expected, rel=1e-3), kind
    logits = (
        predictor.scale("img_gps_logit_scale")
        * predictor.encode_images(held.features)
        @ (predictor.gps_gallery.embeddings.T)
    )
    place = float(torch.quantile(sharpness(torch.softmax(logits, dim=1)).double(), FLAT_SHARE["place"]))
    assert fitted["place"] == pytest.approx(place, abs=1e-6)  # the untrained toy's place posteriors: near uniform

    claim = Claim(lat=10.0, lon=20.0, time=datetime(2001, 3, 4, 10, 0))
    ranks = verify_features(predictor, held.features[0], claim).ranks
    assert {r.kind: r.flat_below for r in ranks} == {
        "place": fitted["place"],
        "time": None,
        **{kind: fitted[kind] for kind in ("month", "hour")},
    }
    strict = Predictor.from_pretrained(
        run, temperatures=replace(predictor.temperatures, flat_below=dict.fromkeys(("place", "month", "hour"), 1.0))
    )
    strict_ranks = verify_features(strict, held.features[0], claim).ranks
    assert {rank_verdict(r) for r in strict_ranks} == {"cannot judge", None}


def test_the_inconsistent_thresholds_let_at_most_half_a_percent_of_held_out_true_claims_below(trained_run):
    """Each part's fitted threshold, against the held-out pictures' own claims ranked by verify itself: of the R
    judged ones at most floor(0.005 (R + 1)) - 1 fall below it (of 40: none), and it is the largest such (the cap,
    or a held-out claim's own percentile); verify judges each part by the run's own."""
    run, held = trained_run["run"], held_out(trained_run)
    calibration = Temperatures.load(run)
    predictor = Predictor.from_pretrained(run)
    embeddings = predictor.encode_images(held.features)
    guess = predictor.predict_embeddings(embeddings, top_k=1, features=held.features)  # verify's: with the kNN mix
    scores = score_claims(predictor, embeddings, held.latlon, held.times, guess)
    for kind in ("place", "month", "hour"):
        threshold = calibration.inconsistent_below[kind]
        judged = scores[kind].percentile[scores[kind].sharpness >= calibration.flat_below[kind]]
        allowed = max(0, int(FALSE_ALARM_SHARE * (len(judged) + 1)) - 1)
        assert len(judged) >= 10 and int((judged < threshold).sum()) <= allowed, kind
        assert threshold == MAX_INCONSISTENT_BELOW or int((judged <= threshold).sum()) > allowed, kind
    claim = Claim(lat=10.0, lon=20.0, time=datetime(2001, 3, 4, 10, 0))
    ranks = verify_features(predictor, held.features[0], claim).ranks
    assert {r.kind: r.inconsistent_below for r in ranks} == {**calibration.inconsistent_below, "time": None}
