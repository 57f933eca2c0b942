"""The offline text-query parser (GeoNames places, months, seasons, parts of the day) and the CLIP text path."""

from __future__ import annotations

import pytest
import torch

from gtloc.errors import GtlocError
from gtloc.inference.retrieve import CLIP_TEXT, PARSER, GeoTimeRequest, Retriever, search, text_request
from gtloc.inference.textquery import parse_query
from gtloc.model.gtloc import GTLoc
from gtloc.places import find_place
from gtloc.retrieval.image_gallery import ImageGallery
from helpers.tinyclip import PROJECTION_DIM
from helpers.world import tiny_config


def test_the_issue_example_reads_oslo_january_and_dusk_from_the_sun():
    parsed = parse_query("snowy street at dusk in January in Oslo")
    assert (parsed.place.name, parsed.place.cc) == ("Oslo", "NO")
    assert parsed.month == 1
    # Oslo, mid-January: sunset ~15:50, civil dusk ~16:45 local time; "dusk" is halfway between.
    assert 15.9 < parsed.hour < 16.6
    assert any("dusk in Oslo" in note for note in parsed.notes)
    request = text_request(parsed)
    assert (round(request.lat, 2), round(request.lon, 2), request.month) == (59.91, 10.75, 1)


@pytest.mark.parametrize(
    ("text", "hour"),
    [
        ("at 3pm", 15.0),
        ("at 3:30 a.m.", 3.5),
        ("12am", 0.0),
        ("around 15:30", 15.5),
        ("at noon", 12.0),
        ("at night", 23.0),
        ("in the morning", 9.0),
        ("midnight", 0.0),
    ],
)
def test_clock_times_and_parts_of_the_day(text, hour):
    assert parse_query(text).hour == pytest.approx(hour)


def test_seasons_follow_the_hemisphere_of_the_place():
    assert parse_query("beach in summer in Sydney").month == 1
    assert parse_query("beach in summer in Barcelona").month == 7
    winter = parse_query("a winter morning")
    assert winter.month == 1 and any("northern hemisphere assumed" in n for n in winter.notes)


def test_month_words_are_not_places_and_may_needs_a_capital_or_in():
    assert parse_query("streets in May").month == 5
    assert parse_query("you may see a park in Kyoto").month is None
    parsed = parse_query("a square in March in Rome")
    assert parsed.month == 3 and parsed.place.cc == "IT"


def test_snow_means_winter_only_when_no_month_is_named():
    assert parse_query("snowy road in Montreal").month == 1
    assert parse_query("snowy road in Montreal in March").month == 3


def test_homonyms_go_to_the_most_photographed_unless_a_region_or_country_follows():
    paris = parse_query("cafe in Paris")
    assert paris.place.cc == "FR" and any("most photographed" in n for n in paris.notes)
    assert find_place("Paris, US").cc == "US"
    assert find_place("Portland, Oregon").admin1 == "Oregon"
    assert find_place("new york").name == "New York City"


def test_sun_events_in_polar_night_fall_back_to_a_typical_hour():
    parsed = parse_query("harbour at dawn in Tromso in December")
    assert parsed.hour == 6.0 and any("does not rise or set" in n for n in parsed.notes)


def test_text_without_place_or_time_is_explained():
    with pytest.raises(GtlocError, match="could not read a place or a time"):
        text_request(parse_query("a nice picture"))
    with pytest.raises(GtlocError, match="unknown place"):
        find_place("Qwertzuiopville")


# --- search(text=...): the parser path on any model, the CLIP path through the image head ---


def _gallery(model: GTLoc, n: int = 10) -> ImageGallery:
    features = torch.randn(n, model.config.feature_dim, generator=torch.Generator().manual_seed(1))
    latlon = torch.stack([torch.linspace(-50, 60, n), torch.linspace(-170, 170, n)], dim=1)
    times = torch.tensor([[1 + i % 12, 10, i % 24, 0, 0] for i in range(n)], dtype=torch.float32)
    meta = {"model_fingerprint": model.fingerprint()}
    paths = [f"{i}.jpg" for i in range(n)]
    return ImageGallery(paths, features, model.embed_images(features).detach(), latlon, times, None, meta)


def _model(backbone: str, feature_dim: int) -> GTLoc:
    return GTLoc(tiny_config(backbone=backbone, feature_dim=feature_dim))


def test_the_clip_text_tower_goes_through_the_image_head(tiny_clip):
    from gtloc.backbones.clip import ClipBackbone

    model = _model("clip-vit-l-14", PROJECTION_DIM)
    gallery = _gallery(model)
    backbone = ClipBackbone(tiny_clip)
    answer = search(Retriever(model, gallery, backbone=backbone), text="snowy street at dusk", k=4)
    assert answer.answered_by == CLIP_TEXT and answer.parsed is None
    assert answer.describe() == "the CLIP text tower (clip-vit-l-14) through the image head"
    with torch.inference_mode():
        query = model.encode_image(backbone.encode_text(["snowy street at dusk"]))
    expected = (query @ gallery.embeddings.T)[0].topk(4)
    assert answer.hits.indices[0].tolist() == expected.indices.tolist()
    assert torch.allclose(answer.hits.similarities[0], expected.values, atol=1e-5)


def test_without_a_text_tower_the_parser_answers():
    model = _model("toy", 8)
    retriever = Retriever(model, _gallery(model))
    answer = search(retriever, text="harbour at noon in Lisbon", k=3)
    assert answer.answered_by == PARSER and answer.describe().startswith("the offline parser: place Lisbon")
    assert answer.parsed.place.name == "Lisbon" and answer.parsed.hour == 12.0
    lisbon = find_place("Lisbon")
    (expected,) = retriever.composed([GeoTimeRequest(lat=lisbon.lat, lon=lisbon.lon, hour=12.0)], k=3)
    assert torch.equal(answer.hits.indices, expected.indices)  # the composed query of Lisbon at noon, any month
    torch.testing.assert_close(answer.hits.probs, expected.probs)
    with pytest.raises(GtlocError, match="empty"):
        search(Retriever(model, _gallery(model)), text="  ")


@pytest.mark.parametrize(
    "text", ["beach in summer", "snowy street at dusk", "mountain lake at noon", "river bridge at night", "Beach"]
)
def test_scene_words_are_not_towns(text):
    """ "beach in summer" once became Beach, North Dakota: what a picture shows is not where it is."""
    assert parse_query(text).place is None


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("photos taken in Beach", "Beach, North Dakota, US"),
        ("Beach, North Dakota in winter", "Beach, North Dakota, US"),
        ("Paris at dusk", "Paris, Ile-de-France, FR"),
        ("Lake Placid in winter", "Lake Placid, New York, US"),
        ("Salt Lake City at noon", "Salt Lake City, Utah, US"),
        ("street in Paris", "Paris, Ile-de-France, FR"),
    ],
)
def test_a_scene_word_is_a_town_when_the_query_says_so(text, label):
    assert parse_query(text).place.label == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("snowy street at dusk in January in Frankfurt", "Frankfurt am Main, Hesse, DE"),
        ("mountains near Chamonix in July", "Chamonix-Mont-Blanc, Rhone-Alpes, FR"),
        ("the cathedral of Köln at night", "Koeln, North Rhine-Westphalia, DE"),
        ("Cologne in winter", "Koeln, North Rhine-Westphalia, DE"),
        ("a street in NYC at noon", "New York City, New York, US"),
    ],
)
def test_text_queries_read_short_names_other_names_and_abbreviations(text, label):
    assert parse_query(text).place.label == label
