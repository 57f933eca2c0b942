"""The one place answer: near-duplicate gallery entries merged into distinct places, and a radius whose coverage is
fitted on held-out pictures (split conformal); the hour window of a time answer; readable numbers."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gtloc.geo import haversine_km
from gtloc.inference.readable import distance_text, hours_text, percent, radius_text
from gtloc.model.calibration import HOUR_COVERAGE, PLACE_COVERAGE, Temperatures
from gtloc.retrieval.place_answer import (
    RADII_KM,
    conformal_level,
    fit_radius_mass,
    mass_by_radius,
    mass_reaching,
    merge_places,
    radius_km,
)
from gtloc.retrieval.time_posterior import fit_window_mass, hour_window, window_mass_reaching

OSLO, OSLO_1KM, OSLO_2KM = (59.91, 10.75), (59.919, 10.75), (59.91, 10.768)
PARIS = (48.857, 2.352)


def test_entries_within_10_km_become_one_place_and_the_merged_place_can_outrank_the_top_entry():
    """Paris is the single best entry (0.30), but Oslo's three entries 1-2 km apart hold 0.45 together: the best
    place is Oslo, standing at its best entry, with their probabilities summed."""
    latlon = torch.tensor([[PARIS, OSLO, OSLO_1KM, (40.71, -74.0), OSLO_2KM]])
    probs = torch.tensor([[0.30, 0.20, 0.15, 0.12, 0.10]])
    places, mass = merge_places(latlon, probs)
    assert places.shape == (1, 5, 2)
    assert places[0, 0].tolist() == pytest.approx(OSLO) and mass[0, 0] == pytest.approx(0.45)
    assert places[0, 1].tolist() == pytest.approx(PARIS) and mass[0, 1] == pytest.approx(0.30)
    assert mass[0, 2] == pytest.approx(0.12)
    assert torch.isnan(places[0, 3:]).all() and (mass[0, 3:] == 0).all()  # only three distinct places
    shown = places[0, :3]
    assert min(float(haversine_km(shown[i], shown[j])) for i in range(3) for j in range(i + 1, 3)) >= 10


def test_an_entry_joins_the_nearest_kept_place_and_rows_are_independent():
    """Two kept places 12 km apart; an entry 3 km from the second joins the second, not the better first."""
    a, b = (59.91, 10.75), (59.91 + 12 / 111.2, 10.75)
    near_b = (b[0] + 3 / 111.2, 10.75)
    latlon = torch.tensor([[a, b, near_b], [PARIS, PARIS, OSLO]])
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.4, 0.35, 0.25]])
    places, mass = merge_places(latlon, probs)
    assert mass[0, :2].tolist() == pytest.approx([0.5, 0.5]) and places[0, 1].tolist() == pytest.approx(b)
    assert mass[1, :2].tolist() == pytest.approx([0.75, 0.25]) and places[1, 0].tolist() == pytest.approx(PARIS)


def test_the_radius_is_the_smallest_readable_step_whose_disc_holds_the_level():
    centre = torch.tensor([[0.0, 0.0]])
    # Points due north at 50, 300 and 3000 km (1 degree of latitude is 111.19 km on this sphere).
    points = torch.tensor([[50 / 111.195, 0.0], [300 / 111.195, 0.0], [3000 / 111.195, 0.0]])
    probs = torch.tensor([[0.5, 0.3, 0.2]])
    mass = mass_by_radius(centre, points, probs)
    assert mass.shape == (1, len(RADII_KM)) and mass[0, -1] == pytest.approx(1.0)
    assert radius_km(mass, 0.5).item() == 50 and radius_km(mass, 0.6).item() == 300
    assert radius_km(mass, 0.81).item() == 3000 and radius_km(mass, 1.0).item() == 3000
    assert RADII_KM[0] == 1 and RADII_KM[-1] == pytest.approx(math.pi * 6371.0)
    assert all(b / a <= 4 / 3 + 1e-9 for a, b in itertools.pairwise(RADII_KM))
    # The same with each row's own points (a FAISS shortlist): (N, G, 2).
    assert torch.equal(mass_by_radius(centre, points[None], probs), mass)
    reach = mass_reaching(centre, torch.tensor([[300 / 111.195, 0.0]]), points, probs)
    assert reach.item() == pytest.approx(0.8)


def test_the_conformal_level_is_the_right_order_statistic():
    scores = torch.arange(1, 11, dtype=torch.float64) / 10  # 0.1 .. 1.0
    assert conformal_level(scores, 0.8) == pytest.approx(0.9)  # ceil(11 * 0.8) = 9th smallest
    assert conformal_level(scores, 0.5) == pytest.approx(0.6)
    assert conformal_level(scores[:3], 0.8) == 1.0  # too few to promise 80 %: the whole posterior


def _posteriors(n: int, gallery: torch.Tensor, seed: int, sharpen: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of ``n`` pictures over ``gallery`` and true places drawn from the *honest* posterior; the logits
    handed out are ``sharpen`` times too confident (a miscalibrated model)."""
    g = torch.Generator().manual_seed(seed)
    centres = gallery[torch.randint(len(gallery), (n,), generator=g)]
    km = haversine_km(centres[:, None, :].double(), gallery[None, :, :].double())
    logits = -km / 800.0
    truth = gallery[torch.multinomial(torch.softmax(logits, dim=1), 1, generator=g)[:, 0]]
    return logits.float() * sharpen, truth


def _coverage(logits: torch.Tensor, gallery: torch.Tensor, truth: torch.Tensor, level: float) -> float:
    from gtloc.retrieval.place_answer import best_places

    best = best_places(gallery, logits)
    radius = radius_km(mass_by_radius(best, gallery, torch.softmax(logits.double(), dim=1)), level)
    return float((haversine_km(best.double(), truth.double()) <= radius.double()).float().mean())


def test_the_fitted_radius_holds_the_truth_as_often_as_it_says_even_for_an_overconfident_model():
    g = torch.Generator().manual_seed(3)
    gallery = torch.stack([torch.rand(400, generator=g) * 120 - 60, torch.rand(400, generator=g) * 360 - 180], 1)
    held_logits, held_truth = _posteriors(300, gallery, seed=1, sharpen=4.0)
    level, best = fit_radius_mass(held_logits, gallery, held_truth, PLACE_COVERAGE)
    assert best.shape == (300, 2) and level > PLACE_COVERAGE  # over-confident: its discs must hold more mass
    test_logits, test_truth = _posteriors(600, gallery, seed=2, sharpen=4.0)
    fitted = _coverage(test_logits, gallery, test_truth, level)
    taken_at_its_word = _coverage(test_logits, gallery, test_truth, PLACE_COVERAGE)
    assert 0.75 <= fitted <= 0.9 and taken_at_its_word < fitted - 0.1


def test_a_calibration_file_keeps_the_radius_level_and_refuses_a_bad_one(tmp_path):
    assert Temperatures().radius_mass == PLACE_COVERAGE == 0.8  # not fitted: the posterior at its word
    Temperatures(place_mass=0.93, fitted_on=50).save(tmp_path)
    loaded = Temperatures.load(tmp_path)
    assert loaded.place_mass == 0.93 and loaded.radius_mass == 0.93 and loaded.place_coverage == 0.8
    (tmp_path / "calibration.json").write_text('{"place_mass": 1.5}')
    with pytest.raises(Exception, match=r"place_mass must be null or a number in \[0, 1\], got 1.5"):
        Temperatures.load(tmp_path)


def test_the_hour_window_grows_around_the_answer_toward_the_likelier_side_and_across_midnight():
    p = torch.zeros(3, 24)
    p[0, [13, 14, 15, 16]] = torch.tensor([0.1, 0.3, 0.2, 0.05])
    p[0, 0] = 0.35
    p[1, [23, 0, 1]] = torch.tensor([0.3, 0.3, 0.4])
    p[2] = 1 / 24
    first, hours, mass = hour_window(p, torch.tensor([14, 0, 9]), 0.5)
    assert (first[0], hours[0]) == (14, 2) and mass[0] == pytest.approx(0.5)  # 14h + the likelier 15h
    assert (first[1], hours[1]) == (0, 2) and mass[1] == pytest.approx(0.7)  # 0h + 1h (0.4 > 0.3)
    assert hours[2] == 12 and mass[2] == pytest.approx(0.5)
    assert hours_text(23, 2) == "23:00-01:00" and hours_text(14, 2) == "14:00-16:00" and hours_text(3, 24) == "any hour"
    all_of_it = hour_window(p[2:], torch.tensor([5]), 1.0)
    assert all_of_it[1].item() == 24 and all_of_it[2].item() == pytest.approx(1.0)


def test_the_window_score_is_the_mass_of_the_first_window_that_holds_the_true_hour():
    p = torch.zeros(1, 24)
    p[0, [13, 14, 15, 16]] = torch.tensor([0.1, 0.3, 0.2, 0.05])
    p[0, 0] = 0.35
    reach = window_mass_reaching(p, torch.tensor([14]), torch.tensor([16]))
    assert reach.item() == pytest.approx(0.65)  # 14h, 15h (0.2 > 0.1), 13h (0.1 > 0.05), then 16h
    assert window_mass_reaching(p, torch.tensor([14]), torch.tensor([14])).item() == pytest.approx(0.3)


def _hour_posteriors(n: int, seed: int, sharpen: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hour posteriors of ``n`` pictures (a bump around a random hour), the true hour drawn from the honest one, and
    the posterior handed out ``sharpen`` times too confident (or flat, below 1); answers are the bumps' peaks."""
    g = torch.Generator().manual_seed(seed)
    peak = torch.randint(24, (n,), generator=g)
    distance = (torch.arange(24)[None, :] - peak[:, None]).remainder(24)
    distance = torch.minimum(distance, 24 - distance).float()
    honest = torch.softmax(-distance / 2.5, dim=1)
    truth = torch.multinomial(honest, 1, generator=g)[:, 0]
    return torch.softmax(-sharpen * distance / 2.5, dim=1), peak, truth


@pytest.mark.parametrize("sharpen", [0.3, 3.0])
def test_the_fitted_hour_window_holds_the_true_hour_as_often_as_it_says(sharpen):
    held, held_peak, held_truth = _hour_posteriors(300, seed=1, sharpen=sharpen)
    level = fit_window_mass(held, held_peak, held_truth, HOUR_COVERAGE)
    test, peak, truth = _hour_posteriors(2000, seed=2, sharpen=sharpen)

    def coverage(mass: float) -> float:
        first, hours, _ = hour_window(test, peak, mass)
        return float(((truth - first) % 24 < hours).float().mean())

    assert 0.45 <= coverage(level) <= 0.6
    assert abs(coverage(HOUR_COVERAGE) - HOUR_COVERAGE) > 0.15  # taken at its word, a miscalibrated one is off


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.3712, "37 %"), (0.032, "3.2 %"), (0.0042, "0.4 %"), (0.00047, "< 0.1 %"), (0.0, "0 %"), (1.0, "100 %")],
)
def test_probabilities_read_as_percentages(p, text):
    assert percent(p) == text


def test_distances_read_as_a_radius():
    assert distance_text(350.0) == "350 km" and distance_text(1900.0) == "1,900 km" and distance_text(1.5) == "1.5 km"
    assert radius_text(2500.0, 0.8) == "80 % within 2,500 km"
    assert radius_text(RADII_KM[-1], 0.8) == "80 %: anywhere on Earth"
