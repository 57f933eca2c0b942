"""Prediction by retrieval: probabilities, ten-crop averaging, marginals, the Bayes read-out, encode-once."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from gtloc.inference.predictor import Predictor
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.galleries import time_grid
from helpers.world import tiny_config

GPS = torch.tensor([[48.85, 2.35], [51.5, -0.12], [-33.87, 151.21], [40.7, -74.0], [35.7, 139.7]])


def tiny_model() -> GTLoc:
    return GTLoc(tiny_config(feature_dim=12)).eval()


def test_topk_probabilities_are_the_softmax_over_the_whole_gallery():
    model = tiny_model()
    predictor = Predictor(model, gps_gallery=GPS, time_gallery=time_grid(30, 180))
    features = torch.randn(3, 12)
    pred = predictor.predict(features, top_k=2)
    with torch.no_grad():
        img = model.encode_image(features)
        full = torch.softmax(model.scale("img_gps_logit_scale") * img @ model.encode_location(GPS).T, dim=1)
    expected, idx = full.topk(2, dim=1)
    assert torch.allclose(pred.place_probs, expected, atol=1e-6)
    assert torch.equal(pred.place_topk, GPS[idx])
    assert torch.allclose(pred.month_posterior.sum(1), torch.ones(3), atol=1e-5)
    assert torch.allclose(pred.hour_posterior.sum(1), torch.ones(3), atol=1e-5)
    assert pred.time_probs[:, 0].ge(pred.time_probs[:, 1]).all()


def test_tencrop_averages_similarities_over_crops():
    model = tiny_model()
    predictor = Predictor(model, gps_gallery=GPS, time_gallery=time_grid(30, 180))
    crops = torch.randn(2, 10, 12)
    pred = predictor.predict(crops, top_k=5)
    with torch.no_grad():
        sims = (model.encode_image(crops) @ predictor.gps_gallery.embeddings.T).mean(1)
    assert torch.equal(pred.place_topk[:, 0], GPS[sims.argmax(1)])


def test_tencrop_probabilities_are_the_softmax_of_the_renormalised_mean_crop_embedding():
    model = tiny_model()
    predictor = Predictor(model, gps_gallery=GPS, time_gallery=time_grid(30, 180))
    crops = torch.randn(2, 10, 12)
    pred = predictor.predict(crops, top_k=5)
    with torch.no_grad():
        query = torch.nn.functional.normalize(model.encode_image(crops).mean(dim=1), dim=-1)
        full = torch.softmax(model.scale("img_gps_logit_scale") * query @ predictor.gps_gallery.embeddings.T, dim=1)
    torch.testing.assert_close(pred.place_probs, full.topk(5, dim=1).values)


def test_galleries_are_encoded_once_not_per_call():
    model = tiny_model()
    calls = {"location": 0}
    original = model.encode_location

    def counting(latlon):
        calls["location"] += 1
        return original(latlon)

    model.encode_location = counting
    predictor = Predictor(model, gps_gallery=GPS, time_gallery=time_grid(30, 180))
    after_build = calls["location"]
    for _ in range(3):
        predictor.predict(torch.randn(4, 12))
    assert calls["location"] == after_build == 1


HOURS = torch.tensor([[1, 1, h, 0, 0] for h in range(24)], dtype=torch.float32)  # one day, on the hour


def queries_with_posterior(predictor: Predictor, posterior: torch.Tensor) -> torch.Tensor:
    """Query embeddings ``(N, 512)`` whose time posterior under ``predictor`` is ``posterior`` ``(N, T)``: the
    logits ``log p`` solved for against the encoded time gallery (T linearly independent entries)."""
    gallery = predictor.time_gallery.embeddings.double()
    with torch.no_grad():
        scale = float(predictor.model.scale("img_time_logit_scale"))
    logits = posterior.double().clamp_min(1e-12).log() / scale
    return (torch.linalg.pinv(gallery) @ logits.T).T.float()


def hour_posterior(weights: dict[int, float]) -> torch.Tensor:
    posterior = torch.zeros(1, 24)
    for hour, p in weights.items():
        posterior[0, hour] = p
    return posterior


def test_bayes_readout_minimises_expected_cyclic_error():
    predictor = Predictor(tiny_model(), gps_gallery=GPS, time_gallery=HOURS)
    # 9:00 is the single most likely hour, but 12:00 is closest to the whole posterior: expected errors
    # 12:00 -> 0.35*3 + 0.325*3 = 2.025 h; 11:00 -> 2.325 h; 13:00 -> 2.375 h; 9:00 -> 2.925 h.
    posterior = hour_posterior({9: 0.35, 12: 0.325, 15: 0.325})
    pred = predictor.predict_embeddings(queries_with_posterior(predictor, posterior), top_k=1, where=False)
    torch.testing.assert_close(pred.hour_posterior, posterior, atol=1e-4, rtol=0)  # the constructed posterior
    assert pred.time[0, 2] == 9  # argmax
    assert pred.time_bayes[0].tolist() == [1, 1, 12, 0, 0]
    # Around midnight the answer wraps: 1:00 costs 0.4*2 + 0.3*1 = 1.1 h, 0:00 1.3 h, 23:00 and 2:00 1.5 h each
    # (a linear mean of the hours would say 10:06).
    posterior = hour_posterior({23: 0.4, 1: 0.3, 2: 0.3})
    pred = predictor.predict_embeddings(queries_with_posterior(predictor, posterior), top_k=1, where=False)
    torch.testing.assert_close(pred.hour_posterior, posterior, atol=1e-4, rtol=0)
    assert pred.time[0, 2] == 23
    assert pred.time_bayes[0].tolist() == [1, 1, 1, 0, 0]


def image_head_answering(model: GTLoc, embedding: torch.Tensor) -> GTLoc:
    """``model`` with an image head that embeds every picture as ``embedding`` ``(512,)``: a picture whose image
    alone cannot tell two answers apart, so that the other half of a composed query has to decide."""
    model.encode_image = lambda features: embedding.expand(*features.shape[:-1], -1).clone()
    return model


def split_pair(answers: torch.Tensor, deciders: torch.Tensor) -> tuple[int, int, int, int]:
    """Answers ``a, b`` (rows of ``answers``) and deciders ``to_a, to_b`` (rows of ``deciders``) with
    ``deciders[to_a] . (answers[a] - answers[b]) > 0 > deciders[to_b] . (answers[a] - answers[b])``, the pair that
    the deciders split most clearly. An image equally close to ``a`` and ``b`` plus ``to_a`` must then answer ``a``
    (and plus ``to_b``, ``b``)."""
    best = (0.0, 0, 0, 0, 0)
    for a, b in itertools.combinations(range(len(answers)), 2):
        lean = deciders @ (answers[a] - answers[b])
        margin = float(torch.minimum(lean.max(), -lean.min()))
        if margin > best[0]:
            best = (margin, a, b, int(lean.argmax()), int(lean.argmin()))
    assert best[0] > 1e-4, "the constructed case needs two answers that the deciders split"
    return best[1:]


def test_time_given_location_lets_the_place_decide_between_two_times():
    model = tiny_model()
    times = time_grid(30, 180)
    with torch.no_grad():
        t, places = model.encode_time(times), model.encode_location(GPS)
    a, b, to_a, to_b = split_pair(t, places)
    model = image_head_answering(model, F.normalize(t[a] + t[b], dim=0))
    predictor = Predictor(model, gps_gallery=GPS, time_gallery=times[[a, b]])
    when = predictor.predict_time_given_location(torch.randn(2, 12), GPS[[to_a, to_b]], top_k=2)
    assert torch.equal(when.time_topk[:, 0], times[[a, b]])
    assert torch.equal(when.time_topk[:, 1], times[[b, a]])


def test_location_given_time_lets_the_time_decide_between_two_places():
    model = tiny_model()
    times = time_grid(30, 180)
    with torch.no_grad():
        t, places = model.encode_time(times), model.encode_location(GPS)
    a, b, at_a, at_b = split_pair(places, t)
    model = image_head_answering(model, F.normalize(places[a] + places[b], dim=0))
    predictor = Predictor(model, gps_gallery=GPS[[a, b]], time_gallery=times)
    where = predictor.predict_location_given_time(torch.randn(2, 12), times[[at_a, at_b]], top_k=2)
    assert torch.equal(where.place_topk[:, 0], GPS[[a, b]])
    assert torch.equal(where.place_topk[:, 1], GPS[[b, a]])


def test_from_pretrained_caches_galleries_in_the_run(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    gallery = tmp_path / "gps.csv"
    gallery.write_text("lat,lon\n" + "\n".join(f"{a},{b}" for a, b in GPS.tolist()))
    model.config.gallery.gps = str(gallery)
    model.save_pretrained(tmp_path)
    predictor = Predictor.from_pretrained(tmp_path)
    assert len(list((tmp_path / "galleries").iterdir())) == 2
    features = torch.randn(2, 12)
    direct = Predictor(model, gps_gallery=GPS, time_gallery=time_grid(30, 60)).predict(features)
    cached = predictor.predict(features)  # the config's galleries (monthly x hourly, tiny_config's), cached
    assert torch.equal(cached.place_topk, direct.place_topk) and torch.equal(cached.time_topk, direct.time_topk)
    again = Predictor.from_pretrained(tmp_path).predict(features)  # read back from the cache
    assert torch.equal(again.place_topk, cached.place_topk) and torch.equal(again.place_probs, cached.place_probs)


def test_month_hour_posterior_is_the_time_posterior_binned_into_month_hour_cells():
    model = tiny_model()
    labels = torch.tensor(
        [[1, 1, 6, 0, 0], [1, 20, 6, 30, 0], [1, 5, 7, 0, 0], [7, 3, 18, 15, 0], [12, 31, 23, 59, 0]],
        dtype=torch.float32,
    )
    predictor = Predictor(model, gps_gallery=GPS, time_gallery=labels)
    queries = predictor.encode_images(torch.randn(3, 12))
    grids = predictor.month_hour_posterior(queries, chunk_size=2)
    with torch.no_grad():
        scale = model.scale("img_time_logit_scale")
        p = torch.softmax(scale * queries @ model.encode_time(labels).T, dim=1)
    expected = torch.zeros(3, 12, 24)
    expected[:, 0, 6] = p[:, 0] + p[:, 1]  # two January 6-7 h entries share a cell
    expected[:, 0, 7] = p[:, 2]
    expected[:, 6, 18] = p[:, 3]
    expected[:, 11, 23] = p[:, 4]
    torch.testing.assert_close(grids, expected)
    torch.testing.assert_close(grids.sum(dim=(1, 2)), torch.ones(3))
    pred = predictor.predict_embeddings(queries, where=False)
    torch.testing.assert_close(grids.sum(dim=2), pred.month_posterior)
    torch.testing.assert_close(grids.sum(dim=1), pred.hour_posterior)


def test_month_hour_posterior_keeps_which_hours_go_with_which_months():
    # January mornings and July evenings only: the outer product of the marginals would put mass on
    # January evenings and July mornings, which no gallery entry has.
    labels = torch.tensor([[1, 15, 6, 0, 0], [7, 15, 18, 0, 0]], dtype=torch.float32)
    predictor = Predictor(tiny_model(), gps_gallery=GPS, time_gallery=labels)
    queries = predictor.encode_images(torch.randn(4, 12))
    grids = predictor.month_hour_posterior(queries)
    outer = grids.sum(dim=2)[:, :, None] * grids.sum(dim=1)[:, None, :]
    assert (grids[:, 0, 18] == 0).all() and (grids[:, 6, 6] == 0).all()
    assert (outer[:, 0, 18] > 0).all()
    assert ((grids - outer).abs().amax(dim=(1, 2)) > 1e-3).all()
