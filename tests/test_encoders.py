"""Encoders: frozen, seeded random Fourier features; TimeEncoder and LocationEncoder; the image head."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gtloc.geo import equal_earth
from gtloc.model.encoders import GaussianEncoding, ImageHead, LocationEncoder, RFFBranch, TimeEncoder
from gtloc.timecode import periodic_time_features, torus_angles

SMALL = {"rff_dim": 16, "hidden_dim": 32, "out_dim": 24}


def some_times(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(n)
    return torch.stack(
        [
            torch.randint(1, 13, (n,), generator=g).float(),
            torch.randint(1, 29, (n,), generator=g).float(),
            torch.randint(0, 24, (n,), generator=g).float(),
            torch.randint(0, 60, (n,), generator=g).float(),
            torch.rand(n, generator=g) * 60,
        ],
        dim=1,
    )


def some_latlon(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(n)
    return torch.rand(n, 2, generator=g) * torch.tensor([180.0, 360.0]) - torch.tensor([90.0, 180.0])


# --- random Fourier features ---------------------------------------------------------------------------------


def test_gaussian_encoding_formula_and_frozen_b():
    enc = GaussianEncoding(sigma=4.0, in_dim=3, rff_dim=8, generator=torch.Generator().manual_seed(0))
    assert enc.b.shape == (8, 3) and not enc.b.requires_grad
    v = torch.randn(5, 3, dtype=torch.float64)
    vp = 2 * math.pi * v.numpy() @ enc.b.double().numpy().T
    np.testing.assert_allclose(enc.double()(v).numpy(), np.concatenate([np.cos(vp), np.sin(vp)], 1), atol=1e-12)


@pytest.mark.parametrize("sigma", [1.0, 16.0, 256.0])
def test_rff_frequencies_have_std_sigma(sigma):
    enc = GaussianEncoding(sigma, in_dim=2, rff_dim=4096, generator=torch.Generator().manual_seed(1))
    assert enc.b.std().item() == pytest.approx(sigma, rel=0.05)
    assert abs(enc.b.mean().item()) < 0.05 * sigma


def test_rff_same_seed_same_b_other_seed_other_b():
    def b_of(seed: int) -> torch.Tensor:
        return GaussianEncoding(1.0, 2, 16, torch.Generator().manual_seed(seed)).b

    torch.testing.assert_close(b_of(3), b_of(3), rtol=0, atol=0)
    assert not torch.equal(b_of(3), b_of(4))


@pytest.mark.parametrize("cls", [LocationEncoder, TimeEncoder])
def test_encoder_is_reproducible_from_its_seed_and_ignores_global_rng_for_b(cls):
    torch.manual_seed(100)
    a = cls(seed=5, **SMALL)
    torch.manual_seed(200)
    b = cls(seed=5, **SMALL)
    c = cls(seed=6, **SMALL)
    for i in range(3):
        name = f"{cls.prefix}{i}.capsule.0.b"
        torch.testing.assert_close(a.state_dict()[name], b.state_dict()[name], rtol=0, atol=0)
        assert not torch.equal(a.state_dict()[name], c.state_dict()[name])
    # One generator feeds the branches in turn: each scale has its own frequencies, scaled by its sigma.
    b0, b1 = a.branches()[0].capsule[0].b, a.branches()[1].capsule[0].b
    assert not torch.allclose(b0 * 16, b1)


def test_rff_is_not_trained_by_an_optimizer_step():
    enc = LocationEncoder(**SMALL)
    before = {n: p.detach().clone() for n, p in enc.named_parameters()}
    opt = torch.optim.AdamW([p for p in enc.parameters() if p.requires_grad], lr=0.1)
    enc(some_latlon(16)).pow(2).mean().backward()
    opt.step()
    frozen = [n for n, p in enc.named_parameters() if not p.requires_grad]
    assert frozen == [f"LocEnc{i}.capsule.0.b" for i in range(3)]
    for name, p in enc.named_parameters():
        if name in frozen:
            assert p.grad is None and torch.equal(p, before[name])
        else:
            assert p.grad is not None and not torch.equal(p, before[name])


# --- location and time encoders ------------------------------------------------------------------------------


def test_location_encoder_layout_matches_geoclip():
    enc = LocationEncoder()
    keys = list(enc.state_dict())
    assert keys[:9] == [
        "LocEnc0.capsule.0.b",
        "LocEnc0.capsule.1.weight",
        "LocEnc0.capsule.1.bias",
        "LocEnc0.capsule.3.weight",
        "LocEnc0.capsule.3.bias",
        "LocEnc0.capsule.5.weight",
        "LocEnc0.capsule.5.bias",
        "LocEnc0.head.0.weight",
        "LocEnc0.head.0.bias",
    ]
    assert enc.sigmas == (1.0, 16.0, 256.0)
    assert [b.capsule[0].sigma for b in enc.branches()] == [1.0, 16.0, 256.0]
    assert sum(p.numel() for p in enc.parameters() if p.requires_grad) == 3 * (
        512 * 1024 + 1024 + 2 * (1024 * 1024 + 1024) + 1024 * 512 + 512
    )


def test_location_encoder_is_sum_of_branches_on_equal_earth_inputs():
    enc = LocationEncoder(**SMALL)
    ll = some_latlon(10)
    proj = equal_earth(ll)
    expected = sum(branch(proj) for branch in enc.branches())
    torch.testing.assert_close(enc(ll), expected)
    assert enc(ll).shape == (10, 24)
    assert enc(ll.double()).dtype == torch.float32  # inputs follow the encoder's dtype


def test_time_encoder_inputs_and_layout():
    times = some_times(12)
    periodic, angles = TimeEncoder(**SMALL), TimeEncoder(time_input="angles", **SMALL)
    torch.testing.assert_close(periodic.time_inputs(times), periodic_time_features(times))
    torch.testing.assert_close(angles.time_inputs(times), torus_angles(times))
    assert periodic.branches()[0].capsule[0].b.shape == (16, 4)
    assert angles.branches()[0].capsule[0].b.shape == (16, 2)
    # Released GT-Loc layout: Dropout after each ReLU, so the Linear layers sit at capsule.1, .4 and .7.
    linear_keys = [k for k in periodic.state_dict() if k.startswith("TimeEnc0.capsule") and k.endswith("weight")]
    assert linear_keys == ["TimeEnc0.capsule.1.weight", "TimeEnc0.capsule.4.weight", "TimeEnc0.capsule.7.weight"]
    assert periodic(times).shape == (12, 24)


def test_time_encoder_rejects_unknown_input():
    with pytest.raises(ValueError, match=r"time_input must be one of \['angles', 'periodic'\], got 'radians'"):
        TimeEncoder(time_input="radians")


def test_periodic_time_encoder_is_continuous_across_new_year_midnight():
    def new_year_vs_midday_step(time_input: str) -> float:
        enc = TimeEncoder(sigmas=(1.0,), time_input=time_input, **SMALL).double().eval()
        t = torch.tensor(
            [[12, 31, 23, 59, 59.0], [1, 1, 0, 0, 0.0], [6, 14, 11, 59, 59.0], [6, 15, 12, 0, 0.0]], dtype=torch.float64
        )
        with torch.no_grad():
            e = enc(t)
        return ((e[0] - e[1]).norm() / (e[2] - e[3]).norm()).item()

    assert new_year_vs_midday_step("periodic") < 1.0  # a day and a second, like any other day
    assert new_year_vs_midday_step("angles") > 5.0  # both raw angles jump from pi to -pi


def test_rff_branch_without_dropout_has_geoclip_capsule():
    branch = RFFBranch(1.0, 2, rff_dim=4, hidden_dim=8, out_dim=3)
    assert [type(m).__name__ for m in branch.capsule] == [
        "GaussianEncoding",
        "Linear",
        "ReLU",
        "Linear",
        "ReLU",
        "Linear",
        "ReLU",
    ]
    assert branch(torch.zeros(5, 2)).shape == (5, 3)


# --- image head ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("feature_dim", [7, 768, 1280])
def test_image_head_over_any_feature_dim(feature_dim):
    head = ImageHead(feature_dim, hidden_dim=32, out_dim=16)
    assert head(torch.randn(4, feature_dim)).shape == (4, 16)
    assert head(torch.randn(4, 10, feature_dim)).shape == (4, 10, 16)  # ten crops
    assert head.mlp[0].in_features == feature_dim


def test_image_head_ten_crops_equal_per_crop_calls():
    head = ImageHead(12, hidden_dim=20, out_dim=8)
    x = torch.randn(3, 10, 12)
    torch.testing.assert_close(head(x), head(x.reshape(30, 12)).reshape(3, 10, 8))


def test_image_head_rejects_wrong_feature_dim():
    with pytest.raises(ValueError, match=r"ImageHead expects features of dim 1280, got \(2, 768\)"):
        ImageHead(1280)(torch.zeros(2, 768))


def test_feature_stats_standardise_inputs():
    head = ImageHead(6, hidden_dim=10, out_dim=4)
    x = torch.randn(200, 6) * torch.arange(1, 7) + 5
    plain = head(torch.zeros(1, 6))
    torch.testing.assert_close(plain, head.mlp(torch.zeros(1, 6)))  # identity until stats are set
    head.set_feature_stats(x)
    torch.testing.assert_close(head.feature_mean, x.mean(0))
    torch.testing.assert_close(head.feature_std, x.std(0, correction=0))
    torch.testing.assert_close(head(x), head.mlp((x - x.mean(0)) / x.std(0, correction=0)))
    assert "feature_mean" in head.state_dict() and "feature_std" in head.state_dict()


def test_feature_stats_from_one_row_stay_finite():
    head = ImageHead(4, hidden_dim=8, out_dim=4)
    head.set_feature_stats(torch.ones(1, 4))
    assert torch.isfinite(head.feature_std).all() and (head.feature_std > 0).all()
    assert torch.isfinite(head(torch.randn(3, 4))).all()
