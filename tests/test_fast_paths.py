"""Each fast path against the straightforward one it replaces, with the tolerance stated in the assertion."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from gtloc.inference.predictor import Predictor
from gtloc.model.gtloc import GTLoc
from gtloc.model.losses import GTLocLoss
from gtloc.retrieval.search import search
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.data import TrainingData
from gtloc.training.loop import train
from gtloc.training.objective import Objective
from helpers.toydata import random_labels

_spec = importlib.util.spec_from_file_location("reference", Path(__file__).parents[1] / "benchmarks" / "reference.py")
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)


def _tiny_model(queue_size: int = 24) -> GTLoc:
    config = small_model_config(
        feature_dim=12, encoder_hidden_dim=32, image_hidden_dim=32, embed_dim=16, rff_dim=16, queue_size=queue_size
    )
    return GTLoc(config)


def _grads(model: GTLoc, queue_grad: bool, features, latlon, times) -> tuple[dict, dict]:
    model.zero_grad(set_to_none=True)
    terms = Objective(model, GTLocLoss(), queue_grad)(features, latlon, times)
    terms["loss"].backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach() for k, v in terms.items()}, grads


def test_queue_without_autograd_same_loss_and_same_grads_outside_the_queue_path():
    model = _tiny_model()
    latlon, times = random_labels(10, 0)
    times[3] = float("nan")
    for seed in (1, 2):
        model.enqueue(*random_labels(10, seed))
    features = torch.randn(10, 12)
    exact_terms, exact = _grads(model, True, features, latlon, times)
    fast_terms, fast = _grads(model, False, features, latlon, times)
    for name, value in exact_terms.items():  # forward values: float rounding only
        torch.testing.assert_close(fast_terms[name], value, rtol=1e-5, atol=1e-5)
    for name, grad in exact.items():
        if name.startswith(("image_encoder", "img_")) or name.endswith("logit_scale"):
            torch.testing.assert_close(fast[name], grad, rtol=1e-4, atol=1e-6, msg=name)  # queue-independent
    # The approximation: encoder gradients lose the queue entries' share.
    assert not torch.allclose(
        fast["location_encoder.LocEnc0.head.0.weight"], exact["location_encoder.LocEnc0.head.0.weight"]
    )


def test_queue_without_autograd_is_exact_when_the_queues_are_empty():
    model = _tiny_model()
    latlon, times = random_labels(8, 0)
    features = torch.randn(8, 12)
    _, exact = _grads(model, True, features, latlon, times)
    _, fast = _grads(model, False, features, latlon, times)
    for name, grad in exact.items():
        torch.testing.assert_close(fast[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_search_with_in_place_normaliser_equals_topk_and_logsumexp():
    gen = torch.Generator().manual_seed(0)
    gallery = torch.nn.functional.normalize(torch.randn(500, 16, generator=gen), dim=1)
    queries = torch.randn(33, 16, generator=gen)
    found = search(queries, gallery, k=4, scale=20.0, chunk_size=7)
    logits = 20.0 * (queries @ gallery.T)
    scores, idx = logits.topk(4, dim=1)
    assert torch.equal(found.indices, idx)
    torch.testing.assert_close(found.scores, scores)
    torch.testing.assert_close(found.log_norm, torch.logsumexp(logits, dim=1), rtol=1e-5, atol=1e-5)


def test_predictor_matches_geoclip_style_predict():
    torch.manual_seed(0)
    model = _tiny_model().eval()
    gallery, _ = random_labels(300, 5)
    features = torch.randn(4, 12)
    places, probs = reference.geoclip_predict(model, features, gallery, top_k=3)
    pred = Predictor(model, gps_gallery=gallery, time_gallery=random_labels(20, 7)[1]).predict(features, top_k=3)
    assert torch.equal(pred.place_topk, places)
    torch.testing.assert_close(pred.place_probs, probs, rtol=1e-5, atol=1e-6)


def test_training_with_queue_grad_off_resumes_bit_exactly(tmp_path):
    latlon, times = random_labels(40, 0)
    data = TrainingData(torch.randn(40, 12), latlon, times, "test")
    config = TrainConfig(
        epochs=2, batch_size=10, warmup_steps=1, checkpoint_every=3, queue_grad=False, model=_tiny_model().config
    )
    whole = train(data, tmp_path / "whole", config, progress=False)
    train(data, tmp_path / "split", config, progress=False, stop_after=3)
    resumed = train(data, tmp_path / "split", None, resume=True, progress=False)
    for name, tensor in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], tensor), name
