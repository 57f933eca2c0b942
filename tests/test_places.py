"""Places both ways (GeoNames names <-> coordinates) and the MP-16 coordinate table, all numpy."""

from __future__ import annotations

import numpy as np
import pytest

from gtloc.errors import GtlocError
from gtloc.places import (
    choose_place,
    find_place,
    fold,
    mp16_coordinates,
    place_names,
    places_named,
    short_name,
    suggest_places,
)


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


@pytest.mark.parametrize(
    ("name", "label"),
    [
        # a short name of a town whose GeoNames name is longer
        ("Frankfurt", "Frankfurt am Main, Hesse, DE"),
        ("Chamonix", "Chamonix-Mont-Blanc, Rhone-Alpes, FR"),
        ("Aix", "Aix-en-Provence, Provence-Alpes-Cote d'Azur, FR"),
        ("Mexico", "Mexico City, Mexico City, MX"),
        # English exonyms, endonyms and former names
        ("Cologne", "Koeln, North Rhine-Westphalia, DE"),
        ("Köln", "Koeln, North Rhine-Westphalia, DE"),
        ("München", "Munich, Bavaria, DE"),
        ("Nuremberg", "Nuernberg, Bavaria, DE"),
        ("Praha", "Prague, Praha, CZ"),
        ("Wien", "Vienna, Vienna, AT"),
        ("Venezia", "Venice, Veneto, IT"),
        ("Den Haag", "The Hague, South Holland, NL"),
        ("Kyiv", "Kiev, Kyiv City, UA"),
        ("Bombay", "Mumbai, Maharashtra, IN"),
        ("Peking", "Beijing, Beijing, CN"),
        ("Roma", "Rome, Latium, IT"),  # an alias beats the small towns of that exact name (Roma, AU)
        # abbreviations
        ("NYC", "New York City, New York, US"),
        ("LA", "Los Angeles, California, US"),
        ("DC", "Washington, D.C., Washington, D.C., US"),
        ("St. Gallen", "Sankt Gallen, Saint Gallen, CH"),
        ("Washington, D.C.", "Washington, D.C., Washington, D.C., US"),
    ],
)
def test_common_names_short_names_and_abbreviations_resolve(name, label):
    assert find_place(name).label == label


def test_a_qualifier_word_still_chooses_among_the_short_name_homonyms():
    assert find_place("Frankfurt, Brandenburg").label == "Frankfurt (Oder), Brandenburg, DE"


def test_short_names_keep_generic_first_words_whole():
    assert short_name("Frankfurt am Main") == "frankfurt"
    assert short_name("Halle (Saale)") == "halle"
    assert short_name("Chamonix-Mont-Blanc") == "chamonix"
    assert short_name("Salt Lake City") == "salt lake"
    assert short_name("Saint-Denis") is None and short_name("San Jose") is None and short_name("Oslo") is None


def test_an_unknown_name_gets_the_nearest_known_names_as_suggestions():
    with pytest.raises(GtlocError) as info:
        find_place("Frnkfurt")
    assert str(info.value).startswith(
        "unknown place 'Frnkfurt': not among the GeoNames places with population > 1000; did you mean "
        "'Frankfurt am Main, Hesse, DE'"
    )
    assert suggest_places("Chamonx")[0] == "Chamonix-Mont-Blanc, Rhone-Alpes, FR"
    assert "Oslo, Oslo, NO" in suggest_places("Olso")
