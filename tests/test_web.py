"""The web app through its HTTP interface (TestClient): upload analysis, bad uploads, search, gallery pictures."""

from __future__ import annotations

import calendar
import io

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from PIL import ExifTags, Image

from gtloc.model.readouts import READOUT_WORDS
from gtloc.web.app import create_app
from helpers.world import tiny_predictor

LIMIT = 200_000


@pytest.fixture(scope="module")
def client(toy_world):
    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    return TestClient(create_app(predictor, toy_world["gallery"], max_upload_bytes=LIMIT))


def jpeg(exif: Image.Exif | None = None, size=(80, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 160, 220)).save(out, format="JPEG", exif=exif or Image.Exif())
    return out.getvalue()


def oslo_exif(when: str = "2023:01:15 16:30:00") -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (59.0, 54.0, 36.0), 3: "E", 4: (10.0, 45.0, 0.0)}
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: when}
    return exif


def test_home_page_has_the_upload_form_and_no_external_resources(client):
    page = client.get("/")
    assert page.status_code == 200
    assert 'id="upload-form"' in page.text and 'name="photo"' in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/static/style.css").status_code == 200


def test_an_upload_with_exif_shows_places_map_heatmap_and_the_verdict(client):
    page = client.post("/analyze", files={"photo": ("oslo.jpg", jpeg(oslo_exif()), "image/jpeg")})
    assert page.status_code == 200, page.text
    assert 'id="world-map" class="map"' in page.text and 'id="map-data"' in page.text
    for script in ("vendor/leaflet/leaflet.js", "vendor/leaflet.markercluster/leaflet.markercluster.js", "map.js"):
        assert f'src="/static/{script}"' in page.text
    assert page.text.count('class="place"') == 5
    assert page.text.count('<td style="background: rgb(') == 12 * 24 + 6  # the cells and the colour scale
    assert 'id="verdict"' in page.text and "EXIF GPS" in page.text and "2023-01-15 16:30:00" in page.text
    for check in ("clock", "sun", "model"):
        assert f'id="check-{check}"' in page.text
    # Oslo, 15 January 2023, 15:30 UTC: the sun is 4.75 degrees below the horizon.
    assert 'id="sun-at-claim"' in page.text and "<strong>4.8 degrees below the horizon</strong>" in page.text
    for word in ("diagnostic", "sharpness", "credibility"):  # no unexplained words
        assert word not in page.text.lower()


def test_the_json_api_gives_the_same_analysis(client):
    reply = client.post("/api/analyze", files={"photo": ("oslo.jpg", jpeg(oslo_exif()), "image/jpeg")})
    data = reply.json()
    assert reply.status_code == 200
    assert len(data["places"]) == 5 and abs(sum(c["p"] for r in data["heatmap"] for c in r["cells"]) - 1) < 1e-4
    verification = data["verification"]
    assert [c["name"] for c in verification["checks"]] == ["clock", "sun", "model"]
    assert [p["kind"] for p in verification["parts"]] == ["place", "time", "month", "hour"]
    checks = {c["name"]: c for c in verification["checks"]}
    # No GPS time, the sun in civil twilight, a toy model that cannot tell places apart: nothing can be judged.
    assert verification["verdict"] == "cannot judge"
    assert checks["clock"]["verdict"] == "cannot judge" and checks["clock"]["reason"] == "no GPS time in EXIF"
    assert checks["sun"]["verdict"] == "cannot judge" and "(civil twilight)" in checks["sun"]["reason"]
    assert all(c["reason"] in verification["reason"] for c in checks.values())
    assert all(c["reason"] and c["compares"] for c in verification["checks"])
    sun = checks["sun"]
    assert verification["sun"]["sun_elevation_deg"] == sun["figures"]["sun_elevation_deg"]


def test_a_typed_claim_overrides_exif(client):
    reply = client.post(
        "/api/analyze",
        files={"photo": ("p.jpg", jpeg(oslo_exif()), "image/jpeg")},
        data={"lat": "-33.87", "lon": "151.21", "time": "2023-07-01 12:00"},
    )
    claim = reply.json()["verification"]["claim"]
    assert (claim["lat"], claim["lon"], claim["source"]) == (-33.87, 151.21, {"place": "given", "time": "given"})


def test_broken_exif_is_explained_and_the_rest_still_checked(client):
    page = client.post("/analyze", files={"photo": ("b.jpg", jpeg(oslo_exif("2023:13:45 99:30:00")), "image/jpeg")})
    assert page.status_code == 200
    assert "EXIF time: DateTimeOriginal &#39;2023:13:45 99:30:00&#39; is not a valid date and time" in page.text
    assert 'id="verdict"' in page.text


def test_a_photo_without_exif_says_there_is_nothing_to_verify(client):
    page = client.post("/analyze", files={"photo": ("plain.png", jpeg(), "image/png")})
    assert page.status_code == 200
    assert 'id="no-claim"' in page.text and "no GPS position in EXIF" in page.text


@pytest.mark.parametrize(
    ("name", "data", "status", "message"),
    [
        ("notes.txt", b"just some text", 400, "notes.txt is not an image that can be read"),
        ("big.jpg", b"\xff" * (LIMIT + 10), 413, "big.jpg is larger than the 0.2 MB limit"),
        ("empty.jpg", b"", 400, "empty.jpg is empty"),
        ("cut.jpg", jpeg(size=(400, 300))[:600], 400, "cut.jpg is not an image that can be read"),
    ],
)
def test_bad_uploads_get_a_clear_message(client, name, data, status, message):
    page = client.post("/analyze", files={"photo": (name, data, "application/octet-stream")})
    assert page.status_code == status
    assert 'id="error"' in page.text and message in page.text
    reply = client.post("/api/analyze", files={"photo": (name, data, "application/octet-stream")})
    assert reply.status_code == status and message in reply.json()["error"]


def test_an_upload_without_a_file_or_with_a_bad_claim(client):
    assert "no photo in the upload" in client.post("/analyze", data={"lat": "1"}).text
    page = client.post("/analyze", files={"photo": ("p.jpg", jpeg(), "image/jpeg")}, data={"time": "soon"})
    assert page.status_code == 400 and "cannot read the time" in page.text


def test_every_problem_is_reported_at_once_and_the_form_keeps_what_was_typed(client):
    fields = {"lat": "95", "lon": "ten", "time": "soon"}
    page = client.post("/analyze", files={"photo": ("p.jpg", b"", "image/jpeg")}, data=fields)
    assert page.status_code == 400
    assert "4 problems:" in page.text and page.text.count("<li>") == 4
    for problem in (
        "p.jpg is empty",
        "latitude &#39;95&#39;: must be within [-90, 90]",
        "longitude &#39;ten&#39;: not a number",
        "cannot read the time &#39;soon&#39;",
    ):
        assert problem in page.text
    for name, value in fields.items():
        assert f'name="{name}" id="claim-{name}" ' in page.text and f'value="{value}"' in page.text
    assert 'id="photo-again"' in page.text and "Choose the photo again (p.jpg)" in page.text
    reply = client.post("/api/analyze", files={"photo": ("p.jpg", b"", "image/jpeg")}, data=fields)
    assert reply.status_code == 400 and len(reply.json()["errors"]) == 4


def test_the_form_check_answers_every_field_problem_without_a_photo(client):
    assert client.post("/api/check-form", data={"lat": "1", "lon": "2", "time": "2023-01-15 16:30"}).json() == {
        "errors": []
    }
    assert client.post("/api/check-form", data={"lat": "1"}).json()["errors"] == [
        "longitude is missing: give both latitude and longitude (or neither, to check the EXIF place)"
    ]
    errors = client.post("/api/check-form", data={"lat": "x", "lon": "200", "time": "2023-02-30 10:00"}).json()
    assert errors["errors"] == [
        "latitude 'x': not a number",
        "longitude '200': must be within [-180, 180]",
        "cannot read the time '2023-02-30 10:00': day is out of range for month",
    ]


def test_the_map_libraries_and_outlines_are_vendored_served_and_unchanged(client):
    """The map works offline: every vendored file (Leaflet, markercluster, topojson-client, Natural Earth) is
    served from the package, matches the SHA-256 that scripts/vendor_web.py pinned, and ships with its licence."""
    import hashlib
    from pathlib import Path

    vendor = Path(create_app.__code__.co_filename).parent / "static" / "vendor"
    sums = dict(reversed(line.split()) for line in (vendor / "SHA256SUMS").read_text().splitlines())
    assert {name.split("/")[0] for name in sums} == {
        "leaflet",
        "leaflet.markercluster",
        "topojson-client",
        "world-atlas",
    }
    for name, digest in sums.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
        assert client.get(f"/static/vendor/{name}").status_code == 200, name
    assert {"leaflet/LICENSE", "leaflet.markercluster/MIT-LICENCE.txt", "topojson-client/LICENSE"} <= set(sums)
    assert "world-atlas/LICENSE" in sums and "countries-50m.json" in " ".join(sums)


def test_the_package_data_ships_the_vendored_files():
    """pyproject's package-data globs cover every vendored file (a wheel without them draws no map)."""
    import fnmatch
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    globs = re.findall(r'"(web/[^"]+)"', (root / "pyproject.toml").read_text())
    package = root / "src" / "gtloc"
    files = [p.relative_to(package).as_posix() for p in (package / "web").rglob("*") if p.is_file()]
    shipped = [f for f in files if "__pycache__" not in f and not f.endswith(".py")]
    missing = [f for f in shipped if not any(fnmatch.fnmatchcase(f, g) and f.count("/") == g.count("/") for g in globs)]
    assert shipped and missing == []


def test_search_by_place_and_time_and_by_text(client, toy_world):
    page = client.get("/search", params={"place": "Oslo", "month": "1", "hour": "16"})
    assert page.status_code == 200
    assert 'id="answered-by"' in page.text and "composed query: Oslo, Oslo, NO" in page.text
    assert page.text.count('class="result"') == 12
    data = client.get("/api/search", params={"text": "street at dusk in January in Oslo", "k": "3"}).json()
    assert data["answered_by"].startswith("the offline parser") and len(data["results"]) == 3
    first = data["results"][0]
    image = client.get(f"/gallery/{first['index']}/image")
    assert image.status_code == 200 and image.content == toy_world["gallery"].image_path(first["index"]).read_bytes()


def test_search_errors_and_missing_pictures(client):
    page = client.get("/search", params={"place": "Qwertzuiopville"})
    assert page.status_code == 400 and "unknown place" in page.text
    assert client.get("/api/search", params={"lat": "100", "lon": "0"}).status_code == 400
    assert client.get("/gallery/999/image").status_code == 404
    assert client.get("/gallery/-1/image").status_code == 404


def test_without_a_gallery_the_search_page_says_how_to_add_one(toy_world):
    app = create_app(tiny_predictor(toy_world["model"], toy_world["gallery"]))
    page = TestClient(app).get("/search")
    assert 'id="no-gallery"' in page.text and "gtloc index" in page.text


def test_the_page_shows_the_one_best_place_that_predict_gives(client, tmp_path):
    """The best place line, the table's first row and the map are the prediction's one answer (the top distinct
    place, with its radius), the places in the table are distinct, and probabilities read as percentages."""
    from gtloc.geo import haversine_km

    photo = tmp_path / "oslo.jpg"
    photo.write_bytes(jpeg(oslo_exif()))
    data = client.post("/api/analyze", files={"photo": ("oslo.jpg", photo.read_bytes(), "image/jpeg")}).json()
    expected = client.app.state.gtloc.predictor.predict_image(photo, top_k=5)
    lat, lon = expected.latlon[0].tolist()
    best = data["best_place"]
    assert (best["lat"], best["lon"]) == pytest.approx((lat, lon), abs=1e-4)
    assert (data["places"][0]["lat"], data["places"][0]["lon"]) == (best["lat"], best["lon"])
    assert best["radius_km"] == pytest.approx(float(expected.place_radius_km[0]))
    assert best["text"].startswith(f"near {expected.place_name[0]} ({lat:.4f}, {lon:.4f}); p ")
    assert best["text"].endswith(f"80 % within {best['radius_km']:,.0f} km")
    places = [(p["lat"], p["lon"]) for p in data["places"]]
    assert min(haversine_km(a, b) for i, a in enumerate(places) for b in places[i + 1 :]) >= 10
    assert [p["prob"] for p in data["places"]] == sorted((p["prob"] for p in data["places"]), reverse=True)
    page = client.post("/analyze", files={"photo": ("oslo.jpg", photo.read_bytes(), "image/jpeg")}).text
    assert f'id="best-place">{best["text"]}</strong>' in page
    assert all(f">{p['prob_text']}</td>" in page for p in data["places"]) and "%" in data["places"][0]["prob_text"]
    month, hours = data["best_time"].split(", ")  # "July, 14:00-16:00": a month and clock hours, no grid day
    assert month in calendar.month_name[1:] and hours[2:6] == ":00-" and hours.endswith(":00")
    # The claim section's "model's best guess" is the same place (with its radius) and the same time window.
    guess = data["verification"]["best_guess"]
    assert (guess["lat"], guess["lon"]) == pytest.approx((lat, lon), abs=1e-4) and guess["time"] == data["best_time"]
    assert f'id="best-guess">near {guess["near"]} ({guess["radius_text"]}), {data["best_time"]} (read-out' in page
    assert f'id="readout-words">{escape(READOUT_WORDS[data["readout"]])}</span>' in page


def test_a_flat_posterior_looks_flat_and_a_sharp_one_dark_on_the_one_scale():
    import numpy as np

    from gtloc.web.render import heat_color

    def rgb(p):
        return [int(v) for v in heat_color(p)[4:-1].split(", ")]

    flat = np.full(288, 1 / 288)
    assert all(min(rgb(p)) >= 215 for p in flat)  # near white: no cell of a flat posterior looks likely
    assert rgb(0.3) == [165, 15, 21] and rgb(0.9) == [165, 15, 21] and rgb(0.0) == [255, 255, 255]
    assert rgb(0.008)[1] > rgb(0.05)[1] > rgb(0.2)[1]  # more probable, darker
