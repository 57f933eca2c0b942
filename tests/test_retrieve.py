"""Image galleries and retrieval: indexing, composed (location + time) -> image, geo-time aware, and the CLI."""

from __future__ import annotations

import json
import re

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gtloc.errors import GtlocError
from gtloc.geo import InvalidCoordinateError
from gtloc.inference.predictor import Predictor
from gtloc.inference.retrieve import (
    COMPOSED,
    GEO_TIME_AWARE,
    PARSER,
    GeoTimeRequest,
    Retriever,
    search,
    time_rows,
)
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.image_gallery import ImageGallery, build_image_gallery
from helpers.cli import run_cli
from helpers.toydata import ToyBackbone, register_backbone
from helpers.world import N_PICTURES, plant_embeddings, tiny_config, tiny_predictor


def test_a_records_gallery_keeps_paths_labels_and_unit_embeddings(toy_world):
    gallery = ImageGallery.open(toy_world["gallery_dir"])
    from gtloc.data.schema import load_records

    records = load_records(toy_world["records"])
    assert gallery.paths == records.paths
    assert torch.allclose(gallery.latlon.double(), torch.from_numpy(records.latlon), atol=1e-4)
    assert torch.allclose(gallery.embeddings.norm(dim=1), torch.ones(len(gallery)), atol=1e-5)
    assert gallery.features.shape == (len(records), ToyBackbone.feature_dim)
    assert gallery.checkpoint == toy_world["run"].resolve()
    assert gallery.image_path(0).is_file()


def test_a_folder_gallery_skips_broken_pictures_with_a_reason(toy_world, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 30), (60 * i, 90, 200)).save(folder / f"p{i}.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    (folder / "notes.txt").write_text("ignored")
    result = build_image_gallery(toy_world["model"], tmp_path / "g", images=folder, backbone=ToyBackbone())
    assert result.gallery.paths == ["p0.jpg", "p1.jpg", "p2.jpg"]
    assert list(result.skipped) == ["broken.jpg"]
    assert "not an image" in result.skipped["broken.jpg"]
    assert torch.isnan(result.gallery.latlon).all() and torch.isnan(result.gallery.times).all()


def test_another_model_is_refused_and_reembedding_fixes_it(toy_world):
    other = GTLoc(tiny_config())
    other.location_encoder.apply(lambda m: torch.nn.init.zeros_(m.bias) if isinstance(m, torch.nn.Linear) else None)
    with pytest.raises(GtlocError, match="index the pictures again with this model"):
        Retriever(other, toy_world["gallery"])
    again = toy_world["gallery"].reembed(toy_world["model"])
    assert torch.allclose(again.embeddings, toy_world["gallery"].embeddings, atol=1e-6)


def test_a_damaged_gallery_is_explained(toy_world, tmp_path):
    with pytest.raises(GtlocError, match=r"gallery\.json is missing"):
        ImageGallery.open(tmp_path)
    (tmp_path / "gallery.json").write_text("{}")
    (tmp_path / "gallery.safetensors").write_bytes(b"junk")
    with pytest.raises(GtlocError, match="not a gtloc gallery"):
        ImageGallery.open(tmp_path)


def test_composed_queries_find_each_picture_when_embeddings_are_ideal(toy_world):
    gallery = plant_embeddings(toy_world["model"], toy_world["gallery"])
    retriever = Retriever(toy_world["model"], gallery)
    hits = retriever.composed_batch(gallery.latlon, gallery.times, k=1)
    assert hits.indices[:, 0].tolist() == list(range(len(gallery)))
    i = 5
    lat, lon = gallery.latlon[i].tolist()
    month, _, hour, minute, _ = gallery.times[i].tolist()
    request = GeoTimeRequest(lat=lat, lon=lon, month=int(month), hour=hour + minute / 60)
    (single,) = retriever.composed([request], k=3)
    assert single.indices[0, 0] == i
    assert torch.all(single.scores[0, :-1] >= single.scores[0, 1:])
    # Probabilities are a softmax over the whole gallery: the top 3 are the first 3 of all, and all sum to 1.
    (everything,) = retriever.composed([request], k=len(gallery))
    assert float(everything.probs.sum()) == pytest.approx(1.0, abs=1e-5)
    assert torch.equal(everything.indices[:, :3], single.indices)
    torch.testing.assert_close(everything.probs[:, :3], single.probs)


def test_open_month_or_hour_is_averaged_over(toy_world):
    assert time_rows(3, 7.5).tolist() == [[3, 15, 7, 30, 0]]
    assert time_rows(None, 12).tolist() == [[m, 15, 12, 0, 0] for m in range(1, 13)]
    assert time_rows(6, None).tolist() == [[6, 15, h, 30, 0] for h in range(24)]
    model, gallery = toy_world["model"], toy_world["gallery"]
    # A gallery holding the mean of June's 24 hours (0), the mean of 7:30 over the months (1), and each June hour
    # alone (2-25): an open hour must find the June mean, an open month the 7:30 mean, not any single time.
    june = torch.tensor([[6, 15, h, 30, 0] for h in range(24)], dtype=torch.float32)
    half_past_seven = torch.tensor([[m, 15, 7, 30, 0] for m in range(1, 13)], dtype=torch.float32)
    with torch.inference_mode():
        emb = gallery.embeddings.clone()
        emb[0] = F.normalize(model.encode_time(june).mean(dim=0), dim=-1)
        emb[1] = F.normalize(model.encode_time(half_past_seven).mean(dim=0), dim=-1)
        emb[2:26] = model.encode_time(june)
    planted = ImageGallery(
        gallery.paths, gallery.features, emb, gallery.latlon, gallery.times, gallery.images_root, gallery.meta
    )
    by_month, by_hour = Retriever(model, planted).composed([GeoTimeRequest(month=6), GeoTimeRequest(hour=7.5)], k=2)
    assert by_month.indices[0, 0] == 0 and by_month.scores[0, 0] > by_month.scores[0, 1]
    assert by_hour.indices[0, 0] == 1 and by_hour.scores[0, 0] > by_hour.scores[0, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lat": 10.0}, "give both lat and lon"),
        ({"lat": 95.0, "lon": 0.0}, "lat"),
        ({"month": 13}, "month must be a whole number 1-12"),
        ({"hour": 24.0}, r"hour must be in \[0, 24\)"),
        ({}, "needs a place"),
    ],
)
def test_bad_requests_say_what_is_wrong(kwargs, message):
    with pytest.raises(GtlocError, match=message):
        GeoTimeRequest(**kwargs)


def test_a_bad_coordinate_in_a_request_keeps_its_type_and_field():
    with pytest.raises(InvalidCoordinateError) as info:
        GeoTimeRequest(lat=95.0, lon=0.0)
    assert (info.value.field, info.value.value, info.value.where) == ("lat", 95.0, "request")


def test_geo_time_aware_finds_the_place_at_the_target_time_and_leaves_the_query_out(toy_world):
    gallery = plant_embeddings(toy_world["model"], toy_world["gallery"])
    model = toy_world["model"]
    # With a one-entry GPS gallery the predicted place is exactly that entry, so the query becomes the composed
    # query for picture 7's place and time: picture 7 must come first, unless it is the query picture itself.
    one_place = Retriever(model, gallery, Predictor(model, gps_gallery=gallery.latlon[7:8]))
    with torch.inference_mode():
        expected = model.encode_location(gallery.latlon[7:8])
    assert torch.allclose(one_place.place_embedding(gallery.embeddings[:1]), expected, atol=1e-5)
    hits = one_place.geo_time_aware(gallery.embeddings[:1], gallery.times[7:8], k=3, place="predicted")
    assert hits.indices[0, 0] == 7
    excluded = one_place.geo_time_aware(
        gallery.embeddings[:1], gallery.times[7:8], k=3, place="predicted", exclude=torch.tensor([7])
    )
    assert 7 not in excluded.indices[0].tolist()
    # place="image" takes the picture's own embedding as its place: one on picture 7's location embedding (where
    # image-GPS training pulls it) at picture 7's time is again exactly picture 7's planted embedding.
    retriever = Retriever(model, gallery, tiny_predictor(model, gallery))
    by_image = retriever.geo_time_aware(expected, gallery.times[7:8], k=5, place="image")
    assert by_image.indices[0, 0] == 7
    with pytest.raises(GtlocError, match="place must be one of"):
        retriever.geo_time_aware(expected, gallery.times[7:8], place="oracle")


def test_cli_index_then_retrieve_by_place_time_and_text(toy_world, tmp_path, monkeypatch, capsys):
    out = tmp_path / "g"
    code, text, err = run_cli(
        monkeypatch, capsys, "index", "--records", toy_world["records"], "--features", toy_world["features"],
        "--checkpoint", toy_world["run"], "--out", out, "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert f"indexed {N_PICTURES} pictures" in text
    code, text, err = run_cli(
        monkeypatch, capsys, "retrieve", "--gallery", out, "--lat", "59.9", "--lon", "10.7", "--month", "1",
        "--hour", "16", "--top-k", "3", "--json", tmp_path / "r.json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["results"]) == 3 and data["results"][0]["rank"] == 1
    assert data["results"][0]["path"] in text
    code, text, err = run_cli(monkeypatch, capsys, "retrieve", "--gallery", out, "--place", "Oslo", "--top-k", "2")
    assert code == 0, err
    assert "Oslo, Oslo, NO" in text
    code, text, err = run_cli(
        monkeypatch, capsys, "retrieve", "--gallery", out, "--text", "snowy street at dusk in January in Oslo"
    )
    assert code == 0, err
    assert "answered by: the offline parser" in text and "month January" in text


def test_cli_retrieve_place_by_its_short_name(toy_world, monkeypatch, capsys):
    code, text, err = run_cli(
        monkeypatch, capsys, "retrieve", "--gallery", toy_world["gallery_dir"], "--place", "Frankfurt"
    )
    assert code == 0, err
    assert "answered by: composed query: Frankfurt am Main, Hesse, DE" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--lat", "1", "--lon", "2", "--text", "x"],
            "give one query: text, photo, place or lat/lon, not text and lat/lon",
        ),
        ([], "a request needs a place (lat/lon) or a time (month and/or hour)"),
        (["--place", "Nowhereville Xyzzy"], "unknown place"),
        (["--place", "Chamonx"], "did you mean 'Chamonix-Mont-Blanc, Rhone-Alpes, FR'"),
        (["--lat", "1", "--lon", "2", "--month", "0"], "month must be"),
    ],
)
def test_cli_retrieve_errors(toy_world, monkeypatch, capsys, args, message):
    code, _, err = run_cli(monkeypatch, capsys, "retrieve", "--gallery", toy_world["gallery_dir"], *args)
    assert code == 2
    assert message in err


def test_cli_geo_time_aware_from_a_photo(toy_world, monkeypatch, capsys):
    register_backbone(monkeypatch, ToyBackbone())
    photo = toy_world["gallery"].image_path(2)
    code, text, err = run_cli(
        monkeypatch, capsys, "retrieve", "--gallery", toy_world["gallery_dir"], "--image", photo, "--month", "7",
        "--hour", "12", "--top-k", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "pictures of the place of" in text and "July | 12:00" in text
    assert len([line for line in text.splitlines() if line.strip().startswith(("1 ", "2 "))]) == 2


# --- search: the one query dispatch behind `gtloc retrieve` and the web's search page ---


def test_search_answers_a_place_name_and_a_time_with_the_composed_query(toy_world):
    retriever = Retriever(toy_world["model"], toy_world["gallery"])
    found = search(retriever, place="Oslo", month=1, hour=16, k=4)
    assert found.answered_by == COMPOSED and found.place.label == "Oslo, Oslo, NO"
    request = GeoTimeRequest(found.place.lat, found.place.lon, 1, 16, "Oslo, Oslo, NO")
    assert found.request == request
    assert torch.equal(found.hits.indices, retriever.composed([request], 4)[0].indices)
    assert found.rows == retriever.rows(found.hits)
    assert found.describe() == f"composed query: Oslo, Oslo, NO | {request.describe()}"
    time_only = search(retriever, month=7, k=3)
    assert time_only.answered_by == COMPOSED and not time_only.request.has_place
    assert time_only.describe() == "composed query: July" and len(time_only.rows) == 3
    by_text = search(retriever, text="harbour at noon in Lisbon", k=2)
    assert by_text.answered_by == PARSER and by_text.request.month is None and by_text.request.hour == 12.0


def test_search_with_a_photo_finds_its_place_at_the_target_time(toy_world):
    backbone = ToyBackbone()
    retriever = Retriever(toy_world["model"], toy_world["gallery"], backbone=backbone)
    photo = toy_world["gallery"].image_path(5)
    found = search(retriever, photo=photo, month=3, hour=9.5, k=3)
    assert found.answered_by == GEO_TIME_AWARE and found.request.describe() == "March | 09:30"
    features = torch.stack([backbone.preprocess(Image.open(photo).convert("RGB"))])
    expected = retriever.geo_time_aware(
        toy_world["model"].embed_images(backbone.encode_images(features)).detach(), time_rows(3, 9.5), 3
    )
    assert torch.equal(found.hits.indices, expected.indices)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"text": "Oslo", "lat": 1.0, "lon": 2.0},
            "give one query: text, photo, place or lat/lon, not text and lat/lon",
        ),
        ({"place": "Oslo", "lat": 0.0, "lon": 0.0}, "not place and lat/lon"),
        ({"text": "Oslo", "month": 1}, "a text query carries its own time"),
        ({"photo": "x.jpg", "month": 1}, "a photo query needs a target month and hour"),
        ({}, "a request needs a place"),
        ({"month": 1, "k": 0}, "k must be >= 1, got 0"),
    ],
)
def test_search_says_what_is_wrong_with_a_query(toy_world, kwargs, message):
    with pytest.raises(GtlocError, match=re.escape(message)):
        search(Retriever(toy_world["model"], toy_world["gallery"]), **kwargs)


@pytest.mark.parametrize(
    ("when", "described"), [(["--month", "1"], "January"), (["--month", "1", "--hour", "12"], "January | 12:00")]
)
def test_cli_retrieve_by_time_only(toy_world, monkeypatch, capsys, when, described):
    code, text, err = run_cli(
        monkeypatch, capsys, "retrieve", "--gallery", toy_world["gallery_dir"], *when, "--top-k", "2"
    )
    assert code == 0, err
    assert text.splitlines()[0] == f"answered by: composed query: {described}"
    assert len([line for line in text.splitlines() if line.strip().startswith(("1 ", "2 "))]) == 2
