"""The library view of the web app: the photos and estimates on a map, each estimate with its evidence photos."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gtloc.errors import GtlocError
from gtloc.library.fill import fill_library
from gtloc.library.scan import scan_library
from gtloc.web.library import create_library_app
from helpers.cli import run_cli
from helpers.toydata import ToyBackbone
from test_library_fill import make_library


@pytest.fixture
def lib(tmp_path):
    make_library(tmp_path / "photos")
    scan_library(tmp_path / "photos", tmp_path / "lib", backbone=ToyBackbone(), num_workers=0)
    return tmp_path / "lib"


def test_the_page_shows_estimates_with_sources_radii_and_evidence(lib, tmp_path):
    fill_library(lib, tmp_path / "estimates.csv")
    client = TestClient(create_library_app(lib))  # finds the last fill's CSV by itself
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert "45 photos: 40 with a GPS place" in html and "dslr/DSC_0000.JPG" in html
    assert 'class="estimate track"' in html and " km</td>" in html
    assert html.count('class="evidence"') >= 5 and "/photo/" in html and "/thumb" in html
    assert client.get("/map.png").headers["content-type"] == "image/png"
    assert client.get("/photo/0/thumb").headers["content-type"] == "image/jpeg"
    assert client.get("/photo/0").status_code == 200 and client.get("/photo/999").status_code == 404
    estimates = client.get("/api/estimates").json()["estimates"]
    assert {e["source"] for e in estimates} == {"track"}


def test_without_estimates_the_page_says_how_to_make_them(lib):
    html = TestClient(create_library_app(lib)).get("/").text
    assert 'id="no-estimates"' in html and "gtloc library fill" in html


def test_a_photo_moved_out_of_the_library_is_not_served(lib, tmp_path):
    client = TestClient(create_library_app(lib))
    target = tmp_path / "photos" / "phone" / "IMG_0000.JPG"
    target.unlink()
    target.symlink_to(tmp_path / "lib" / "photos.csv")
    rows = (tmp_path / "lib" / "photos.csv").read_text().splitlines()[1:]
    index = next(i for i, row in enumerate(rows) if row.startswith("phone/IMG_0000"))
    assert client.get(f"/photo/{index}").status_code == 403


def test_a_file_that_is_not_an_estimates_csv_is_refused(lib, tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(GtlocError, match="not an estimates CSV"):
        create_library_app(lib, tmp_path / "x.csv")


def test_serve_needs_a_model_or_a_library(monkeypatch, capsys):
    monkeypatch.delenv("GTLOC_CHECKPOINT", raising=False)
    status, _, stderr = run_cli(monkeypatch, capsys, "serve")
    assert status == 2 and "--library LIB" in stderr


def test_beside_a_model_the_view_lives_under_library(lib, tmp_path):
    from fastapi import FastAPI

    fill_library(lib, tmp_path / "estimates.csv")
    main = FastAPI()
    main.mount("/library", create_library_app(lib))
    client = TestClient(main)
    html = client.get("/library/").text
    assert 'src="/library/map.png"' in html and 'href="/library/photo/' in html
    assert client.get("/library/photo/0/thumb").status_code == 200
