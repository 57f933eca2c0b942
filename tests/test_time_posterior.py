"""The one time posterior: how it is built (gallery, kNN, mix, temperature, prior) and read out (the joint month x
hour grid, its marginals, the named read-outs)."""

from __future__ import annotations

import pytest
import torch

from gtloc.errors import GtlocError, ParameterError
from gtloc.model.readouts import READOUT_ANSWER, READOUT_POSTERIOR, READOUTS
from gtloc.retrieval.galleries import time_grid
from gtloc.retrieval.time_posterior import MixWeights, TimeGallery, TimePosterior, mix_weight

LABELS = time_grid(days_step=30, minutes_step=60)
GALLERY = TimeGallery(LABELS)


def random_posteriors(n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = 3.0 * torch.randn(n, len(LABELS), generator=gen)
    knn = torch.softmax(2.0 * torch.randn(n, len(LABELS), generator=gen), dim=1)
    return logits, knn


def test_the_sources_are_the_gallery_softmax_the_knn_posterior_and_their_mix():
    logits, knn = random_posteriors()
    log_prior = torch.log_softmax(torch.randn(len(LABELS)), dim=0)
    gallery = torch.softmax(logits / 2.0 + log_prior, dim=1)
    built = {
        source: TimePosterior.build(
            GALLERY, logits, temperature=2.0, log_prior=log_prior, source=source, knn=knn, mix_weight=0.3
        ).probs
        for source in ("gallery", "knn", "mix")
    }
    assert torch.allclose(built["gallery"], gallery, atol=1e-7)
    assert torch.equal(built["knn"], knn)
    assert torch.allclose(built["mix"], 0.3 * gallery + 0.7 * knn, atol=1e-7)
    # Without a kNN posterior (no training neighbours, or no features) every source reads the gallery alone.
    for source in ("knn", "mix"):
        alone = TimePosterior.build(GALLERY, logits, temperature=2.0, log_prior=log_prior, source=source).probs
        assert torch.equal(alone, built["gallery"])
    with pytest.raises(GtlocError, match="time posterior source must be one of gallery, knn, mix, got 'both'"):
        TimePosterior.build(GALLERY, logits, source="both")
    assert mix_weight(250) == pytest.approx(0.5) and mix_weight(25_000) > 0.98


def test_a_product_of_experts_sums_the_queries_logits():
    gen = torch.Generator().manual_seed(1)
    embeddings = torch.randn(len(LABELS), 8, generator=gen)
    a, b = torch.randn(3, 8, generator=gen), torch.randn(3, 8, generator=gen)
    both = TimePosterior.of_queries(GALLERY, [(a, 2.0), (b, 0.5)], embeddings).probs
    assert torch.allclose(both, torch.softmax(2.0 * a @ embeddings.T + 0.5 * b @ embeddings.T, dim=1), atol=1e-6)


def test_the_joint_grid_puts_each_entry_in_its_month_and_hour_and_its_sums_are_the_marginals():
    logits, _ = random_posteriors()
    posterior = TimePosterior.build(GALLERY, logits)
    joint = posterior.month_hour
    assert joint.shape == (6, 12, 24) and torch.allclose(joint.sum(dim=(1, 2)), torch.ones(6), atol=1e-5)
    assert torch.equal(posterior.month, joint.sum(dim=2)) and torch.equal(posterior.hour, joint.sum(dim=1))
    one_entry = torch.zeros(1, len(LABELS))
    row = int(((LABELS[:, 0] == 7) & (LABELS[:, 2] == 15)).nonzero()[0])
    one_entry[0, row] = 1.0
    grid = TimePosterior(one_entry, GALLERY).month_hour
    assert grid[0, 6, 15] == 1.0 and float(grid.sum()) == 1.0


def test_each_read_out_answers_from_its_posterior():
    # 9:00 is the most likely hour, but 12:00 is the answer of least expected cyclic hour error.
    probs = torch.zeros(1, len(LABELS))
    for hour, p in ((9, 0.35), (12, 0.325), (15, 0.325)):
        probs[0, int(((LABELS[:, 0] == 1) & (LABELS[:, 1] == 1) & (LABELS[:, 2] == hour)).nonzero()[0])] = p
    posterior = TimePosterior(probs, GALLERY)
    times, top = posterior.top(2)
    assert times.shape == (1, 2, 5) and top[0].tolist() == pytest.approx([0.35, 0.325])
    assert posterior.argmax()[0].tolist() == [1, 1, 9, 0, 0]
    assert posterior.bayes()[0].tolist() == [1, 1, 12, 0, 0]
    for readout in READOUTS:
        expected = posterior.argmax() if READOUT_ANSWER[readout] == "argmax" else posterior.bayes()
        assert torch.equal(posterior.best(readout), expected)
    assert READOUT_POSTERIOR == {"argmax": "gallery", "bayes": "gallery", "knn": "knn", "mix": "mix"}
    with pytest.raises(ParameterError, match=r"^unknown readout 'mean'; choose one of argmax, bayes, knn, mix$"):
        posterior.best("mean")


@pytest.mark.parametrize(("month", "hour"), [(0.9, 0.25), (0.1, 0.8), (1.0, 0.0), (0.4, 0.4)])
def test_a_mix_with_its_own_weight_for_the_month_and_the_hour_has_exactly_those_marginals(month, hour):
    logits, knn = random_posteriors()
    model = TimePosterior.build(GALLERY, logits)
    near = TimePosterior(knn, GALLERY)
    mixed = TimePosterior.build(GALLERY, logits, source="mix", knn=knn, mix_weight=MixWeights(month, hour))
    assert torch.allclose(mixed.probs.sum(dim=1), torch.ones(6), atol=1e-6) and bool((mixed.probs >= 0).all())
    assert torch.allclose(mixed.month, month * model.month + (1 - month) * near.month, atol=1e-6)
    assert torch.allclose(mixed.hour, hour * model.hour + (1 - hour) * near.hour, atol=1e-6)
    plain = month * model.probs + (1 - month) * knn
    assert torch.allclose(mixed.probs, plain, atol=1e-7) == (month == hour)  # one weight for both: the plain mix
