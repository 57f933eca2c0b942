"""The six GT-Loc terms: toroidal soft targets, the tau=0 InfoNCE limit, masks, queues, gradients."""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
import torch.nn.functional as F

from gtloc.model.config import LOGIT_SCALE_NAMES, GTLocConfig
from gtloc.model.gtloc import GTLoc
from gtloc.model.losses import TERMS, GTLocLoss, LossWeights, soft_cross_entropy, toroidal_soft_targets
from gtloc.timecode import torus_distance
from gtloc.training.objective import Objective

EMBED = 16


def objective(model: GTLoc, queue_grad: bool = True, **loss_options) -> Objective:
    """``terms = objective(model, tau=...)(features, latlon, times)``: the single-process training objective."""
    return Objective(model, GTLocLoss(**loss_options), queue_grad)


def small_model(**overrides) -> GTLoc:
    values = {
        "feature_dim": EMBED,
        "embed_dim": EMBED,
        "image_hidden_dim": 2 * EMBED,
        "encoder_hidden_dim": 32,
        "rff_dim": 16,
        "location_sigmas": (1.0, 8.0),
        "time_sigmas": (1.0, 8.0),
        "queue_size": 8,
    }
    return GTLoc(GTLocConfig(**{**values, **overrides}))


def identity_image_head(model: GTLoc) -> GTLoc:
    """Make ``encode_image(f) == normalize(f)``: ``relu(f) - relu(-f) = f`` through the head's two Linear layers."""
    eye = torch.eye(EMBED)
    with torch.no_grad():
        model.image_encoder.mlp[0].weight.copy_(torch.cat([eye, -eye]))
        model.image_encoder.mlp[0].bias.zero_()
        model.image_encoder.mlp[2].weight.copy_(torch.cat([eye, -eye], dim=1))
        model.image_encoder.mlp[2].bias.zero_()
    return model


# Eight labelled samples with distinct places and times (pairwise torus distance >= 0.08).
LATLON = torch.tensor(
    [
        [48.86, 2.35],
        [40.71, -74.01],
        [35.68, 139.65],
        [-33.87, 151.21],
        [-22.91, -43.17],
        [30.04, 31.24],
        [64.15, -21.94],
        [1.35, 103.82],
    ]
)
TIMES = torch.tensor(
    [
        [1, 15, 8, 0, 0],
        [3, 1, 12, 30, 0],
        [5, 20, 18, 0, 0],
        [7, 4, 6, 15, 0],
        [8, 30, 23, 0, 0],
        [10, 10, 14, 0, 0],
        [11, 25, 3, 45, 0],
        [12, 31, 20, 0, 0],
    ],
    dtype=torch.float32,
)


def features(seed: int = 0, n: int = 8) -> torch.Tensor:
    return torch.randn(n, EMBED, generator=torch.Generator().manual_seed(seed))


def t(month, day, hour, minute=0, second=0) -> list[float]:
    return [float(month), float(day), float(hour), float(minute), float(second)]


# --- toroidal soft targets -----------------------------------------------------------------------------------


def test_targets_are_distributions_that_spread_as_tau_grows():
    candidates = torch.cat([TIMES, TIMES.flip(0)])  # each query's own time twice: columns i and 15 - i
    rows = torch.arange(8)
    own = []
    for tau in (0.0, 0.1, 0.3, 3.0):
        q = toroidal_soft_targets(TIMES, candidates, tau)
        torch.testing.assert_close(q.sum(dim=1), torch.ones(8))
        own.append(q[rows, rows] + q[rows, 15 - rows])
    torch.testing.assert_close(own[0], torch.ones(8))  # tau = 0: all on the positive
    # Then less and less on the query's own time, but always more than uniform (2 of 16 columns).
    assert all((wider < narrower).all() for narrower, wider in itertools.pairwise(own))
    assert (own[-1] > 2 / 16).all()


def test_targets_hand_values():
    query = torch.tensor([t(1, 1, 12)])
    cands = torch.tensor([t(1, 1, 12), t(1, 1, 13), t(1, 1, 11), t(7, 1, 0)])
    tau = 0.2
    d = torch.tensor([0.0, 1 / 12, 1 / 12, math.sqrt(2)])
    expected = torch.softmax(-d / tau, dim=0)
    torch.testing.assert_close(toroidal_soft_targets(query, cands, tau)[0], expected)
    assert expected[1] == expected[2]  # an hour later and an hour earlier weigh the same


def test_december_is_close_to_january():
    # Dec 31 is one day from Jan 1 across New Year, but thirty days from Dec 1 in the same month.
    query = torch.tensor([t(12, 31, 12), t(1, 1, 12)])
    cands = torch.tensor([t(1, 1, 12), t(12, 1, 12), t(6, 30, 12), t(12, 31, 12), t(1, 31, 12)])
    q = toroidal_soft_targets(query, cands, tau=0.3)
    assert q[0, 0] > q[0, 4] and q[0, 0] > q[0, 1] > q[0, 2]
    d_new_year, d_dec1 = (5 / 365) / 6, (30 * 12 / 365) / 6  # torus distance = month_frac gap / 6 here
    assert (q[0, 0] / q[0, 1]).item() == pytest.approx(math.exp((d_dec1 - d_new_year) / 0.3), rel=1e-5)
    assert q[1, 3] > q[1, 4] and q[1, 3] > q[1, 1] > q[1, 2]
    assert q[0, 0] == pytest.approx(q[0, 3].item(), rel=0.01)  # Jan 1 weighs almost as much as Dec 31 itself


def test_2330_is_close_to_0030():
    query = torch.tensor([t(6, 15, 23, 30)])
    cands = torch.tensor([t(6, 15, 0, 30), t(6, 15, 12), t(6, 15, 6), t(6, 15, 18), t(6, 15, 22, 30)])
    q = toroidal_soft_targets(query, cands, tau=0.1)[0]
    assert q[0] == pytest.approx(q[4].item(), rel=1e-6)  # 00:30 and 22:30 are both one hour away
    assert q[0] > 0.45 and (q[0] > 5 * q[1:4]).all()


def test_tau_zero_is_one_hot_on_positives_and_negative_tau_is_refused():
    q = toroidal_soft_targets(TIMES[:3], TIMES, 0.0)
    torch.testing.assert_close(q, torch.eye(8)[:3])
    q = toroidal_soft_targets(TIMES[:3], TIMES, 0.0, positives=torch.tensor([5, 0, 2]))
    assert q.argmax(dim=1).tolist() == [5, 0, 2] and q.sum() == 3
    with pytest.raises(ValueError, match=re.escape("tau must be >= 0, got -0.1")):
        toroidal_soft_targets(TIMES, TIMES, -0.1)


def test_soft_cross_entropy_is_entropy_plus_kl():
    logits = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    q = torch.softmax(torch.randn(4, 6, generator=torch.Generator().manual_seed(2)), dim=1)
    p = torch.softmax(logits, dim=1)
    entropy = -(q * q.log()).sum(1)
    kl = (q * (q.log() - p.log())).sum(1)
    torch.testing.assert_close(soft_cross_entropy(logits, q), (entropy + kl).mean())


# --- the six terms -------------------------------------------------------------------------------------------


def reference_terms(model: GTLoc, feats: torch.Tensor, latlon: torch.Tensor, times: torch.Tensor, tau: float):
    """method.md section 3 written out row by row, for a fully labelled batch and empty queues."""
    img, loc, tim = model.encode_image(feats), model.encode_location(latlon), model.encode_time(times)
    n = len(feats)
    d = torus_distance(times[:, None], times[None])

    def hard(scale_name, queries, cands):
        s = model.scale(scale_name)
        return sum(-torch.log_softmax(s * cands @ queries[i], 0)[i] for i in range(n)) / n

    def soft(scale_name, queries):
        s = model.scale(scale_name)
        total = 0.0
        for i in range(n):
            q = torch.exp(-d[i] / tau) / torch.exp(-d[i] / tau).sum()
            total = total - (q * torch.log_softmax(s * tim @ queries[i], 0)).sum()
        return total / n

    return {
        "img_gps": hard("img_gps_logit_scale", img, loc),
        "img_time": soft("img_time_logit_scale", img),
        "gps_time": (soft("gps_time_logit_scale", loc) + hard("gps_time_logit_scale", tim, loc)) / 2,
        "ig2t": soft("ig2t_logit_scale", F.normalize(img + loc, dim=-1)),
        "it2g": hard("it2g_logit_scale", F.normalize(img + tim, dim=-1), loc),
        "gt2i": hard("gt2i_logit_scale", F.normalize(loc + tim, dim=-1), img),
    }


def test_terms_equal_a_row_by_row_reference():
    model = small_model()
    with torch.no_grad():
        for i, name in enumerate(LOGIT_SCALE_NAMES):
            getattr(model, name).fill_(1.0 + 0.3 * i)  # a different scale per term catches mixed-up scales
    out = objective(model, tau=0.2)(features(), LATLON, TIMES)
    ref = reference_terms(model, features(), LATLON, TIMES, tau=0.2)
    assert set(out) == {"loss", *TERMS}
    for name in TERMS:
        torch.testing.assert_close(out[name], ref[name], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out["loss"], sum(ref.values()), rtol=1e-5, atol=1e-6)


def test_tau_zero_is_exactly_infonce():
    model = small_model()
    _, latlon_q, times_q = features(9), LATLON.flip(0) + 1.0, TIMES.flip(0)
    model.enqueue(latlon_q[:5], times_q[:5])
    out = objective(model, tau=0.0)(features(), LATLON, TIMES)
    img = model.encode_image(features())
    loc = model.encode_location(torch.cat([LATLON, model.gps_queue.contents()]))
    tim = model.encode_time(torch.cat([TIMES, model.time_queue.contents()]))
    own = torch.arange(8)
    img_time = F.cross_entropy(model.scale("img_time_logit_scale") * img @ tim.T, own)
    ig2t = F.cross_entropy(model.scale("ig2t_logit_scale") * F.normalize(img + loc[:8], dim=-1) @ tim.T, own)
    assert torch.equal(out["img_time"], img_time)
    assert torch.equal(out["ig2t"], ig2t)
    # The one-hot soft cross-entropy is the same number up to rounding.
    onehot = toroidal_soft_targets(TIMES, torch.cat([TIMES, model.time_queue.contents()]), 0.0)
    logits = model.scale("img_time_logit_scale") * img @ tim.T
    torch.testing.assert_close(soft_cross_entropy(logits, onehot), img_time)


def test_soft_loss_tends_to_hard_loss_as_tau_goes_to_zero():
    model = small_model()
    feats = features()
    hard = objective(model, tau=0.0)(feats, LATLON, TIMES)
    gaps = []
    for tau in (1.0, 0.3, 0.1, 0.01):  # the closest two batch times are 0.45 apart on the torus
        soft = objective(model, tau=tau)(feats, LATLON, TIMES)
        gaps.append(max(abs(soft[k] - hard[k]).item() for k in ("img_time", "gps_time", "ig2t")))
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3]
    assert gaps[0] > 1e-2 and gaps[-1] < 1e-6


def test_aligned_embeddings_score_lower_than_shuffled():
    model = identity_image_head(small_model())
    with torch.no_grad():
        aligned = model.encode_location(LATLON) + model.encode_time(TIMES)
    torch.testing.assert_close(model.encode_image(aligned), F.normalize(aligned, dim=-1))
    loss = objective(model, tau=0.1)
    good = loss(aligned, LATLON, TIMES)
    for shift in (1, 3):
        bad = loss(aligned.roll(shift, dims=0), LATLON, TIMES)
        for name in ("img_gps", "img_time", "ig2t", "it2g", "gt2i"):
            assert good[name] < bad[name], name
        torch.testing.assert_close(good["gps_time"], bad["gps_time"])  # no image in it
        assert good["loss"] < bad["loss"] - 0.5


@pytest.mark.parametrize("param", [10.0, -10.0, 4.6])
def test_gradients_are_finite_at_extreme_scales(param):
    model = small_model(logit_scale_max=100.0)
    model.enqueue(LATLON + 0.5, TIMES.roll(1, dims=0))
    with torch.no_grad():
        for name in LOGIT_SCALE_NAMES:
            getattr(model, name).fill_(param)
    feats = torch.cat([features(), features()[:2]])  # duplicate images and labels: exact ties at scale 100
    latlon, times = torch.cat([LATLON, LATLON[:2]]), torch.cat([TIMES, TIMES[:2]])
    for tau in (0.0, 1e-4, 0.3):
        model.zero_grad()
        out = objective(model, tau=tau)(feats, latlon, times)
        assert all(torch.isfinite(v) for v in out.values())
        out["loss"].backward()
        grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
        assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
        if param == 10.0:  # exp(10) is clamped to 100: the scale gets no gradient
            assert all(grads[name].item() == 0.0 for name in LOGIT_SCALE_NAMES)
        else:
            assert any(grads[name].item() != 0.0 for name in LOGIT_SCALE_NAMES)


def test_gradients_reach_heads_and_scales_but_not_rff_or_fixed_scale():
    model = small_model(fixed_img_time_scale=25.0)
    objective(model)(features(), LATLON, TIMES)["loss"].backward()
    named = dict(model.named_parameters())
    for name in (
        "image_encoder.mlp.0.weight",
        "location_encoder.LocEnc1.head.0.weight",
        "time_encoder.TimeEnc0.capsule.1.weight",
    ):
        assert named[name].grad is not None and named[name].grad.abs().sum() > 0
    for name in LOGIT_SCALE_NAMES:
        assert (named[name].grad is None) == (name == "img_time_logit_scale")
    assert named["location_encoder.LocEnc0.capsule.0.b"].grad is None
    assert named["time_encoder.TimeEnc1.capsule.0.b"].grad is None


# --- masks for missing labels --------------------------------------------------------------------------------


def masked_batch():
    feats, latlon, times = features(), LATLON.clone(), TIMES.clone()
    latlon[1] = float("nan")  # no GPS
    times[3, 2] = float("nan")  # no time
    latlon[5], times[5] = float("nan"), float("nan")  # nothing
    return feats, latlon, times


def test_a_sample_without_gps_takes_part_in_no_gps_term():
    model = small_model()
    loss = objective(model, tau=0.2)
    feats, latlon, times = masked_batch()
    base = loss(feats, latlon, times)
    assert set(base) == {"loss", *TERMS}
    feats2, latlon2, times2 = feats.clone(), latlon.clone(), times.clone()
    feats2[1] = 5 * torch.randn(EMBED)
    times2[1] = torch.tensor(t(2, 2, 2))
    latlon2[1] = torch.tensor([float("nan"), 12.0])  # half missing is missing
    changed = loss(feats2, latlon2, times2)
    for name in ("img_gps", "it2g"):
        torch.testing.assert_close(changed[name], base[name], rtol=0, atol=1e-6)
    assert not torch.allclose(changed["img_time"], base["img_time"])  # it still has a time and an image


def test_a_sample_without_time_takes_part_in_no_time_term():
    model = small_model()
    loss = objective(model, tau=0.2)
    feats, latlon, times = masked_batch()
    base = loss(feats, latlon, times)
    feats2, latlon2 = feats.clone(), latlon.clone()
    feats2[3] = 5 * torch.randn(EMBED)
    latlon2[3] = torch.tensor([-10.0, 20.0])
    changed = loss(feats2, latlon2, times)
    for name in ("img_time", "ig2t"):
        torch.testing.assert_close(changed[name], base[name], rtol=0, atol=1e-6)
    assert not torch.allclose(changed["img_gps"], base["img_gps"])


def test_a_sample_without_labels_is_only_an_image_negative():
    model = small_model()
    loss = objective(model, tau=0.2)
    feats, latlon, times = masked_batch()
    base = loss(feats, latlon, times)
    feats2 = feats.clone()
    feats2[5] = 5 * torch.randn(EMBED)
    changed = loss(feats2, latlon, times)
    for name in ("img_gps", "img_time", "gps_time", "ig2t", "it2g"):
        torch.testing.assert_close(changed[name], base[name], rtol=0, atol=1e-6)
    assert not torch.allclose(changed["gt2i"], base["gt2i"])


def test_masked_batch_equals_the_batch_without_the_missing_rows():
    model = small_model()
    loss = objective(model, tau=0.2)
    feats, latlon, times = masked_batch()
    out = loss(feats, latlon, times)
    gps_rows, time_rows = [0, 2, 3, 4, 6, 7], [0, 1, 2, 4, 6, 7]
    only_gps = loss(feats[gps_rows], latlon[gps_rows], torch.full((6, 5), float("nan")))
    only_time = loss(feats[time_rows], torch.full((6, 2), float("nan")), times[time_rows])
    torch.testing.assert_close(out["img_gps"], only_gps["img_gps"], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out["img_time"], only_time["img_time"], rtol=1e-6, atol=1e-6)


def test_all_missing_modality_gives_no_such_term():
    model = small_model()
    loss = objective(model, tau=0.2)
    model.enqueue(LATLON, TIMES)  # non-empty queues must not bring the terms back
    no_gps = loss(features(), torch.full((8, 2), float("nan")), TIMES)
    assert set(no_gps) == {"loss", "img_time"}
    torch.testing.assert_close(no_gps["loss"], no_gps["img_time"])
    no_time = loss(features(), LATLON, torch.full((8, 5), float("nan")))
    assert set(no_time) == {"loss", "img_gps"}
    nothing = loss(features(), torch.full((8, 2), float("nan")), torch.full((8, 5), float("nan")))
    assert set(nothing) == {"loss"} and nothing["loss"].item() == 0.0
    assert all(torch.isfinite(v) for out in (no_gps, no_time) for v in out.values())


# --- queues and weights --------------------------------------------------------------------------------------


def test_queue_contents_are_negatives():
    model = small_model()
    loss = objective(model, tau=0.0)
    empty = loss(features(), LATLON, TIMES)
    model.enqueue(LATLON.flip(0) + torch.tensor([3.0, -7.0]), TIMES.roll(3, dims=0) + torch.tensor([0, 0, 0, 7, 0]))
    assert len(model.gps_queue.contents()) == 8
    full = loss(features(), LATLON, TIMES)
    # More candidates in the softmax denominator: every InfoNCE term grows.
    for name in ("img_gps", "img_time", "ig2t", "it2g"):
        assert full[name] > empty[name], name
    torch.testing.assert_close(full["gt2i"], empty["gt2i"])  # images have no queue
    img = model.encode_image(features())
    loc = model.encode_location(torch.cat([LATLON, model.gps_queue.contents()]))
    expected = F.cross_entropy(model.scale("img_gps_logit_scale") * img @ loc.T, torch.arange(8))
    assert torch.equal(full["img_gps"], expected)
    without = objective(model, tau=0.0, use_queues=False)(features(), LATLON, TIMES)
    for name in TERMS:
        torch.testing.assert_close(without[name], empty[name])


def test_weights_scale_and_switch_off_terms():
    model = small_model()
    everything = objective(model, tau=0.2)(features(), LATLON, TIMES)
    weights = LossWeights(img_gps=2.0, img_time=0.5, gps_time=0.0, ig2t=0.0, it2g=0.0, gt2i=1.0)
    some = objective(model, tau=0.2, weights=weights)(features(), LATLON, TIMES)
    assert set(some) == {"loss", "img_gps", "img_time", "gt2i"}
    for name in ("img_gps", "img_time", "gt2i"):
        torch.testing.assert_close(some[name], everything[name])
    torch.testing.assert_close(some["loss"], 2 * some["img_gps"] + 0.5 * some["img_time"] + some["gt2i"])


# --- embeddings in, one candidate rule -----------------------------------------------------------------------


def test_the_loss_takes_embeddings_and_scales_not_a_model():
    gen = torch.Generator().manual_seed(3)
    img, loc = (F.normalize(torch.randn(4, EMBED, generator=gen), dim=1) for _ in range(2))
    latlon, times = LATLON[:4], torch.full((4, 5), float("nan"))
    loss = GTLocLoss(tau=0.2)
    assert list(loss.parameters()) == []
    candidates = loss.candidates(latlon, times, gps_queue=torch.empty(0, 2), time_queue=torch.empty(0, 5))
    assert candidates.times is None and torch.equal(candidates.gps.all, latlon)
    out = loss(img, loc, None, {"img_gps": torch.tensor(7.0)}, candidates)
    assert set(out) == {"loss", "img_gps"}
    torch.testing.assert_close(out["img_gps"], F.cross_entropy(7.0 * img @ loc.T, torch.arange(4)))


def test_candidate_rule_rows_queues_and_skipped_kinds():
    _, latlon, times = masked_batch()
    gps_queue, time_queue = LATLON[:3] + 1.0, TIMES[:2]
    rule = GTLocLoss(tau=0.2)
    c = rule.candidates(latlon, times, gps_queue, time_queue)
    assert torch.nonzero(c.has_gps).squeeze(1).tolist() == [0, 2, 3, 4, 6, 7]
    assert torch.nonzero(c.has_time).squeeze(1).tolist() == [0, 1, 2, 4, 6, 7]
    assert torch.equal(c.gps.all, torch.cat([latlon[c.has_gps], gps_queue]))
    assert torch.equal(c.times.all, torch.cat([times[c.has_time], time_queue]))
    no_queues = GTLocLoss(use_queues=False).candidates(latlon, times, gps_queue, time_queue)
    assert torch.equal(no_queues.gps.all, latlon[c.has_gps]) and len(no_queues.times.queue) == 0
    time_only = LossWeights(img_gps=0.0, gps_time=0.0, ig2t=0.0, it2g=0.0, gt2i=0.0)
    c = GTLocLoss(weights=time_only).candidates(latlon, times, gps_queue, time_queue)
    assert c.gps is None and c.times is not None  # the time-only ablation encodes no GPS label
    c = GTLocLoss(weights=LossWeights(img_time=0.0)).candidates(
        latlon, torch.full((8, 5), float("nan")), *[gps_queue, time_queue]
    )
    assert c.times is None and c.gps is not None  # no row has a time: no time candidates, not even the queue


def test_time_only_training_never_encodes_a_place(monkeypatch):
    model = small_model()
    model.enqueue(LATLON, TIMES)
    calls = []
    monkeypatch.setattr(model, "encode_location", lambda latlon: calls.append(latlon) or 1 / 0)
    time_only = LossWeights(img_gps=0.0, gps_time=0.0, ig2t=0.0, it2g=0.0, gt2i=0.0)
    for queue_grad in (True, False):
        out = objective(model, queue_grad, tau=0.2, weights=time_only)(features(), LATLON, TIMES)
        assert set(out) == {"loss", "img_time"}
    assert calls == []
