"""Places both ways (GeoNames names <-> coordinates) and the MP-16 coordinate table, all numpy."""

from __future__ import annotations

import numpy as np
import pytest

from gtloc.errors import GtlocError
from gtloc.places import choose_place, find_place, fold, mp16_coordinates, place_names, places_named


def test_mp16_coordinates_are_a_fresh_float32_numpy_copy():
    first = mp16_coordinates()
    assert isinstance(first, np.ndarray) and first.shape == (100_000, 2) and first.dtype == np.float32
    np.testing.assert_allclose(first[0], [-50.943392, -72.935664], rtol=1e-6)
    first[0] = 0.0
    assert mp16_coordinates()[0, 0] != 0.0


def test_forward_then_reverse_lookup_returns_the_same_town():
    oslo = find_place("Oslo")
    assert (oslo.cc, round(oslo.lat, 2), round(oslo.lon, 2)) == ("NO", 59.91, 10.75)
    assert place_names(np.array([[oslo.lat, oslo.lon]])) == [oslo.label]
    assert place_names(np.zeros((0, 2))) == []


def test_names_are_matched_folded_and_through_aliases():
    assert fold(" Zürich ") == "zurich"
    assert {p.cc for p in places_named("ZÜRICH")} >= {"CH"}
    assert places_named("NYC")[0].name == "New York City"
    assert places_named("Qwertzuiopville") == []


def test_homonyms_by_context_word_else_by_prominence():
    paris = places_named("Paris")
    notes: list[str] = []
    assert choose_place(paris, [], notes).cc == "FR" and "most photographed" in notes[0]
    assert choose_place(paris, ["us"]).cc == "US"
    with pytest.raises(GtlocError, match="unknown place 'Xyzzyville'"):
        find_place("Xyzzyville")
